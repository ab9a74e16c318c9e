// How much of the host a VM may use, and how it competes (ESX shares/limits, z/VM SET SHARE,
// DEDICATE, QUICKDSP, SET RESERVED): all of it changeable while the VM runs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock {

// Per-disk I/O limits (z/VM SET THROTTLE): bytes and requests per second; 0: no limit.
struct DiskLimits {
  std::uint64_t readBps = 0, writeBps = 0, readIops = 0, writeIops = 0;
  bool operator==(const DiskLimits&) const = default;
};

struct ResourceSpec {
  int cpuShares = 0;      // relative weight, 1..100000; 0: the default (1000)
  double cpuLimit = 0;    // cap in host CPUs (0.25 = a quarter of one); 0: none
  std::vector<int> cpus;  // host CPUs the VM runs on; empty: any (but not others' dedicated ones)
  bool dedicate = false;  // `cpus` are the VM's alone: vCPU i pinned to cpus[i % n]
  bool latencyHigh = false;          // dispatch promptly (z/VM QUICKDSP); same CPU share
  std::uint64_t memoryLimitMib = 0;  // cap on the QEMU process's host memory; 0: none
  std::uint64_t balloonMib = 0;      // balloon target: memory the guest keeps; 0: all of it
  std::map<std::string, DiskLimits> diskLimits;  // by disk name

  bool operator==(const ResourceSpec&) const = default;
  bool isDefault() const { return *this == ResourceSpec{}; }
};

// {"cpu_shares", "cpu_limit", "cpus", "dedicate", "latency": "normal"|"high",
//  "memory_limit_mib", "balloon_mib", "disk_limits": {DISK: {"read_bps", "write_bps",
//  "read_iops", "write_iops"}}}; absent fields keep their defaults. Errors name
// "resources.<field>".
Result<ResourceSpec> resourceSpecFromJson(const nlohmann::json& j);
nlohmann::json toJson(const ResourceSpec& r);
// Checks values against the VM's memory and the host's CPU count (hostCpus 0: not checked).
Status validateResources(const ResourceSpec& r, std::uint64_t memoryMib, int hostCpus);

}  // namespace paddock
