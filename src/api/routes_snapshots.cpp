#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

namespace {

nlohmann::json treeView(const SnapshotTree& tree) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : tree.snapshots) {
    auto j = toJson(s);
    j["current"] = s.name == tree.current;
    nlohmann::json children = nlohmann::json::array();
    for (const auto& c : tree.snapshots)
      if (c.parent == s.name) children.push_back(c.name);
    j["children"] = children;
    list.push_back(j);
  }
  return {{"snapshots", list}, {"current", tree.current}};
}

}  // namespace

void addSnapshotRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/vms/{name}/snapshots", "A VM's snapshot tree",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto tree = ctx.snapshots.list(p.at("name"));
                if (!tree) return respondError(ex, tree.error());
                respondJson(ex, 200, treeView(*tree));
              }});
  router.add({"GET", "/v1/vms/{name}/snapshots/{snapshot}", "One snapshot",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto s = ctx.snapshots.get(p.at("name"), p.at("snapshot"));
                if (!s) return respondError(ex, s.error());
                respondJson(ex, 200, toJson(*s));
              }});
  router.add({"POST", "/v1/vms/{name}/snapshots",
              "Take a snapshot (operation): {\"name\", \"description\", \"memory\": bool}",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(*body, {"name", "description", "memory"}); !s)
                  return respondError(ex, s.error());
                auto name = stringField(*body, "name", true);
                if (!name) return respondError(ex, name.error());
                auto description = stringField(*body, "description", false);
                if (!description) return respondError(ex, description.error());
                if (body->contains("memory") && !(*body)["memory"].is_boolean())
                  return respondError(ex, makeError(Errc::invalid_argument,
                                                    "field 'memory' must be a boolean", "memory"));
                bool memory = body->value("memory", false);
                std::string vm = p.at("name");
                if (auto s = ctx.snapshots.checkCreate(vm, *name, *description, memory); !s)
                  return respondError(ex, s.error());
                auto op = ctx.operations.start(
                    "vm.snapshot", "vm/" + vm,
                    [&ctx, vm, name = *name, description = *description,
                     memory](OperationContext& oc) -> Result<nlohmann::json> {
                      auto s = ctx.snapshots.create(vm, name, description, memory, &oc);
                      if (!s) return s.error();
                      return toJson(*s);
                    });
                respondJson(ex, 202, toJson(op));
              }});
  router.add({"POST", "/v1/vms/{name}/snapshots/{snapshot}/revert",
              "Revert to a snapshot (operation); a disk-only one powers a running VM off",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                std::string vm = p.at("name"), name = p.at("snapshot");
                if (auto s = ctx.snapshots.get(vm, name); !s) return respondError(ex, s.error());
                auto op = ctx.operations.start(
                    "vm.revert", "vm/" + vm,
                    [&ctx, vm, name](OperationContext& oc) -> Result<nlohmann::json> {
                      bool poweredOff = false;
                      auto s = ctx.snapshots.revert(vm, name, &oc, &poweredOff);
                      if (!s) return s.error();
                      auto j = toJson(*s);
                      j["powered_off"] = poweredOff;
                      return j;
                    });
                respondJson(ex, 202, toJson(op));
              }});
  router.add({"DELETE", "/v1/vms/{name}/snapshots/{snapshot}",
              "Delete a snapshot; its children move to its parent",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                if (auto s = ctx.snapshots.remove(p.at("name"), p.at("snapshot")); !s)
                  return respondError(ex, s.error());
                respondJson(ex, 200, {{"deleted", p.at("snapshot")}});
              }});
}

}  // namespace paddock::api
