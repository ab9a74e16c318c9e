#include "services/directory/apply_service.h"

#include <set>

#include <fmt/format.h>

namespace paddock {

namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(120);

Error inStep(const std::string& vm, const char* what, const Error& e) {
  return makeError(e.code, fmt::format("{} {}: {}", what, vm, e.message), e.field);
}

}  // namespace

Status ApplyService::resolveTemplates(std::vector<DesiredVm>& vms) {
  for (auto& d : vms) {
    if (d.spec.templateName.empty()) continue;
    std::set<std::string> set;
    for (const auto& [field, line] : d.fieldLines)
      set.insert(field.substr(0, field.find_first_of(".[")));
    auto resolved = templates_.resolve(d.spec, set);
    if (!resolved)
      return makeError(resolved.error().code,
                       fmt::format("VM '{}': {}", d.spec.name, resolved.error().message),
                       "vms." + d.spec.name + ".template");
    d.spec = std::move(*resolved);
  }
  return {};
}

Result<Plan> ApplyService::plan(const std::string& directory, bool managesNetworks,
                                const std::vector<DesiredNetwork>& networks,
                                const std::vector<DesiredVm>& vms) {
  auto currentNetworks = networks_.specs();
  if (!currentNetworks) return currentNetworks.error();
  // A file without `networks:` leaves every network out of the plan.
  if (!managesNetworks) currentNetworks->clear();
  auto currentVms = vms_.list();
  if (!currentVms) return currentVms.error();
  return computePlan(directory, networks, vms, *currentNetworks, *currentVms);
}

Result<nlohmann::json> ApplyService::execute(const Plan& plan,
                                             const std::vector<DesiredVm>& desired, bool waitReady,
                                             OperationContext& op) {
  std::map<std::string, const DesiredVm*> byName;
  for (const auto& d : desired) byName[d.spec.name] = &d;
  auto timeout = vms_.config().defaultShutdownTimeout;
  std::vector<std::string> toStart;
  nlohmann::json done = nlohmann::json::array();
  PlanCounts counts = plan.counts();
  size_t total = plan.steps.size() + counts.networkCreate + counts.networkDestroy, index = 0;
  auto next = [&](const std::string& what) -> Status {
    ++index;
    if (op.cancelled()) return makeError(Errc::conflict, "apply cancelled");
    op.progress(static_cast<int>(80 * index / std::max<size_t>(total, 1)), what);
    return {};
  };
  for (const auto& n : plan.networks) {
    if (n.action != NetworkAction::create) continue;
    PADDOCK_TRY(next("create network " + n.network));
    if (auto r = networks_.create(n.spec); !r)
      return inStep(n.network, "create network", r.error());
    done.push_back({{"network", n.network}, {"action", networkActionName(n.action)}});
  }
  for (const auto& step : plan.steps) {
    PADDOCK_TRY(next(fmt::format("{} {}", planActionName(step.action), step.vm)));
    bool wantRunning = step.targetState && *step.targetState == VmState::running;
    bool wantStopped = step.targetState && *step.targetState == VmState::stopped;
    switch (step.action) {
      case PlanAction::delete_vm:
        if (auto s = vms_.remove(step.vm, true); !s) return inStep(step.vm, "delete", s.error());
        break;
      case PlanAction::stop:
        if (auto r = vms_.shutdown(step.vm, timeout); !r)
          return inStep(step.vm, "shut down", r.error());
        break;
      case PlanAction::create: {
        const VmSpec& spec = byName.at(step.vm)->spec;
        auto r = spec.templateName.empty() ? vms_.create(spec) : templates_.deploySpec(spec, &op);
        if (!r) return inStep(step.vm, "create", r.error());
        if (wantRunning) toStart.push_back(step.vm);
        break;
      }
      case PlanAction::update:
      case PlanAction::restart_update: {
        auto current = vms_.get(step.vm);
        if (!current) return inStep(step.vm, "update", current.error());
        bool running = hasProcess(current->runtime.state);
        if (step.action == PlanAction::restart_update && running) {
          if (auto r = vms_.shutdown(step.vm, timeout); !r)
            return inStep(step.vm, "shut down", r.error());
          running = false;
        }
        nlohmann::json patch = nlohmann::json::object();
        for (const auto& c : step.changes) patch[c.field] = c.to;
        if (auto r = vms_.update(step.vm, patch); !r) return inStep(step.vm, "update", r.error());
        if (wantRunning && !running) toStart.push_back(step.vm);
        if (wantStopped && running) {
          if (auto r = vms_.shutdown(step.vm, timeout); !r)
            return inStep(step.vm, "shut down", r.error());
        }
        break;
      }
      case PlanAction::start:
        toStart.push_back(step.vm);
        break;
      case PlanAction::unchanged:
        break;
    }
    done.push_back({{"vm", step.vm}, {"action", planActionName(step.action)}});
  }
  // Start everything first and then wait, so guests boot side by side.
  for (const auto& name : toStart) {
    op.progress(85, "start " + name);
    if (auto r = vms_.start(name); !r) return inStep(name, "start", r.error());
  }
  for (const auto& n : plan.networks) {
    if (n.action != NetworkAction::delete_network) continue;
    PADDOCK_TRY(next("delete network " + n.network));
    if (auto s = networks_.remove(n.network); !s)
      return inStep(n.network, "delete network", s.error());
    done.push_back({{"network", n.network}, {"action", networkActionName(n.action)}});
  }
  nlohmann::json ready = nlohmann::json::object();
  if (waitReady) {
    for (const auto& name : toStart) {
      op.progress(90, "waiting for " + name + " to report ready");
      auto r = vms_.waitReady(name, kReadyTimeout);
      if (!r) return inStep(name, "wait for", r.error());
      ready[name] = r->runtime.readyLine;
    }
  }
  return nlohmann::json{{"plan", toJson(plan)}, {"applied", done}, {"ready", ready}};
}

}  // namespace paddock
