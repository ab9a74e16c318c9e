// Resource control with cgroups: one group per VM under "paddock-<daemon tag>", shares and caps,
// CPU sets, dedicated CPUs with per-vCPU pinning, latency, memory limits and reservations, the
// balloon, and admission control for CPU and memory reservations.
//
// Lock order: mutex_ is taken without any VM lock held by this class; it is never held across a
// QMP call (disk limits and the balloon are set after it is released).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "host/cgroups.h"
#include "model/vm_spec.h"
#include "services/lifecycle/nic_provider.h"
#include "services/lifecycle/resource_control.h"
#include "store/store.h"

namespace paddock {

class ResourceService : public ResourceControl {
 public:
  // `cgroups` may be null (no usable cgroup hierarchy, e.g. an unprivileged daemon): then only
  // the balloon and disk limits work, and any other setting is refused with `why`.
  // NIC rate limits go through `nics` (the TAPs are theirs).
  ResourceService(Store& store, std::unique_ptr<host::Cgroups> cgroups, std::string why,
                  const HostLimits& host, NicProvider& nics);

  // Memory admission keeps this much of the host's memory for the host itself and for QEMU's own
  // overhead beyond guest memory.
  static constexpr std::uint64_t kHostMemoryReserveMib = 1024;

  Status check(const VmSpec& spec, const std::vector<VmRecord>& others) override;
  Status admit(const VmSpec& spec, bool hold = true) override;
  Status apply(const VmSpec& spec, VmProcess& process) override;
  void release(const std::string& vm) override;
  // Daemon start: remove the groups of VMs that have no process any more.
  void reconcile(const std::vector<VmRecord>& vms);
  // Daemon stop: removes the daemon's root group when no VM has a group in it any more (running
  // VMs keep theirs, and so the root).
  void shutdown();

 private:
  // CPUs dedicated by VMs other than `vm` (defined ones: a dedicated CPU stays reserved).
  std::set<int> dedicatedByOthers(const std::string& vm);
  host::CpuLimits cpuLimits(const VmSpec& spec, const std::set<int>& reserved) const;
  // Re-applies the CPUs and weights of the other VMs that run now, after `vm`'s dedicated CPUs
  // or reservations changed; groups the running VMs that have none when dedicated CPUs or CPU
  // reservations need every VM under the daemon's root.
  void refreshOthers(const std::string& vm);
  // Whether every running VM needs a group: weights and CPU sets only bind grouped tasks.
  bool everyVmNeedsAGroup(const std::string& vm);
  Status groupProcess(const VmSpec& spec, pid_t pid);
  void recomputeWeights();

  struct Admitted {
    double cpus = 0;
    std::uint64_t memoryMib = 0;
    int shares = 0;
    pid_t pid = 0;  // 0 until apply
  };

  Store& store_;
  std::unique_ptr<host::Cgroups> cgroups_;
  std::string why_;
  NicProvider& nics_;
  int hostCpus_;
  std::uint64_t reservableMib_;
  std::mutex mutex_;
  std::set<std::string> grouped_;             // VMs with a group now
  std::map<std::string, Admitted> admitted_;  // VMs that run or are starting
  std::set<std::string> shaped_;              // MACs of NICs with rate limits now
  std::set<std::string> ioWeighted_;          // VMs whose group has an I/O weight set
  std::map<std::string, int> weights_;        // effective shares, reservations included
};

}  // namespace paddock
