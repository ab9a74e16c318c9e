#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"
#include "common/units.h"

namespace paddock::api {

namespace {

void respondOperation(http::Exchange& ex, const Operation& op) {
  respondJson(ex, 202, toJson(op));
}

// Refuses at once what the operation would refuse anyway, so callers get a 4xx, not a failed job.
Status precheck(ApiContext& ctx, const std::string& name, const std::string& action) {
  auto rec = ctx.vms.get(name);
  if (!rec) return rec.error();
  VmState s = rec->runtime.state;
  if (action == "start" && hasProcess(s))
    return makeError(Errc::conflict, fmt::format("VM '{}' is already {}", name, vmStateName(s)));
  if (action == "start") PADDOCK_TRY(ctx.vms.admissible(rec->spec));
  if (action == "shutdown" && s != VmState::running && s != VmState::paused)
    return makeError(Errc::conflict,
                     fmt::format("cannot shut down VM '{}': it is {}", name, vmStateName(s)));
  return {};
}

}  // namespace

void addVmActionRoutes(Router& router, ApiContext& ctx) {
  router.add(
      {"POST", "/v1/vms/{name}/actions/start",
       "Start a VM (operation); {\"wait_ready\": true} waits for the guest's readiness line",
       [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
         auto body = parseBody(req);
         if (!body) return respondError(ex, body.error());
         if (auto s = onlyFields(*body, {"wait_ready", "ready_timeout_s"}); !s)
           return respondError(ex, s.error());
         std::string name = p.at("name");
         if (auto s = precheck(ctx, name, "start"); !s) return respondError(ex, s.error());
         bool waitReady = body->value("wait_ready", false);
         int readyTimeout = body->value("ready_timeout_s", 120);
         auto op = ctx.operations.start(
             "vm.start", "vm/" + name,
             [&ctx, name, waitReady, readyTimeout](OperationContext& oc) -> Result<nlohmann::json> {
               auto r = ctx.vms.start(name, &oc);
               if (!r) return r.error();
               if (waitReady) {
                 oc.progress(60, "waiting for the guest's readiness line");
                 r = ctx.vms.waitReady(name, std::chrono::seconds(readyTimeout));
                 if (!r) return r.error();
               }
               return toJson(*r);
             });
         respondOperation(ex, op);
       }});
  router.add({"POST", "/v1/vms/{name}/actions/shutdown",
              "Gracefully shut down (ACPI), forcing off after timeout_s (operation)",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(*body, {"timeout_s"}); !s)
                  return respondError(ex, s.error());
                auto timeout = ctx.vms.config().defaultShutdownTimeout;
                if (body->contains("timeout_s")) {
                  const auto& t = (*body)["timeout_s"];
                  if (!t.is_number_integer() || t.get<int64_t>() < 0)
                    return respondError(
                        ex, makeError(Errc::invalid_argument,
                                      "timeout_s must be a non-negative integer", "timeout_s"));
                  timeout = std::chrono::seconds(t.get<int64_t>());
                }
                std::string name = p.at("name");
                if (auto s = precheck(ctx, name, "shutdown"); !s)
                  return respondError(ex, s.error());
                auto op = ctx.operations.start(
                    "vm.shutdown", "vm/" + name,
                    [&ctx, name, timeout](OperationContext& oc) -> Result<nlohmann::json> {
                      auto r = ctx.vms.shutdown(name, timeout, &oc);
                      if (!r) return r.error();
                      return toJson(*r);
                    });
                respondOperation(ex, op);
              }});
  router.add({"POST", "/v1/vms/{name}/actions/suspend",
              "Save the running state to a file and end QEMU (operation); resume continues",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                std::string name = p.at("name");
                auto rec = ctx.vms.get(name);
                if (!rec) return respondError(ex, rec.error());
                VmState s = rec->runtime.state;
                if (s != VmState::running && s != VmState::paused)
                  return respondError(
                      ex, makeError(Errc::conflict, fmt::format("cannot suspend VM '{}': it is {}",
                                                                name, vmStateName(s))));
                auto op = ctx.operations.start(
                    "vm.suspend", "vm/" + name,
                    [&ctx, name](OperationContext& oc) -> Result<nlohmann::json> {
                      auto r = ctx.vms.suspend(name, &oc);
                      if (!r) return r.error();
                      return toJson(*r);
                    });
                respondOperation(ex, op);
              }});
  using Action = Result<VmRecord> (VmService::*)(const std::string&);
  const std::pair<const char*, Action> quick[] = {
      {"stop", &VmService::stop}, {"reboot", &VmService::reboot}, {"pause", &VmService::pause}};
  for (const auto& [verb, action] : quick) {
    router.add(
        {"POST", fmt::format("/v1/vms/{{name}}/actions/{}", verb), fmt::format("{} a VM", verb),
         [&ctx, action = action](const http::Request& req, const Params& p, http::Exchange& ex) {
           auto body = parseBody(req);
           if (!body) return respondError(ex, body.error());
           if (auto s = onlyFields(*body, {}); !s) return respondError(ex, s.error());
           respondResult(ex, (ctx.vms.*action)(p.at("name")));
         }});
  }
  router.add({"POST", "/v1/vms/{name}/actions/resume",
              "resume a VM (force: also one whose state a live migration sent away)",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(*body, {"force"}); !s) return respondError(ex, s.error());
                const auto& force = body->value("force", nlohmann::json(false));
                if (!force.is_boolean())
                  return respondError(
                      ex, makeError(Errc::invalid_argument, "force must be a boolean", "force"));
                respondResult(ex, ctx.vms.resume(p.at("name"), force.get<bool>()));
              }});
}

}  // namespace paddock::api
