#include "services/resources/resource_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace paddock {

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

// Errors of the host layer name bare fields ("limit"); the API's are "resources.<field>".
Error asResourceError(Error e) {
  static const std::map<std::string, std::string> fields = {{"shares", "cpu_shares"},
                                                            {"limit", "cpu_limit"},
                                                            {"cpus", "cpus"},
                                                            {"memory", "memory_limit_mib"}};
  if (auto it = fields.find(e.field); it != fields.end()) e.field = "resources." + it->second;
  return e;
}

// Whether `r` asks for anything beyond what QEMU does by itself (the balloon, disk limits).
bool needsCgroups(const ResourceSpec& r) {
  ResourceSpec qemuOnly;
  qemuOnly.balloonMib = r.balloonMib;
  qemuOnly.diskLimits = r.diskLimits;
  return r != qemuOnly;
}

}  // namespace

ResourceService::ResourceService(Store& store, std::unique_ptr<host::Cgroups> cgroups,
                                 std::string why, int hostCpus)
    : store_(store), cgroups_(std::move(cgroups)), why_(std::move(why)), hostCpus_(hostCpus) {}

std::set<int> ResourceService::dedicatedByOthers(const std::string& vm) {
  std::set<int> out;
  if (auto vms = store_.listVms())
    for (const auto& other : *vms)
      if (other.spec.name != vm && other.spec.resources.dedicate)
        out.insert(other.spec.resources.cpus.begin(), other.spec.resources.cpus.end());
  return out;
}

host::CpuLimits ResourceService::cpuLimits(const VmSpec& spec,
                                           const std::set<int>& reserved) const {
  const ResourceSpec& r = spec.resources;
  host::CpuLimits c;
  c.shares = r.cpuShares;
  c.limitCpus = r.cpuLimit;
  c.latencyHigh = r.latencyHigh;
  c.cpus = r.cpus;
  // A VM without CPUs of its own keeps off the ones others have dedicated (z/VM DEDICATE).
  if (c.cpus.empty() && !reserved.empty()) {
    for (int cpu = 0; cpu < hostCpus_; ++cpu)
      if (!reserved.count(cpu)) c.cpus.push_back(cpu);
    if (c.cpus.empty()) c.cpus.clear();  // everything dedicated: better anywhere than nowhere
  }
  return c;
}

Status ResourceService::check(const VmSpec& spec, const std::vector<VmRecord>& others) {
  const ResourceSpec& r = spec.resources;
  if (!cgroups_ && needsCgroups(r))
    return makeError(Errc::unavailable,
                     fmt::format("CPU and memory controls need cgroups, which this paddockd "
                                 "cannot use: {}",
                                 why_),
                     "resources");
  if (r.dedicate)
    for (const auto& other : others)
      if (other.spec.resources.dedicate)
        for (int cpu : r.cpus)
          for (int theirs : other.spec.resources.cpus)
            if (cpu == theirs)
              return makeError(
                  Errc::conflict,
                  fmt::format("CPU {} is already dedicated to VM '{}'", cpu, other.spec.name),
                  "resources.cpus");
  return {};
}

Status ResourceService::apply(const VmSpec& spec, VmProcess& process) {
  const ResourceSpec& r = spec.resources;
  std::unique_lock lock(mutex_);
  // A VM with default controls needs no group, unless others' dedicated CPUs must be kept from
  // it or it had one before (then its group goes back to the defaults). So a daemon that cannot
  // use cgroups (not root) still runs such VMs.
  bool needsGroup =
      needsCgroups(r) || grouped_.count(spec.name) || !dedicatedByOthers(spec.name).empty();
  if (cgroups_ && needsGroup) {
    const std::string& vm = spec.name;
    auto fail = [&](const Error& e) { return asResourceError(e); };
    if (auto s = cgroups_->ensureGroup(vm); !s) return fail(s.error());
    if (auto s = cgroups_->setCpu(vm, cpuLimits(spec, dedicatedByOthers(vm))); !s)
      return fail(s.error());
    if (auto s = cgroups_->setMemory(vm, {r.memoryLimitMib * kMiB}); !s) return fail(s.error());
    if (auto s = cgroups_->addProcess(vm, process.pid()); !s) return fail(s.error());
    grouped_.insert(vm);
    if (r.dedicate || r.latencyHigh) {
      auto counters = process.counters();
      if (!counters) return counters.error();
      const auto& threads = counters->vcpuThreads;
      for (size_t i = 0; i < threads.size(); ++i) {
        if (r.dedicate) {
          host::CpuLimits pin;
          pin.cpus = {r.cpus[i % r.cpus.size()]};
          pin.latencyHigh = r.latencyHigh;
          if (auto s = cgroups_->addThread(vm, fmt::format("vcpu{}", i),
                                           static_cast<pid_t>(threads[i]), pin);
              !s)
            return fail(s.error());
        }
        if (auto s = host::setThreadLatencyHigh(static_cast<pid_t>(threads[i]), r.latencyHigh); !s)
          spdlog::warn("VM {}: vCPU {}: {}", vm, i, s.error().message);
      }
    }
    refreshOthers(vm);
  }
  lock.unlock();
  for (const auto& disk : spec.disks) {
    auto it = r.diskLimits.find(disk.name);
    if (auto s =
            process.setDiskLimits(disk.name, it == r.diskLimits.end() ? DiskLimits{} : it->second);
        !s)
      return makeError(s.error().code,
                       fmt::format("cannot limit disk {}: {}", disk.name, s.error().message),
                       "resources.disk_limits." + disk.name);
  }
  // The balloon goes back to the whole memory when no target is set.
  std::uint64_t target = (r.balloonMib ? r.balloonMib : spec.memoryMib) * kMiB;
  return process.setBalloon(target);
}

void ResourceService::refreshOthers(const std::string& vm) {
  auto vms = store_.listVms();
  if (!vms) return;
  for (const auto& other : *vms) {
    const std::string& name = other.spec.name;
    if (name == vm || !grouped_.count(name)) continue;
    if (auto s = cgroups_->setCpu(name, cpuLimits(other.spec, dedicatedByOthers(name))); !s)
      spdlog::warn("VM {}: cannot update its CPUs: {}", name, s.error().message);
  }
}

void ResourceService::release(const std::string& vm) {
  if (!cgroups_) return;
  std::lock_guard lock(mutex_);
  grouped_.erase(vm);
  if (auto s = cgroups_->removeGroup(vm); !s)
    spdlog::warn("VM {}: cannot remove its cgroup: {}", vm, s.error().message);
}

void ResourceService::shutdown() {
  if (!cgroups_) return;
  std::lock_guard lock(mutex_);
  if (!cgroups_->listGroups().empty()) return;
  if (auto s = cgroups_->removeRoot(); !s)
    spdlog::warn("cannot remove the cgroup root: {}", s.error().message);
}

void ResourceService::reconcile(const std::vector<VmRecord>& vms) {
  if (!cgroups_) return;
  std::lock_guard lock(mutex_);
  std::set<std::string> running;
  for (const auto& vm : vms)
    if (hasProcess(vm.runtime.state)) running.insert(vm.spec.name);
  for (const auto& group : cgroups_->listGroups()) {
    if (running.count(group)) {
      grouped_.insert(group);
      continue;
    }
    if (auto s = cgroups_->removeGroup(group); !s)
      spdlog::warn("cannot remove leftover cgroup of {}: {}", group, s.error().message);
  }
}

}  // namespace paddock
