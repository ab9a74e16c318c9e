#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

namespace {

nlohmann::json templateView(ApiContext& ctx, const TemplateRecord& t) {
  auto j = toJson(t);
  auto clones = ctx.templates.linkedClones(t.name);
  j["linked_clones"] = clones ? *clones : std::vector<std::string>{};
  return j;
}

}  // namespace

void addTemplateRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/templates", "List templates",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                auto all = ctx.templates.list();
                if (!all) return respondError(ex, all.error());
                nlohmann::json out = nlohmann::json::array();
                for (const auto& t : *all) out.push_back(templateView(ctx, t));
                respondJson(ex, 200, {{"templates", out}});
              }});
  router.add({"GET", "/v1/templates/{name}", "Show a template and its linked clones",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto t = ctx.templates.get(p.at("name"));
                if (!t) return respondError(ex, t.error());
                respondJson(ex, 200, templateView(ctx, *t));
              }});
  router.add(
      {"POST", "/v1/templates",
       "Make a template from a stopped VM (operation): {\"name\", \"from_vm\", \"description\"}",
       [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
         auto body = parseBody(req);
         if (!body) return respondError(ex, body.error());
         if (auto s = onlyFields(*body, {"name", "from_vm", "description", "snapshot"}); !s)
           return respondError(ex, s.error());
         auto name = stringField(*body, "name", true);
         if (!name) return respondError(ex, name.error());
         auto from = stringField(*body, "from_vm", true);
         if (!from) return respondError(ex, from.error());
         auto description = stringField(*body, "description", false);
         if (!description) return respondError(ex, description.error());
         // Refuse now what the operation would refuse, so callers get a 4xx, not a failed job.
         auto snapshot = boolField(*body, "snapshot", false);
         if (!snapshot) return respondError(ex, snapshot.error());
         if (auto s = ctx.templates.checkCreate(*name, *from, *description, *snapshot); !s)
           return respondError(ex, s.error());
         auto op = ctx.operations.start(
             "template.create", "template/" + *name,
             [&ctx, name = *name, from = *from, description = *description,
              snapshot = *snapshot](OperationContext& oc) -> Result<nlohmann::json> {
               auto t = ctx.templates.create(name, from, description, snapshot, &oc);
               if (!t) return t.error();
               return toJson(*t);
             });
         respondJson(ex, 202, toJson(op));
       }});
  router.add({"DELETE", "/v1/templates/{name}",
              "Delete a template (refused while linked clones depend on it)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                if (auto s = ctx.templates.remove(p.at("name")); !s)
                  return respondError(ex, s.error());
                respondJson(ex, 200, {{"deleted", p.at("name")}});
              }});
  router.add(
      {"POST", "/v1/templates/{name}/deploy",
       "Deploy a VM from a template (operation): {\"name\", \"linked\": true|false, and any of "
       "vcpus, memory_mib, nics, cmdline, description, labels, resources, accel}",
       [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
         auto body = parseBody(req);
         if (!body) return respondError(ex, body.error());
         auto vmName = stringField(*body, "name", true);
         if (!vmName) return respondError(ex, vmName.error());
         bool linked = true;
         if (body->contains("linked")) {
           if (!(*body)["linked"].is_boolean())
             return respondError(ex, makeError(Errc::invalid_argument,
                                               "field 'linked' must be a boolean", "linked"));
           linked = (*body)["linked"].get<bool>();
         }
         nlohmann::json overrides = *body;
         overrides.erase("name");
         overrides.erase("linked");
         std::string name = p.at("name");
         if (auto plan = ctx.templates.planDeploy(name, *vmName, linked, overrides); !plan)
           return respondError(ex, plan.error());
         auto op = ctx.operations.start(
             "vm.deploy", "vm/" + *vmName,
             [&ctx, name, vmName = *vmName, linked,
              overrides](OperationContext& oc) -> Result<nlohmann::json> {
               auto rec = ctx.templates.deploy(name, vmName, linked, overrides, &oc);
               if (!rec) return rec.error();
               return toJson(*rec);
             });
         respondJson(ex, 202, toJson(op));
       }});
}

}  // namespace paddock::api
