// CPU and memory resource control for VMs with cgroups, v1 or v2 behind one interface.
//
// Layout: one group per VM under a root group named for the daemon ("paddock-pdXXXX"), and below
// a VM's group optional sub-groups holding single threads (vCPU threads pinned to dedicated CPUs):
//   <mount>/<root>/<vm>          the QEMU process: shares, cap, cpuset, memory limit
//   <mount>/<root>/<vm>/<sub>    one or more threads of it: their own shares, cap and cpuset
// On v1 the same tree exists in each of the cpu, cpuacct, cpuset and memory hierarchies (sub-groups
// only in cpu and cpuset); on v2 the sub-groups are threaded cgroups and the VM's group their
// thread root.
//
// Order of calls for a VM: ensureGroup, setCpu/setMemory, addProcess, then addThread per vCPU.
// addProcess moves every thread of the process, so calling it again undoes addThread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace paddock::host {

// Shares map linearly so that the default weighs the same as an unconfined task group:
//   shares 1000 (the default) ↔ v1 cpu.shares 1024 ↔ v2 cpu.weight 100.
inline constexpr int kDefaultShares = 1000;
inline constexpr int kMaxShares = 100000;  // v2 cpu.weight's maximum, 10000
// The bandwidth period: the cap is enforced per period, so a capped group that used its quota
// waits up to the rest of the period before it runs again.
inline constexpr int64_t kCpuPeriodUs = 100000;
inline constexpr int64_t kLatencyCpuPeriodUs = 10000;
// The kernel's smallest quota is 1 ms, so at the 100 ms period the smallest cap is 1 % of a CPU.
inline constexpr double kMinLimitCpus = 0.01;

struct CpuLimits {
  // Relative weight against the other VMs (ESX shares, z/VM SET SHARE RELATIVE), 1..100000;
  // 0: the default, 1000. Only matters when CPUs are contended.
  int shares = 0;
  // Hard cap in host CPUs (0.25 = a quarter of one CPU, 2 = two full CPUs), at least 0.01 and at
  // most the CPUs available; 0: none.
  double limitCpus = 0;
  // The host CPUs the group's threads may run on; empty: all the parent group's. A sub-group's
  // CPUs must be among its VM group's.
  std::vector<int> cpus;
  // Like z/VM QUICKDSP: get the CPU promptly when work arrives, without more CPU in total. Raising
  // shares would change how much CPU the VM gets under contention, not how soon, so shares and
  // cap stay as given. Two parts:
  //  - here: the cap is enforced over a 10 ms period instead of 100 ms (same fraction), so a
  //    capped VM that used its quota stalls for at most ~10 ms instead of up to ~100 ms;
  //  - setThreadLatencyHigh() below, which the lifecycle applies to the vCPU threads: a short
  //    scheduler slice, so a waking vCPU is dispatched ahead of batch work.
  bool latencyHigh = false;
};

struct MemoryLimits {
  uint64_t limitBytes = 0;  // 0: none
  // Memory the kernel must not reclaim from the group (v2 memory.min). v1 has no such guarantee
  // (its soft limit would make the group the *first* to be reclaimed), so v1 ignores it.
  uint64_t reservedBytes = 0;
};

// I/O priority (z/VM SET IOPRIORITY): a relative weight for the block devices the kernel schedules
// with BFQ (the only scheduler with cgroup weights; `none` and `mq-deadline` ignore them). On v1
// it binds reads and direct I/O only (v1 writeback is charged to the root group), on v2 all I/O.
inline constexpr int kDefaultIoWeight = 100;
inline constexpr int kMaxIoWeight = 1000;

struct IoLimits {
  int weight = 0;  // 1..1000; 0: the default, 100
};

struct CgroupUsage {
  uint64_t cpuNs = 0;        // CPU time of all the group's threads, sub-groups included
  uint64_t throttledNs = 0;  // time held back by caps, summed over the group and its sub-groups
  uint64_t memoryBytes = 0;  // memory charged to the group now
};

