#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

namespace {

nlohmann::json customizationView(ApiContext& ctx, const CustomizationRecord& r) {
  auto j = toJson(r);
  auto users = ctx.customizations.usedBy(r.name);
  j["used_by"] = users ? *users : std::vector<std::string>{};
  return j;
}

// {"name"?, "description"?, "yaml"}: the spec as YAML text (what `--file` holds).
void saveRoute(ApiContext& ctx, const http::Request& req, const std::string* existing,
               http::Exchange& ex) {
  auto body = parseBody(req);
  if (!body) return respondError(ex, body.error());
  if (auto s = onlyFields(*body, {"name", "description", "yaml"}); !s)
    return respondError(ex, s.error());
  auto name = stringField(*body, "name", existing == nullptr);
  if (!name) return respondError(ex, name.error());
  if (existing && !name->empty() && *name != *existing)
    return respondError(
        ex, makeError(Errc::invalid_argument,
                      "field 'name' cannot change (delete and create instead)", "name"));
  auto description = stringField(*body, "description", false);
  if (!description) return respondError(ex, description.error());
  auto yaml = stringField(*body, "yaml", true);
  if (!yaml) return respondError(ex, yaml.error());
  auto r = existing ? ctx.customizations.replace(*existing, *description, *yaml)
                    : ctx.customizations.create(*name, *description, *yaml);
  if (!r) return respondError(ex, r.error());
  respondJson(ex, existing ? 200 : 201, customizationView(ctx, *r));
}

}  // namespace

void addCustomizationRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/customizations", "List guest customization specs",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                auto all = ctx.customizations.list();
                if (!all) return respondError(ex, all.error());
                nlohmann::json out = nlohmann::json::array();
                for (const auto& r : *all) out.push_back(customizationView(ctx, r));
                respondJson(ex, 200, {{"customizations", out}});
              }});
  router.add({"GET", "/v1/customizations/{name}", "Show a customization spec and its VMs",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto r = ctx.customizations.get(p.at("name"));
                if (!r) return respondError(ex, r.error());
                respondJson(ex, 200, customizationView(ctx, *r));
              }});
  router.add({"POST", "/v1/customizations",
              "Create a customization spec: {\"name\", \"description\", \"yaml\"}",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                saveRoute(ctx, req, nullptr, ex);
              }});
  router.add({"PUT", "/v1/customizations/{name}",
              "Replace a customization spec (VMs use it from their next start): "
              "{\"description\", \"yaml\"}",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                std::string name = p.at("name");
                saveRoute(ctx, req, &name, ex);
              }});
  router.add({"DELETE", "/v1/customizations/{name}",
              "Delete a customization spec (refused while VMs use it)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                if (auto s = ctx.customizations.remove(p.at("name")); !s)
                  return respondError(ex, s.error());
                respondJson(ex, 200, {{"deleted", p.at("name")}});
              }});
}

}  // namespace paddock::api
