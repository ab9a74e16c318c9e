// Running host programs: short commands whose output we read, and detached long-lived ones.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace paddock {

struct CommandOutput {
  int exitCode = 0;
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) to completion, capturing stdout and stderr. A command still
// running at the timeout is killed. A non-zero exit is not an error here; callers decide.
Result<CommandOutput> runCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout = std::chrono::minutes(10));

// Starts argv in a new session (so signals to paddockd's group never reach it), stdin from
// /dev/null, stdout and stderr appended to logPath, no inherited descriptors. The child stays our
// child (so we can reap it and learn its exit status) but survives our death.
Result<pid_t> spawnDetached(const std::vector<std::string>& argv, const std::string& logPath);

// Like spawnDetached, but the child is killed (SIGKILL) when the calling thread ends, the
// daemon dying included: a helper must not outlive the code that would clean up after it.
Result<pid_t> spawnBound(const std::vector<std::string>& argv, const std::string& logPath);

// Runs argv with output to logPath (which starts empty) and waits for it, calling `output` with
// each new piece of what it printed (about 5 times a second) and killing it (SIGKILL) once
// `cancelled` returns true or the calling thread ends (the daemon dying included). Returns the
// wait status; `*wasCancelled` tells whether it was killed for a cancel.
Result<int> runFollowing(const std::vector<std::string>& argv, const std::string& logPath,
                         const std::function<void(std::string_view)>& output,
                         const std::function<bool()>& cancelled, bool* wasCancelled = nullptr);

// Describes a wait status: "exited with status 1", "killed by signal 9 (Killed)".
std::string describeWaitStatus(int status);

// True if a process with this pid exists and its /proc/PID/cmdline's argv[0] ends with `exe`.
bool processMatches(pid_t pid, const std::string& exe);

}  // namespace paddock
