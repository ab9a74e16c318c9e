// Reads one process's CPU figures cheaply enough to do every second for a hundred VMs: the
// process's total CPU time from its CPU clock (clock_getcpuclockid: one syscall, no /proc text),
// and per thread the scheduler's run and wait time from /proc/PID/task/TID/schedstat, opened once
// and re-read with pread. Nanosecond figures, unlike the tick-granular /proc/PID/stat.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace paddock {

class ProcessProbe {
 public:
  // `threads`: the thread ids to watch; `root` prefixes /proc (tests).
  ProcessProbe(pid_t pid, const std::vector<std::int64_t>& threads, const std::string& root = "");
  ~ProcessProbe();
  ProcessProbe(const ProcessProbe&) = delete;
  ProcessProbe& operator=(const ProcessProbe&) = delete;

  pid_t pid() const { return pid_; }
  size_t threadCount() const { return fds_.size(); }
  std::int64_t threadId(size_t i) const { return tids_[i]; }

  // utime + stime of the whole process, in ns. not_found once it is gone.
  Result<std::uint64_t> processCpuNs() const;

  struct ThreadTimes {
    std::uint64_t runNs = 0;   // time on a CPU
    std::uint64_t waitNs = 0;  // time runnable but waiting for a CPU (%RDY)
  };
  // not_found when the thread is gone (or its schedstat could not be opened).
  Result<ThreadTimes> thread(size_t i) const;

 private:
  pid_t pid_;
  clockid_t clock_{};
  bool haveClock_ = false;
  std::vector<std::int64_t> tids_;
  std::vector<int> fds_;  // schedstat of each thread, -1 if it could not be opened
};

// Parses a schedstat line ("run_ns wait_ns timeslices"); nullopt-like error when malformed.
Result<ProcessProbe::ThreadTimes> parseSchedstat(const char* text, size_t length);

}  // namespace paddock