// Every operation is idempotent. Names of VMs and sub-groups are 1-64 of [A-Za-z0-9_-] (errors
// name the field "vm" or "sub"). Errors: invalid_argument with the field for bad values
// ("shares", "limit", "cpus", "memory", "pid", "tid"), not_found for a VM group not ensured yet
// or a process that does not exist, conflict for a group that still holds tasks, unavailable when
// the host refuses (no permission, controller missing). Implementations keep no state beyond
// their paths (the kernel's files are the state), so they may be used from several threads.
class Cgroups {
 public:
  virtual ~Cgroups() = default;
  virtual std::string version() const = 0;  // "v1" or "v2"
  // The root group's path below the mount(s), e.g. "paddock-pd1234".
  virtual const std::string& rootName() const = 0;
  // Creates the root group (if needed) and the VM's group.
  virtual Status ensureGroup(const std::string& vm) = 0;
  virtual Status setCpu(const std::string& vm, const CpuLimits& limits) = 0;
  virtual Status setMemory(const std::string& vm, const MemoryLimits& limits) = 0;
  // Unavailable when the host has no BFQ weights (no blkio hierarchy on v1, no io controller on
  // v2, or the bfq scheduler not loaded).
  virtual Status setIo(const std::string& vm, const IoLimits& limits) = 0;
  // Moves the process with all its threads into the VM's group.
  virtual Status addProcess(const std::string& vm, pid_t pid) = 0;
  // Creates (or updates) the sub-group `vm/<sub>` with `limits` and moves the single thread `tid`
  // into it. On v2 the thread's process must already be in the VM's group (addProcess first).
  virtual Status addThread(const std::string& vm, const std::string& sub, pid_t tid,
                           const CpuLimits& limits) = 0;
  virtual Result<CgroupUsage> usage(const std::string& vm) = 0;
  // Removes the VM's group and its sub-groups; succeeds if already gone. A group still holding
  // tasks is left alone (conflict naming them): silently moving a running VM out of its limits
  // would hide a lifecycle bug, so callers stop or move the process first.
  virtual Status removeGroup(const std::string& vm) = 0;
  // Names of the VMs' groups under the root (to find leftovers on daemon start).
  virtual std::vector<std::string> listGroups() = 0;
  // Removes the root group once no VM groups are left (conflict otherwise); succeeds if gone.
  virtual Status removeRoot() = 0;
};

// Detects the layout under `mountRoot` and returns the matching implementation:
// `mountRoot/cgroup.controllers` present → v2 (the unified hierarchy mounted there); otherwise v1
// with the cpu, cpuacct, cpuset and memory hierarchies mounted at `mountRoot/<controller>` (and
// blkio, if mounted there, for I/O weights)
// (co-mounted "cpu,cpuacct" with the usual symlinks works too). Unavailable, with the reason, if
// neither is usable. `rootName` is the root group's path below the mount, one or more components
// ("paddock-pd1234", "paddock.slice/pd1234"); nothing is created until ensureGroup.
//
// A plain directory laid out like a cgroup mount stands in for one in tests (see cgroup_fs.h).
Result<std::unique_ptr<Cgroups>> makeCgroups(const std::string& rootName,
                                             const std::string& mountRoot = "/sys/fs/cgroup");
// The two implementations, for callers that know the layout; each checks its own requirements.
Result<std::unique_ptr<Cgroups>> makeCgroupV1(const std::string& rootName,
                                              const std::string& mountRoot);
Result<std::unique_ptr<Cgroups>> makeCgroupV2(const std::string& rootName,
                                              const std::string& mountRoot);

// The thread half of CpuLimits::latencyHigh, kept out of the cgroup classes because it acts on a
// thread, not on a group: sets (or with `high` false, clears) a short EEVDF slice request of 1 ms
// on the thread (sched_setattr's sched_runtime for SCHED_OTHER; honoured since Linux 6.12, ignored
// before). A shorter requested slice gives the thread an earlier virtual deadline, so it preempts
// longer-slice work when it wakes, while its weight (its share of CPU) stays the same. The
// thread's policy and nice value are kept; real-time threads are refused (conflict).
Status setThreadLatencyHigh(pid_t tid, bool high);

}  // namespace paddock::host
