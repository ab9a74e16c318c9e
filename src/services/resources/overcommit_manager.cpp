#include "services/resources/overcommit_manager.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/procfs.h"

namespace paddock {

using nlohmann::json;

namespace {

constexpr const char* kSetting = "host.overcommit";
constexpr std::uint64_t kMiB = 1024 * 1024;
// A change shows in the guest's figures once the balloon has moved and the driver has reported
// again (QEMU polls it every 2 s): until a sample this much later, the VM is not reclaimed from.
constexpr std::int64_t kSettleMs = 4000;

json policyJson(const OvercommitPolicy& p) {
  return {{"enabled", p.enabled}, {"low_mib", p.lowMib}, {"high_mib", p.highMib}};
}

}  // namespace

OvercommitManager::OvercommitManager(VmService& vms, Collector& collector, Store& store,
                                     EventBus& events, std::uint64_t hostMemoryMib)
    : vms_(vms),
      collector_(collector),
      store_(store),
      events_(events),
      policy_(defaultPolicy(hostMemoryMib)) {}

OvercommitManager::~OvercommitManager() {
  stop();
}

OvercommitPolicy OvercommitManager::defaultPolicy(std::uint64_t hostMemoryMib) {
  OvercommitPolicy p;
  p.lowMib = std::max<std::uint64_t>(256, hostMemoryMib / 20);
  p.highMib = 2 * p.lowMib;
  return p;
}

void OvercommitManager::start() {
  worker_.start(collector_.memoryInterval(), /*runFirst=*/false, [this] { runOnce(); });
}

void OvercommitManager::stop() {
  worker_.stop();
}

void OvercommitManager::runOnce() {
  std::lock_guard round(runMutex_);
  auto host = ProcReader{}.hostMemory();
  auto records = vms_.list();
  if (!host || !records) return;
  std::uint64_t availableMib = host->availableBytes / kMiB;
  auto live = collector_.live();
  std::vector<BalloonView> views;
  std::map<std::string, pid_t> pids;
  std::vector<BalloonDecision> decisions;
  {
    std::lock_guard lock(mutex_);
    lastAvailableMib_ = availableMib;
    std::map<std::string, Taken> still;
    for (const auto& rec : *records) {
      const VmSpec& spec = rec.spec;
      if (rec.runtime.state != VmState::running || spec.resources.memoryLock) continue;
      BalloonView v;
      v.vm = spec.name;
      v.memoryMib = spec.memoryMib;
      v.reservedMib = spec.resources.reservedMib(spec.memoryMib);
      v.ownerMib = spec.resources.balloonMib ? spec.resources.balloonMib : spec.memoryMib;
      v.currentMib = v.ownerMib;
      const LiveVm* seen = live->vm(spec.name);
      if (auto t = taken_.find(spec.name); t != taken_.end() && t->second.pid == rec.runtime.pid) {
        v.currentMib = std::min(t->second.targetMib, v.ownerMib);
        if (v.currentMib < v.ownerMib) still[spec.name] = t->second;
        v.settled = seen && seen->memoryTsMs >= t->second.atMs + kSettleMs;
      }
      if (auto available = seen ? seen->value("memory_guest_available_bytes") : std::nullopt)
        v.guestAvailableMib = static_cast<std::uint64_t>(*available) / kMiB;
      pids[spec.name] = rec.runtime.pid;
      views.push_back(v);
    }
    taken_ = std::move(still);
    decisions = planBalloons(policy_, availableMib, views);
  }
  for (const auto& d : decisions) {
    auto process = vms_.process(d.vm);
    if (!process) continue;
    if (auto s = (*process)->setBalloon(d.toMib * kMiB); !s) {
      spdlog::warn("overcommit: VM {}: cannot move its balloon: {}", d.vm, s.error().message);
      continue;
    }
    auto owner = std::find_if(views.begin(), views.end(), [&](const BalloonView& v) {
                   return v.vm == d.vm;
                 })->ownerMib;
    {
      std::lock_guard lock(mutex_);
      if (d.toMib >= owner)
        taken_.erase(d.vm);
      else
        taken_[d.vm] = {d.toMib, pids[d.vm], nowMs()};
    }
    std::string action = d.toMib < d.fromMib ? "reclaim" : "return";
    spdlog::info("overcommit: VM {}: {} {}M → {}M: {}", d.vm, action, d.fromMib, d.toMib, d.reason);
    events_.publish("vm.balloon", "vm/" + d.vm,
                    {{"by", "overcommit"},
                     {"action", action},
                     {"from_mib", d.fromMib},
                     {"to_mib", d.toMib},
                     {"reason", d.reason}});
  }
}

json OvercommitManager::status() {
  std::lock_guard lock(mutex_);
  json out = policyJson(policy_);
  out["host_available_mib"] = lastAvailableMib_;
  json vms = json::object();
  for (const auto& [vm, t] : taken_) vms[vm] = {{"target_mib", t.targetMib}};
  if (auto records = vms_.list())
    for (const auto& rec : *records)
      if (vms.contains(rec.spec.name)) {
        const auto& r = rec.spec.resources;
        std::uint64_t owner = r.balloonMib ? r.balloonMib : rec.spec.memoryMib;
        vms[rec.spec.name]["owner_mib"] = owner;
        std::uint64_t target = taken_[rec.spec.name].targetMib;
        vms[rec.spec.name]["reclaimed_mib"] = owner > target ? owner - target : 0;
      }
  out["vms"] = vms;
  return out;
}

Result<json> OvercommitManager::configure(const json& request) {
  if (!request.is_object())
    return makeError(Errc::invalid_argument, "the overcommit setting must be a JSON object");
  OvercommitPolicy p;
  {
    std::lock_guard lock(mutex_);
    p = policy_;
  }
  bool highGiven = false;
  for (auto it = request.begin(); it != request.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "enabled") {
      if (!v.is_boolean())
        return makeError(Errc::invalid_argument, "enabled must be true or false", k);
      p.enabled = v.get<bool>();
    } else if (k == "low_mib" || k == "high_mib") {
      if (!v.is_number_unsigned())
        return makeError(Errc::invalid_argument, k + " must be a whole number of MiB", k);
      (k == "low_mib" ? p.lowMib : p.highMib) = v.get<std::uint64_t>();
      highGiven = highGiven || k == "high_mib";
    } else {
      return makeError(Errc::invalid_argument, "unknown field '" + k + "'", k);
    }
  }
  if (request.contains("low_mib") && !highGiven) p.highMib = 2 * p.lowMib;
  if (p.highMib <= p.lowMib)
    return makeError(Errc::invalid_argument,
                     fmt::format("high_mib ({}) must be above low_mib ({})", p.highMib, p.lowMib),
                     "high_mib");
  PADDOCK_TRY(store_.setSetting(kSetting, policyJson(p).dump()));
  {
    std::lock_guard lock(mutex_);
    policy_ = p;
  }
  events_.publish("host.overcommit", "host", policyJson(p));
  return status();
}

void OvercommitManager::restore() {
  auto stored = store_.getSetting(kSetting);
  if (!stored || !*stored) return;
  auto j = json::parse(**stored, nullptr, false);
  if (j.is_discarded()) return;
  if (auto s = configure(j); !s)
    spdlog::warn("cannot apply the overcommit setting: {}", s.error().message);
}

}  // namespace paddock
