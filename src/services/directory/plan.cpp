#include "services/directory/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/units.h"

namespace paddock {

using nlohmann::json;

const char* planActionName(PlanAction a) {
  switch (a) {
    case PlanAction::create:
      return "create";
    case PlanAction::update:
      return "update";
    case PlanAction::restart_update:
      return "restart_update";
    case PlanAction::start:
      return "start";
    case PlanAction::stop:
      return "stop";
    case PlanAction::delete_vm:
      return "delete";
    case PlanAction::unchanged:
      return "unchanged";
  }
  return "unchanged";
}

namespace {

// The spec fields a plan compares, in display order. `name` is the identity, not a change.
constexpr const char* kFields[] = {"vcpus",       "memory_mib", "disks",  "nics",
                                   "image",       "kernel",     "initrd", "cmdline",
                                   "description", "accel",      "labels", "resources"};

// A NIC declared without a MAC takes the one Paddock allocated to the NIC in the same place.
void keepAllocatedMacs(VmSpec& desired, const VmSpec& current) {
  for (size_t i = 0; i < desired.nics.size() && i < current.nics.size(); ++i)
    if (desired.nics[i].mac.empty() && desired.nics[i].network == current.nics[i].network)
      desired.nics[i].mac = current.nics[i].mac;
}

// Fields QEMU reads only at start; changing them on a VM with a process needs a restart
// (resources change live).
bool isHardware(const std::string& field) {
  return field != "description" && field != "labels" && field != "resources";
}

bool isUp(VmState s) {
  return s == VmState::starting || s == VmState::running || s == VmState::paused;
}
bool isDown(VmState s) {
  return s == VmState::stopped || s == VmState::crashed || s == VmState::stopping;
}

// The power change the file asks for, if any (see the table in plan.h).
std::optional<VmState> powerTarget(std::optional<VmState> desired, VmState current) {
  if (desired == VmState::running && isDown(current)) return VmState::running;
  if (desired == VmState::stopped && isUp(current)) return VmState::stopped;
  return std::nullopt;
}

int rank(PlanAction a) {
  switch (a) {
    case PlanAction::delete_vm:
      return 0;
    case PlanAction::stop:
      return 1;
    case PlanAction::create:
      return 2;
    case PlanAction::update:
    case PlanAction::restart_update:
      return 3;
    case PlanAction::start:
      return 4;
    case PlanAction::unchanged:
      return 5;
  }
  return 5;
}

std::string labelOf(const VmSpec& spec) {
  auto it = spec.labels.find(kDirectoryLabel);
  return it == spec.labels.end() ? std::string() : it->second;
}

// formatMib rounds ("1.0G" for 1025 MiB), which would hide the very change a plan shows.
std::string exactMib(uint64_t mib) {
  return mib < 1024 || mib % 1024 == 0 ? formatMib(mib) : fmt::format("{}M", mib);
}

std::string showValue(const std::string& field, const json& v) {
  if (v.is_null()) return "(none)";
  if (field == "disks" && v.is_array()) {
    std::string out;
    for (const auto& d : v)
      out += fmt::format("{}{} {}", out.empty() ? "" : ", ", d.value("name", "?"),
                         exactMib(d.value("size_mib", uint64_t{0})));
    return "[" + out + "]";
  }
  if (field == "nics" && v.is_array()) {
    std::string out;
    for (const auto& n : v)
      out += fmt::format("{}{}{}{}", out.empty() ? "" : ", ", n.value("network", "?"),
                         n.value("port_group", "").empty() ? "" : "/" + n.value("port_group", ""),
                         n.value("ip", "").empty() ? "" : " " + n.value("ip", ""));
    return "[" + out + "]";
  }
  if (field == "labels" && v.is_object()) {
    std::string out;
    for (auto it = v.begin(); it != v.end(); ++it)
      out +=
          fmt::format("{}{}={}", out.empty() ? "" : ", ", it.key(),
                      it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    return "{" + out + "}";
  }
  return v.dump();
}

const json* findChange(const PlanStep& step, const std::string& field) {
  for (const auto& c : step.changes)
    if (c.field == field) return &c.to;
  return nullptr;
}

std::string describeNew(const PlanStep& step) {
  std::vector<std::string> parts;
  if (const json* v = findChange(step, "vcpus"); v && v->is_number_integer())
    parts.push_back(fmt::format("{} vCPU{}", v->get<int>(), v->get<int>() == 1 ? "" : "s"));
  if (const json* v = findChange(step, "memory_mib"); v && v->is_number_unsigned())
    parts.push_back(exactMib(v->get<uint64_t>()));
  const json* image = findChange(step, "image");
  const json* kernel = findChange(step, "kernel");
  if (image && image->is_string() && !image->get<std::string>().empty())
    parts.push_back(image->get<std::string>());
  else if (kernel && kernel->is_string() && !kernel->get<std::string>().empty())
    parts.push_back("kernel " + kernel->get<std::string>());
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "" : " (" + out + ")";
}

// Resources are shown field by field ("resources.cpu_limit 0.0 → 0.5"): the whole object would
// bury the one value that changes.
std::string describeChanges(const PlanStep& step) {
  std::string out;
  auto add = [&](const std::string& field, const json& from, const json& to) {
    out += fmt::format("{}{} {} → {}", out.empty() ? "" : ", ", field, showValue(field, from),
                       showValue(field, to));
  };
  for (const auto& c : step.changes) {
    if (c.field != "resources" || !c.from.is_object() || !c.to.is_object()) {
      add(c.field, c.from, c.to);
      continue;
    }
    json keys = c.from;
    keys.update(c.to);
    for (auto it = keys.begin(); it != keys.end(); ++it) {
      json from = c.from.value(it.key(), json());
      json to = c.to.value(it.key(), json());
      if (from != to) add("resources." + it.key(), from, to);
    }
  }
  return out;
}

// A network the file drops while one of its VMs keeps a NIC on it could only fail to delete
// after every VM step has run; say so before anything changes.
Status checkDeletedNetworksUnused(const std::vector<NetworkStep>& networks,
                                  const std::vector<DesiredVm>& desired) {
  for (const auto& n : networks) {
    if (n.action != NetworkAction::delete_network) continue;
    for (const auto& d : desired)
      for (size_t i = 0; i < d.spec.nics.size(); ++i)
        if (d.spec.nics[i].network == n.network)
          return makeError(Errc::unprocessable,
                           fmt::format("network '{}' is no longer in the file but VM '{}' still "
                                       "has a NIC on it; keep the network or remove the NIC",
                                       n.network, d.spec.name),
                           fmt::format("vms.{}.nics[{}].network", d.spec.name, i));
  }
  return {};
}

}  // namespace

bool Plan::nothingToDo() const {
  return std::all_of(steps.begin(), steps.end(),
                     [](const PlanStep& s) { return s.action == PlanAction::unchanged; }) &&
         std::all_of(networks.begin(), networks.end(),
                     [](const NetworkStep& n) { return n.action == NetworkAction::unchanged; });
}

PlanCounts Plan::counts() const {
  PlanCounts c;
  for (const auto& n : networks) {
    if (n.action == NetworkAction::create) ++c.networkCreate;
    if (n.action == NetworkAction::delete_network) ++c.networkDestroy;
    if (n.action == NetworkAction::unchanged) ++c.networkUnchanged;
  }
  for (const auto& s : steps) {
    switch (s.action) {
      case PlanAction::create:
        ++c.create;
        if (s.targetState == VmState::running) ++c.start;
        break;
      case PlanAction::update:
        ++c.update;
        if (s.targetState == VmState::running) ++c.start;
        if (s.targetState == VmState::stopped) ++c.stop;
        break;
      case PlanAction::restart_update:
        // A restart brings the VM back to where it was, so only "left stopped" counts as a stop.
        ++c.update;
        if (s.targetState == VmState::stopped) ++c.stop;
        break;
      case PlanAction::start:
        ++c.start;
        break;
      case PlanAction::stop:
        ++c.stop;
        break;
      case PlanAction::delete_vm:
        ++c.destroy;
        break;
      case PlanAction::unchanged:
        ++c.unchanged;
        break;
    }
  }
  return c;
}

Result<Plan> computePlan(const std::string& directory,
                         const std::vector<DesiredNetwork>& desiredNetworks,
                         const std::vector<DesiredVm>& desired,
                         const std::vector<NetworkSpec>& currentNetworks,
                         const std::vector<VmRecord>& current) {
  std::map<std::string, const VmRecord*> byName;
  for (const auto& r : current) byName.emplace(r.spec.name, &r);

  Plan plan;
  plan.directory = directory;
  auto networks = planNetworks(directory, desiredNetworks, currentNetworks);
  if (!networks) return networks.error();
  plan.networks = std::move(*networks);
  PADDOCK_TRY(checkDeletedNetworksUnused(plan.networks, desired));
  std::set<std::string> wanted;
  std::vector<std::string> conflicts;
  std::string firstConflict;

  for (const auto& d : desired) {
    if (!wanted.insert(d.spec.name).second)
      return makeError(
          Errc::invalid_argument,
          fmt::format("VM '{}' is listed twice in directory '{}'", d.spec.name, directory),
          d.spec.name);
    VmSpec spec = d.spec;
    spec.labels[kDirectoryLabel] = directory;

    auto found = byName.find(spec.name);
    if (found == byName.end()) {
      PlanStep step{spec.name, PlanAction::create, {}, std::nullopt};
      json to = toJson(spec);
      for (const char* f : kFields) step.changes.push_back({f, nullptr, to[f]});
      if (d.state == VmState::running) step.targetState = VmState::running;
      plan.steps.push_back(std::move(step));
      continue;
    }
    const VmRecord& rec = *found->second;
    if (labelOf(rec.spec) != directory) {
      std::string owner = labelOf(rec.spec);
      if (firstConflict.empty()) firstConflict = spec.name;
      conflicts.push_back(owner.empty()
                              ? fmt::format("'{}' (not managed by any directory)", spec.name)
                              : fmt::format("'{}' (managed by directory '{}')", spec.name, owner));
      continue;
    }

    PlanStep step{spec.name, PlanAction::unchanged, {}, std::nullopt};
    keepAllocatedMacs(spec, rec.spec);
    json from = toJson(rec.spec);
    json to = toJson(spec);
    bool hardware = false;
    for (const char* f : kFields) {
      if (from[f] == to[f]) continue;
      step.changes.push_back({f, from[f], to[f]});
      hardware = hardware || isHardware(f);
    }
    VmState now = rec.runtime.state;
    if (!step.changes.empty() && hardware && hasProcess(now)) {
      step.action = PlanAction::restart_update;
      // No `state` in the file means "as it was": a running VM comes back, a stopping one does not.
      VmState end =
          d.state ? *d.state : (now == VmState::stopping ? VmState::stopped : VmState::running);
      step.targetState = end;
    } else if (!step.changes.empty()) {
      step.action = PlanAction::update;
      step.targetState = powerTarget(d.state, now);
    } else if (auto t = powerTarget(d.state, now)) {
      step.action = *t == VmState::running ? PlanAction::start : PlanAction::stop;
      step.targetState = t;
    }
    plan.steps.push_back(std::move(step));
  }

  if (!conflicts.empty()) {
    std::string more;
    if (conflicts.size() > 1) {
      for (size_t i = 1; i < conflicts.size(); ++i) more += (i == 1 ? "" : ", ") + conflicts[i];
      more = fmt::format(" (and {} more: {})", conflicts.size() - 1, more);
    }
    return makeError(Errc::conflict,
                     fmt::format("VM {} already exists and directory '{}' will not take it over{}; "
                                 "rename it in the file or remove the existing VM",
                                 conflicts.front(), directory, more),
                     firstConflict);
  }

  for (const auto& r : current) {
    if (labelOf(r.spec) != directory || wanted.contains(r.spec.name)) continue;
    plan.steps.push_back(PlanStep{r.spec.name, PlanAction::delete_vm, {}, std::nullopt});
  }

  std::stable_sort(plan.steps.begin(), plan.steps.end(), [](const PlanStep& a, const PlanStep& b) {
    if (rank(a.action) != rank(b.action)) return rank(a.action) < rank(b.action);
    return a.vm < b.vm;
  });
  return plan;
}

json toJson(const Plan& plan) {
  json networkSteps = json::array();
  for (const auto& n : plan.networks)
    networkSteps.push_back({{"network", n.network},
                            {"action", networkActionName(n.action)},
                            {"spec", toJson(n.spec)}});
  json steps = json::array();
  for (const auto& s : plan.steps) {
    json changes = json::array();
    for (const auto& c : s.changes)
      changes.push_back({{"field", c.field}, {"from", c.from}, {"to", c.to}});
    steps.push_back({{"vm", s.vm},
                     {"action", planActionName(s.action)},
                     {"changes", std::move(changes)},
                     {"target_state", s.targetState ? json(vmStateName(*s.targetState)) : json()}});
  }
  PlanCounts c = plan.counts();
  return {{"directory", plan.directory},
          {"network_steps", std::move(networkSteps)},
          {"steps", std::move(steps)},
          {"summary",
           {{"create", c.create},
            {"update", c.update},
            {"delete", c.destroy},
            {"start", c.start},
            {"stop", c.stop},
            {"unchanged", c.unchanged},
            {"networks",
             {{"create", c.networkCreate},
              {"delete", c.networkDestroy},
              {"unchanged", c.networkUnchanged}}}}},
          {"nothing_to_do", plan.nothingToDo()},
          {"text", formatPlan(plan)}};
}

std::string formatPlan(const Plan& plan) {
  PlanCounts c = plan.counts();
  if (plan.nothingToDo()) {
    if (c.networkUnchanged == 0)
      return fmt::format("Nothing to do: {} VM{} the directory.\n", c.unchanged,
                         c.unchanged == 1 ? " matches" : "s match");
    return fmt::format("Nothing to do: {} network{} and {} VM{} match the directory.\n",
                       c.networkUnchanged, c.networkUnchanged == 1 ? "" : "s", c.unchanged,
                       c.unchanged == 1 ? "" : "s");
  }
  std::string out;
  for (const auto& n : plan.networks)
    if (n.action == NetworkAction::create) out += formatNetworkStep(n);
  auto powerLine = [&](const PlanStep& s) {
    if (s.targetState == VmState::running) out += fmt::format("> start {}\n", s.vm);
    if (s.targetState == VmState::stopped) out += fmt::format("< stop {}\n", s.vm);
  };
  for (const auto& s : plan.steps) {
    switch (s.action) {
      case PlanAction::delete_vm:
        out += fmt::format("- delete {}\n", s.vm);
        break;
      case PlanAction::stop:
        out += fmt::format("< stop {}\n", s.vm);
        break;
      case PlanAction::start:
        out += fmt::format("> start {}\n", s.vm);
        break;
      case PlanAction::create:
        out += fmt::format("+ create {}{}\n", s.vm, describeNew(s));
        powerLine(s);
        break;
      case PlanAction::update:
        out += fmt::format("~ update {}: {}\n", s.vm, describeChanges(s));
        powerLine(s);
        break;
      case PlanAction::restart_update:
        out += fmt::format("~ update {} ({}): {}\n", s.vm,
                           s.targetState == VmState::stopped ? "shut down, stays stopped"
                                                             : "shut down and restart",
                           describeChanges(s));
        break;
      case PlanAction::unchanged:
        break;
    }
  }
  for (const auto& n : plan.networks)
    if (n.action == NetworkAction::delete_network) out += formatNetworkStep(n);
  std::string networks;
  if (c.networkCreate + c.networkDestroy > 0)
    networks =
        fmt::format("; networks: {} to create, {} to delete", c.networkCreate, c.networkDestroy);
  out +=
      fmt::format("\nPlan: {} to create, {} to update, {} to delete, {} to start, {} to stop{}.\n",
                  c.create, c.update, c.destroy, c.start, c.stop, networks);
  return out;
}

}  // namespace paddock
