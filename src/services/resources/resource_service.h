// Resource control with cgroups: one group per VM under "paddock-<daemon tag>", shares and caps,
// CPU sets, dedicated CPUs with per-vCPU pinning, latency, memory limits, and the balloon.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "host/cgroups.h"
#include "services/lifecycle/resource_control.h"
#include "store/store.h"

namespace paddock {

class ResourceService : public ResourceControl {
 public:
  // `cgroups` may be null (no usable cgroup hierarchy, e.g. an unprivileged daemon): then only
  // the balloon and disk limits work, and any other setting is refused with `why`.
  ResourceService(Store& store, std::unique_ptr<host::Cgroups> cgroups, std::string why,
                  int hostCpus);

  Status check(const VmSpec& spec, const std::vector<VmRecord>& others) override;
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
  // Re-applies the CPU sets of VMs that run now, after a VM's dedicated CPUs changed.
  void refreshOthers(const std::string& vm);

  Store& store_;
  std::unique_ptr<host::Cgroups> cgroups_;
  std::string why_;
  int hostCpus_;
  std::mutex mutex_;
  std::set<std::string> grouped_;  // VMs with a group now
};

}  // namespace paddock
