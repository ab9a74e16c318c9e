#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/files.h"

extern char** environ;

namespace paddock {

namespace {

std::vector<char*> cArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> spawnBound(const std::vector<std::string>& argv, const std::string& logPath) {
  auto args = cArgv(argv);
  pid_t parent = getpid();
  int log = open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log < 0)
    return makeError(Errc::unavailable,
                     fmt::format("cannot open {}: {}", logPath, strerror(errno)));
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(log);
    return makeError(Errc::unavailable, fmt::format("cannot start {}: {}", argv[0], strerror(err)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT}) signal(sig, SIG_DFL);
    setsid();
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) _exit(127);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(log);
  return pid;
}

Result<CommandOutput> runCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout) {
  int outPipe[2], errPipe[2];
  if (pipe2(outPipe, O_CLOEXEC) != 0) return makeError(Errc::internal, "pipe failed");
  if (pipe2(errPipe, O_CLOEXEC) != 0) {
    close(outPipe[0]);
    close(outPipe[1]);
    return makeError(Errc::internal, "pipe failed");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, outPipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errPipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  auto args = cArgv(argv);
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(outPipe[1]);
  close(errPipe[1]);
  if (rc != 0) {
    close(outPipe[0]);
    close(errPipe[0]);
    return makeError(Errc::unavailable, fmt::format("cannot run {}: {}", argv[0], strerror(rc)));
  }
  CommandOutput result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
  int open = 2;
  bool timedOut = false;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(got));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  if (timedOut) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut)
    return makeError(Errc::timeout,
                     fmt::format("{} did not finish within {} s", argv[0], timeout.count() / 1000));
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Result<pid_t> spawnDetached(const std::vector<std::string>& argv, const std::string& logPath) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t dflt;
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  sigaddset(&dflt, SIGTERM);
  sigaddset(&dflt, SIGINT);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  auto args = cArgv(argv);
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return makeError(Errc::unavailable, fmt::format("cannot start {}: {}", argv[0], strerror(rc)));
  return pid;
}

Result<int> runFollowing(const std::vector<std::string>& argv, const std::string& logPath,
                         const std::function<void(std::string_view)>& output,
                         const std::function<bool()>& cancelled, bool* wasCancelled) {
  if (wasCancelled) *wasCancelled = false;
  unlink(logPath.c_str());
  auto pid = spawnBound(argv, logPath);
  if (!pid) return pid.error();
  int fd = open(logPath.c_str(), O_RDONLY | O_CLOEXEC);
  auto drain = [&] {
    char buf[4096];
    ssize_t n;
    while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
      if (output) output(std::string_view(buf, static_cast<size_t>(n)));
  };
  int status = 0;
  bool killed = false;
  for (;;) {
    pid_t done = waitpid(*pid, &status, WNOHANG);
    drain();
    if (done == *pid) break;
    if (!killed && cancelled && cancelled()) {
      kill(*pid, SIGKILL);
      killed = true;
    }
    usleep(200'000);
  }
  drain();
  if (fd >= 0) close(fd);
  if (wasCancelled) *wasCancelled = killed;
  return status;
}

std::string describeWaitStatus(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return fmt::format("killed by signal {} ({})", sig, strsignal(sig));
  }
  return fmt::format("ended with wait status {}", status);
}

bool processMatches(pid_t pid, const std::string& exe) {
  if (pid <= 0) return false;
  auto cmdline = readFile(fmt::format("/proc/{}/cmdline", pid));
  if (!cmdline) return false;
  std::string argv0 = cmdline->substr(0, cmdline->find('\0'));
  return argv0.size() >= exe.size() &&
         argv0.compare(argv0.size() - exe.size(), exe.size(), exe) == 0;
}

}  // namespace paddock
