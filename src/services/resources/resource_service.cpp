#include "services/resources/resource_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "services/resources/reservation_weights.h"

namespace paddock {

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

// Errors of the host layer name bare fields ("limit"); the API's are "resources.<field>".
Error asResourceError(Error e) {
  static const std::map<std::string, std::string> fields = {{"shares", "cpu_shares"},
                                                            {"limit", "cpu_limit"},
                                                            {"cpus", "cpus"},
                                                            {"memory", "memory_limit_mib"},
                                                            {"weight", "io_weight"}};
  if (auto it = fields.find(e.field); it != fields.end()) e.field = "resources." + it->second;
  return e;
}

// Whether `r` asks for anything beyond what QEMU, tc and admission do by themselves (the balloon,
// disk and NIC limits, locked or unshared memory, memory reservations: memory.min is a bonus
// where v2 has it).
bool needsCgroups(const ResourceSpec& r) {
  ResourceSpec qemuOnly;
  qemuOnly.balloonMib = r.balloonMib;
  qemuOnly.diskLimits = r.diskLimits;
  qemuOnly.nicLimits = r.nicLimits;
  qemuOnly.memoryLock = r.memoryLock;
  qemuOnly.pageSharing = r.pageSharing;
  qemuOnly.memoryReservationMib = r.memoryReservationMib;
  return r != qemuOnly;
}

}  // namespace

ResourceService::ResourceService(Store& store, std::unique_ptr<host::Cgroups> cgroups,
                                 std::string why, const HostLimits& host, NicProvider& nics)
    : store_(store),
      cgroups_(std::move(cgroups)),
      why_(std::move(why)),
      nics_(nics),
      hostCpus_(host.cpus),
      reservableMib_(host.memoryMib > kHostMemoryReserveMib ? host.memoryMib - kHostMemoryReserveMib
                                                            : 0) {}

Status ResourceService::admit(const VmSpec& spec, bool hold) {
  const ResourceSpec& r = spec.resources;
  std::lock_guard lock(mutex_);
  double cpus = 0;
  std::uint64_t mib = 0;
  std::vector<std::string> holders;
  for (const auto& [vm, a] : admitted_) {
    if (vm == spec.name) continue;
    cpus += a.cpus;
    mib += a.memoryMib;
    if (a.cpus > 0 || a.memoryMib > 0) holders.push_back(vm);
  }
  std::string by = holders.empty() ? "" : fmt::format(" (by {})", fmt::join(holders, ", "));
  // A thousandth of a CPU of slack absorbs rounding of sums such as 0.1 + 0.2.
  if (r.cpuReservation > 0 && cpus + r.cpuReservation > hostCpus_ + 1e-3)
    return makeError(Errc::conflict,
                     fmt::format("cannot reserve {} CPUs for VM '{}': {} of the host's {} CPUs "
                                 "are reserved by running VMs{}",
                                 r.cpuReservation, spec.name, cpus, hostCpus_, by),
                     "resources.cpu_reservation");
  std::uint64_t want = r.reservedMib(spec.memoryMib);
  if (want > 0 && mib + want > reservableMib_)
    return makeError(
        Errc::conflict,
        fmt::format("cannot reserve {}M for VM '{}': {}M of the host's reservable {}M are "
                    "reserved by running VMs{}",
                    want, spec.name, mib, reservableMib_, by),
        r.memoryLock ? "resources.memory_lock" : "resources.memory_reservation_mib");
  if (!hold) return {};
  Admitted& a = admitted_[spec.name];
  a.cpus = r.cpuReservation;
  a.memoryMib = want;
  a.shares = r.cpuShares;
  recomputeWeights();
  return {};
}

void ResourceService::recomputeWeights() {
  std::vector<WeightRequest> requests;
  for (const auto& [vm, a] : admitted_) requests.push_back({vm, a.shares, a.cpus});
  weights_ = reservationWeights(requests, hostCpus_);
}

bool ResourceService::everyVmNeedsAGroup(const std::string& vm) {
  for (const auto& [name, a] : admitted_)
    if (a.cpus > 0) return true;
  return !dedicatedByOthers(vm).empty();
}

