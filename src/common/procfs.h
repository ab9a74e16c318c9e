// What /proc and /sys tell about processes and the host, for the agentless collector. Every
// reader returns not_found when the file is missing (process gone, kernel without the feature)
// and internal when it cannot be parsed. `root` is "/" except in tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace paddock {

struct ProcReader {
  std::string root = "";  // prefix for /proc and /sys paths ("" = the real ones)

  // (A process's and its threads' CPU and wait times: common/process_probe.h.)
  Result<std::uint64_t> rssBytes(pid_t pid) const;
  // Pages of the process that KSM merged (/proc/PID/ksm_merging_pages, Linux 6.1+).
  Result<std::uint64_t> ksmMergingPages(pid_t pid) const;

  struct CpuTimes {
    std::uint64_t busy = 0, total = 0;  // clock ticks over all CPUs since boot
  };
  Result<CpuTimes> hostCpu() const;
  struct Memory {
    std::uint64_t totalBytes = 0, availableBytes = 0;
  };
  Result<Memory> hostMemory() const;
  struct Ksm {
    bool running = false;
    std::uint64_t pagesShared = 0, pagesSharing = 0;
  };
  Result<Ksm> ksm() const;
  // "some avg10" of /proc/pressure/<resource> (cpu, memory, io), in percent.
  Result<double> pressure(const std::string& resource) const;
};

}  // namespace paddock
