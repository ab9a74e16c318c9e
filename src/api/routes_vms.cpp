#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

void addVmRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/vms", "List VMs",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                auto all = ctx.vms.list();
                if (!all) return respondError(ex, all.error());
                nlohmann::json out = nlohmann::json::array();
                for (const auto& r : *all) out.push_back(toJson(r));
                respondJson(ex, 200, {{"vms", out}});
              }});
  router.add({"POST", "/v1/vms", "Define a VM",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                auto spec = vmSpecFromJson(*body);
                if (!spec) return respondError(ex, spec.error());
                respondResult(ex, ctx.vms.create(*spec), 201);
              }});
  router.add({"GET", "/v1/vms/{name}", "Show a VM (with per-NIC traffic counters in nic_stats)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto vm = ctx.vms.get(p.at("name"));
                if (!vm) return respondError(ex, vm.error());
                auto j = toJson(*vm);
                j["nic_stats"] = ctx.networks.nicStats(vm->spec);
                respondJson(ex, 200, j);
              }});
  router.add({"PATCH", "/v1/vms/{name}", "Edit a VM (hardware only while stopped)",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                respondResult(ex, ctx.vms.update(p.at("name"), *body));
              }});
  router.add({"DELETE", "/v1/vms/{name}", "Delete a VM and its disks (?force=true if running)",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto s = ctx.vms.remove(p.at("name"), queryFlag(req, "force"));
                if (!s) return respondError(ex, s.error());
                respondJson(ex, 200, {{"deleted", p.at("name")}});
              }});
}

}  // namespace paddock::api
