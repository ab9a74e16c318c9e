#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"
#include "directory_file/apply_request.h"
#include "services/directory/apply_service.h"

namespace paddock::api {

void addApplyRoutes(Router& router, ApiContext& ctx) {
  router.add({"POST", "/v1/apply",
              "Converge the networks and VMs of a directory: dry_run returns the plan (200), "
              "otherwise an operation (202)",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                bool waitReady = true;
                if (body->contains("wait_ready")) {
                  if (!(*body)["wait_ready"].is_boolean())
                    return respondError(
                        ex, makeError(Errc::invalid_argument,
                                      "field 'wait_ready' must be a boolean", "wait_ready"));
                  waitReady = (*body)["wait_ready"].get<bool>();
                  body->erase("wait_ready");
                }
                auto desired = desiredFromApplyRequest(*body);
                if (!desired) return respondError(ex, desired.error());
                auto apply = std::make_shared<ApplyService>(ctx.vms, ctx.networks, ctx.templates);
                if (auto s = apply->resolveTemplates(desired->vms); !s)
                  return respondError(ex, s.error());
                auto plan = apply->plan(desired->name, desired->managesNetworks, desired->networks,
                                        desired->vms);
                if (!plan) return respondError(ex, plan.error());
                // Every VM must fit the host and find its image before anything changes.
                for (const auto& d : desired->vms) {
                  if (auto s = validateVmSpec(d.spec, &ctx.vms.config().host); !s)
                    return respondError(
                        ex, makeError(s.error().code,
                                      fmt::format("VM '{}': {}", d.spec.name, s.error().message),
                                      "vms." + d.spec.name + "." + s.error().field));
                }
                if (body->value("dry_run", false) || plan->nothingToDo())
                  return respondJson(ex, 200, {{"plan", toJson(*plan)}});
                auto op = ctx.operations.start(
                    "apply", "directory/" + desired->name,
                    [apply, plan = *plan, desired = desired->vms, waitReady](OperationContext& oc) {
                      return apply->execute(plan, desired, waitReady, oc);
                    });
                auto j = toJson(op);
                j["plan"] = toJson(*plan);
                respondJson(ex, 202, j);
              }});
}

}  // namespace paddock::api
