// What the engine can tell about a running VM without an agent in the guest: its disks'
// counters and what the balloon and the guest's balloon driver report. The collector turns these
// into rates.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace paddock {

// A query that has been sent and whose answer is taken by calling this (once): the collector
// asks every VM before it waits for any, so it waits about once per round, not once per VM.
template <typename T>
using Deferred = std::function<Result<T>()>;

// One disk's counters, cumulative since the VM's process started.
struct DiskCounters {
  std::string disk;  // Paddock's disk id
  std::uint64_t readBytes = 0, writeBytes = 0, readOps = 0, writeOps = 0;
  std::uint64_t readTimeNs = 0, writeTimeNs = 0;  // total time the requests took
};

struct MemoryCounters {
  std::uint64_t balloonBytes = 0;  // memory the guest has now (configured minus the balloon)
  // From the guest's balloon driver; -1 when the guest has not reported it (yet).
  std::int64_t guestFreeBytes = -1, guestAvailableBytes = -1;
};

}  // namespace paddock
