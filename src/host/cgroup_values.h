// What the cgroup implementations share above the file level: name and limit validation, CPU
// lists, the shares and bandwidth mappings, and "key value" stat files. Internal.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/cgroup_fs.h"
#include "host/cgroups.h"

namespace paddock::host {

// A VM or sub-group name: 1-64 of [A-Za-z0-9_-]. No '.', so it never collides with a control file.
Status validateGroupName(const std::string& name, const std::string& field);
// The root: one or more '/'-separated components of [A-Za-z0-9_.@-], none starting with '.'.
Status validateRootName(const std::string& rootName);

// The kernel's list format, "0-3,8,10-11"; nullopt if malformed. "" is the empty set.
std::optional<std::set<int>> parseCpuList(const std::string& text);
std::string formatCpuList(const std::set<int>& cpus);

// The CPUs of the group at `rel` or, where its `file` is missing or empty, of its nearest
// ancestor that states them (v1 "cpuset.effective_cpus", v2 "cpuset.cpus.effective").
Result<std::set<int>> effectiveCpus(const CgroupFs& cpuset, const std::string& rel,
                                    const std::string& file);

// Checks shares, cap and CPUs against the CPUs the group may use (`available`, from its parent).
Status validateCpuLimits(const CpuLimits& limits, const std::set<int>& available);
// A memory limit the kernel can take (field "memory").
Status validateMemoryLimits(const MemoryLimits& limits);
// The weight written to blkio.bfq.weight / io.bfq.weight; invalid_argument naming "weight".
Result<int> bfqWeight(const IoLimits& limits);

// shares → v1 cpu.shares (×1024/1000, at least 2) and v2 cpu.weight (/10, within 1..10000).
int64_t v1CpuShares(int shares);
int64_t v2CpuWeight(int shares);

struct Bandwidth {
  int64_t quotaUs = 0;  // 0: no cap
  int64_t periodUs = kCpuPeriodUs;
};
// The cap as quota per period: latencyHigh shortens the period (but keeps quota ≥ 1 ms).
Bandwidth bandwidthFor(const CpuLimits& limits);

// The value of `key` in a "key value" per line file (cpu.stat), 0 if absent.
uint64_t statValue(const std::string& text, const std::string& key);
// A decimal counter file's value (cpuacct.usage, memory.current); 0 if unparsable.
uint64_t counterValue(const std::string& text);

// "1234, 5678" for messages.
std::string joinIds(const std::vector<pid_t>& ids);

}  // namespace paddock::host
