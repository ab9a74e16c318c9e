// What /proc and /sys tell about processes and the host, for the agentless collector. Every
// reader returns not_found when the file is missing (process gone, kernel without the feature)
// and internal when it cannot be parsed. `root` is "/" except in tests. The host-wide files are
// opened once and re-read with pread (the collector reads them every second), so one reader
// belongs to one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"

namespace paddock {

// Files kept open and re-read from offset 0: /proc and sysfs regenerate them on every read.
class ProcFiles {
 public:
  ProcFiles() = default;
  ~ProcFiles();
  ProcFiles(const ProcFiles&) = delete;
  ProcFiles& operator=(const ProcFiles&) = delete;
  ProcFiles(ProcFiles&& other) noexcept : fds_(std::move(other.fds_)) { other.fds_.clear(); }
  ProcFiles& operator=(ProcFiles&&) = delete;

  // The file's whole text; not_found when it cannot be opened or read.
  Result<std::string> read(const std::string& path);

 private:
  std::map<std::string, int> fds_;
};

struct ProcReader {
  std::string root = "";  // prefix for /proc and /sys paths ("" = the real ones)
  mutable ProcFiles files{};

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