Status ResourceService::groupProcess(const VmSpec& spec, pid_t pid) {
  const std::string& vm = spec.name;
  const ResourceSpec& r = spec.resources;
  PADDOCK_TRY(cgroups_->ensureGroup(vm));
  PADDOCK_TRY(cgroups_->setCpu(vm, cpuLimits(spec, dedicatedByOthers(vm))));
  PADDOCK_TRY(
      cgroups_->setMemory(vm, {r.memoryLimitMib * kMiB, r.reservedMib(spec.memoryMib) * kMiB}));
  // A new group has the default I/O weight: only a weight that is or was set is written.
  if (r.ioWeight != 0 || ioWeighted_.count(vm)) {
    PADDOCK_TRY(cgroups_->setIo(vm, {r.ioWeight}));
    if (r.ioWeight != 0)
      ioWeighted_.insert(vm);
    else
      ioWeighted_.erase(vm);
  }
  PADDOCK_TRY(cgroups_->addProcess(vm, pid));
  grouped_.insert(vm);
  return {};
}

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
  auto weight = weights_.find(spec.name);
  c.shares = weight != weights_.end() ? weight->second : r.cpuShares;
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
  for (const auto& [mac, limits] : r.nicLimits) PADDOCK_TRY(nics_.shapeable(spec, mac));
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
  if (auto a = admitted_.find(spec.name); a != admitted_.end()) a->second.pid = process.pid();
  // A VM with default controls needs no group, unless others' dedicated CPUs must be kept from
  // it, reservations must be weighed against it, or it had one before (then its group goes back
  // to the defaults). So a daemon that cannot use cgroups (not root) still runs such VMs.
  bool needsGroup = needsCgroups(r) || grouped_.count(spec.name) || everyVmNeedsAGroup(spec.name);
  if (cgroups_ && needsGroup) {
    const std::string& vm = spec.name;
    auto fail = [&](const Error& e) { return asResourceError(e); };
    if (auto s = groupProcess(spec, process.pid()); !s) return fail(s.error());
    if (r.dedicate || r.latencyHigh) {
      auto vcpus = process.vcpuThreads();
      if (!vcpus) return vcpus.error();
      const auto& threads = *vcpus;
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
  for (const auto& nic : spec.nics) {
    auto it = r.nicLimits.find(nic.mac);
    NicLimits limits = it == r.nicLimits.end() ? NicLimits{} : it->second;
    {
      std::lock_guard shapedLock(mutex_);
      if (!limits.any() && !shaped_.count(nic.mac)) continue;
    }
    PADDOCK_TRY(nics_.shape(spec, nic.mac, limits));
    std::lock_guard shapedLock(mutex_);
    if (limits.any())
      shaped_.insert(nic.mac);
    else
      shaped_.erase(nic.mac);
  }
  // The balloon goes back to the whole memory when no target is set.
  std::uint64_t target = (r.balloonMib ? r.balloonMib : spec.memoryMib) * kMiB;
  return process.setBalloon(target);
}

void ResourceService::refreshOthers(const std::string& vm) {
  auto vms = store_.listVms();
  if (!vms) return;
  bool groupAll = everyVmNeedsAGroup(vm);
  for (const auto& other : *vms) {
    const std::string& name = other.spec.name;
    if (name == vm) continue;
    if (grouped_.count(name)) {
      if (auto s = cgroups_->setCpu(name, cpuLimits(other.spec, dedicatedByOthers(name))); !s)
        spdlog::warn("VM {}: cannot update its CPUs: {}", name, s.error().message);
    } else if (auto a = admitted_.find(name); groupAll && a != admitted_.end() && a->second.pid) {
      if (auto s = groupProcess(other.spec, a->second.pid); !s)
        spdlog::warn("VM {}: cannot put it in a cgroup: {}", name, s.error().message);
    }
  }
}

void ResourceService::release(const std::string& vm) {
  std::lock_guard lock(mutex_);
  // The reserving VMs' weights were computed against this one: they change when it goes.
  bool reservations = false;
  for (const auto& [name, a] : admitted_) reservations = reservations || a.cpus > 0;
  if (admitted_.erase(vm)) recomputeWeights();
  if (!cgroups_) return;
  grouped_.erase(vm);
  ioWeighted_.erase(vm);
  if (auto s = cgroups_->removeGroup(vm); !s)
    spdlog::warn("VM {}: cannot remove its cgroup: {}", vm, s.error().message);
  if (reservations) refreshOthers(vm);
}

void ResourceService::shutdown() {
  if (!cgroups_) return;
  std::lock_guard lock(mutex_);
  if (!cgroups_->listGroups().empty()) return;
  if (auto s = cgroups_->removeRoot(); !s)
    spdlog::warn("cannot remove the cgroup root: {}", s.error().message);
}

void ResourceService::reconcile(const std::vector<VmRecord>& vms) {
  std::lock_guard lock(mutex_);
  std::set<std::string> running;
  for (const auto& vm : vms) {
    if (!hasProcess(vm.runtime.state)) continue;
    running.insert(vm.spec.name);
    // They ran before the restart: admitted then, so admitted now without a check.
    const ResourceSpec& r = vm.spec.resources;
    admitted_[vm.spec.name] = {r.cpuReservation, r.reservedMib(vm.spec.memoryMib), r.cpuShares,
                               static_cast<pid_t>(vm.runtime.pid)};
    if (r.ioWeight != 0) ioWeighted_.insert(vm.spec.name);
  }
  recomputeWeights();
  if (!cgroups_) return;
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
