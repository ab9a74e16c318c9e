#include "bench/micro.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

namespace paddock::bench {

namespace {

using Clock = std::chrono::steady_clock;

double usPer(Clock::time_point start, int iterations) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  return static_cast<double>(ns) / 1000.0 / iterations;
}

Error sysError(const char* what) {
  return makeError(Errc::internal, fmt::format("{}: {}", what, std::strerror(errno)));
}

Status checkIterations(int iterations) {
  if (iterations < 1) return makeError(Errc::invalid_argument, "iterations must be at least 1");
  return {};
}

// Runs `child` in a forked process `iterations` times, waiting for each.
Result<double> spawnLoop(int iterations, void (*child)()) {
  PADDOCK_TRY(checkIterations(iterations));
  auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    pid_t pid = fork();
    if (pid < 0) return sysError("fork");
    if (pid == 0) child();
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return sysError("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return makeError(Errc::internal, "the child process failed");
  }
  return usPer(start, iterations);
}

void exitAtOnce() {
  _exit(0);
}

void execTrue() {
  char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
  execv("/bin/true", argv);
  _exit(127);
}

}  // namespace

Result<double> nullSyscallUs(int iterations) {
  PADDOCK_TRY(checkIterations(iterations));
  auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) (void)syscall(SYS_getppid);
  return usPer(start, iterations);
}

Result<double> contextSwitchUs(int iterations) {
  PADDOCK_TRY(checkIterations(iterations));
  int there[2], back[2];
  if (pipe(there) != 0) return sysError("pipe");
  if (pipe(back) != 0) {
    close(there[0]);
    close(there[1]);
    return sysError("pipe");
  }
  pid_t pid = fork();
  if (pid < 0) return sysError("fork");
  if (pid == 0) {
    char c;
    for (int i = 0; i < iterations; ++i)
      if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1) _exit(1);
    _exit(0);
  }
  close(there[0]);
  close(back[1]);
  char c = 'x';
  bool ok = true;
  auto start = Clock::now();
  for (int i = 0; i < iterations && ok; ++i)
    ok = write(there[1], &c, 1) == 1 && read(back[0], &c, 1) == 1;
  double us = usPer(start, iterations) / 2;
  close(there[1]);
  close(back[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return makeError(Errc::internal, "the ping-pong partner failed");
  return us;
}

Result<double> forkExitUs(int iterations) {
  return spawnLoop(iterations, exitAtOnce);
}

Result<double> forkExecUs(int iterations) {
  return spawnLoop(iterations, execTrue);
}

Result<double> mmapUs(int iterations) {
  PADDOCK_TRY(checkIterations(iterations));
  constexpr std::size_t kBytes = 1 << 20;
  auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return sysError("mmap");
    static_cast<volatile char*>(p)[0] = 1;
    munmap(p, kBytes);
  }
  return usPer(start, iterations);
}

Result<double> pageFaultUs(int iterations) {
  PADDOCK_TRY(checkIterations(iterations));
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  constexpr std::size_t kBytes = 64 << 20;
  const int perMapping = static_cast<int>(kBytes / page);
  double totalUs = 0;
  for (int done = 0; done < iterations;) {
    void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return sysError("mmap");
    int n = std::min(perMapping, iterations - done);
    auto* bytes = static_cast<volatile char*>(p);
    auto start = Clock::now();
    for (int i = 0; i < n; ++i) bytes[static_cast<std::size_t>(i) * page] = 1;
    totalUs += usPer(start, 1);
    munmap(p, kBytes);
    done += n;
  }
  return totalUs / iterations;
}

const std::vector<MicroBenchmark>& microBenchmarks() {
  static const std::vector<MicroBenchmark> all = {
      {"null_syscall_us", nullSyscallUs, 1'000'000},
      {"context_switch_us", contextSwitchUs, 20'000},
      {"fork_exit_us", forkExitUs, 1'000},
      {"fork_exec_us", forkExecUs, 500},
      {"mmap_us", mmapUs, 20'000},
      {"page_fault_us", pageFaultUs, 100'000},
  };
  return all;
}

}  // namespace paddock::bench
