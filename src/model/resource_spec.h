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
  // Bursts: the rate a disk may reach for up to burstSeconds (QEMU's *_max, *_max_length) after
  // idling, before the limit above holds again. Each needs its limit, and is at least it.
  std::uint64_t readBpsMax = 0, writeBpsMax = 0, readIopsMax = 0, writeIopsMax = 0;
  std::uint64_t burstSeconds = 0;  // 0: 1 s
  // Disks of the VM in one group share one budget (a QEMU throttle group): their limits must be
  // the same, and they hold for the group's total. Empty: the disk has a budget of its own.
  std::string group;
  bool operator==(const DiskLimits&) const = default;
  bool any() const { return readBps || writeBps || readIops || writeIops; }
};

// Per-NIC rate limits (ESX traffic shaping), seen from the guest; bytes per second, 0: none.
struct NicLimits {
  std::uint64_t rxBps = 0, txBps = 0;
  bool operator==(const NicLimits&) const = default;
  bool any() const { return rxBps || txBps; }
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
  std::map<std::string, NicLimits> nicLimits;    // by the NIC's MAC
  // Guaranteed host CPUs (ESX reservation, z/VM SET SHARE ABSOLUTE): admission keeps the sum over
  // running VMs within the host, and the VM's weight is raised so contention cannot take it away.
  double cpuReservation = 0;
  // Guaranteed memory (z/VM SET RESERVED): admission keeps the sum over running VMs within the
  // host's reservable memory, and neither the overcommit manager nor a balloon target goes below.
  std::uint64_t memoryReservationMib = 0;
  // Preallocate all guest memory and lock it in host RAM at start (-overcommit mem-lock=on): a
  // full reservation that can never be swapped or reclaimed. Start-time only.
  bool memoryLock = false;
  // Whether the VM's memory may be merged with identical pages (KSM). Start-time only.
  bool pageSharing = true;
  // I/O priority (z/VM SET IOPRIORITY): relative weight 1..1000 on BFQ-scheduled devices; 0: the
  // default (100).
  int ioWeight = 0;

  bool operator==(const ResourceSpec&) const = default;
  bool isDefault() const { return *this == ResourceSpec{}; }
  // The memory admission counts for the VM: all of it when locked.
  std::uint64_t reservedMib(std::uint64_t memoryMib) const {
    return memoryLock ? memoryMib : memoryReservationMib;
  }
};

// The settings QEMU takes only on its command line: they differ between `a` and `b` → the name of
// the first such field ("memory_lock", "page_sharing"), empty when none differs.
std::string startTimeFieldChanged(const ResourceSpec& a, const ResourceSpec& b);

// {"cpu_shares", "cpu_limit", "cpus", "dedicate", "latency": "normal"|"high",
//  "memory_limit_mib", "balloon_mib", "disk_limits": {DISK: {"read_bps", "write_bps",
//  "read_iops", "write_iops", "read_bps_max", "write_bps_max", "read_iops_max",
//  "write_iops_max", "burst_seconds", "group"}}, "nic_limits": {MAC: {"rx_bps", "tx_bps"}},
//  "cpu_reservation", "memory_reservation_mib", "memory_lock",
//  "page_sharing", "io_weight"}; absent fields keep their defaults. Errors name
// "resources.<field>".
Result<ResourceSpec> resourceSpecFromJson(const nlohmann::json& j);
nlohmann::json toJson(const ResourceSpec& r);
// Checks values against the VM's vCPUs and memory and the host's CPU count (hostCpus 0: not
// checked).
Status validateResources(const ResourceSpec& r, int vcpus, std::uint64_t memoryMib, int hostCpus);

}  // namespace paddock
