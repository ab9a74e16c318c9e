// What tests read about host processes from /proc: CPU use and status fields.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace paddock::test {

// User + system CPU seconds of a process so far; -1 if it is gone.
double cpuSeconds(pid_t pid);
// Percent of one CPU each process used over `window`.
std::vector<double> cpuPercent(const std::vector<pid_t>& pids, std::chrono::seconds window);
// The value of "Key:" in /proc/PID/status (or a task's), e.g. Cpus_allowed_list.
std::string statusField(const std::string& path, const std::string& key);

}  // namespace paddock::test
