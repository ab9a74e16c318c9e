#include "common/process_probe.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>

#include <fmt/format.h>

namespace paddock {

ProcessProbe::ProcessProbe(pid_t pid, const std::vector<std::int64_t>& threads,
                           const std::string& root)
    : pid_(pid), tids_(threads) {
  haveClock_ = clock_getcpuclockid(pid, &clock_) == 0;
  for (auto tid : tids_) {
    std::string path = fmt::format("{}/proc/{}/task/{}/schedstat", root, pid, tid);
    fds_.push_back(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
}

ProcessProbe::~ProcessProbe() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

Result<std::uint64_t> ProcessProbe::processCpuNs() const {
  timespec ts{};
  if (!haveClock_ || clock_gettime(clock_, &ts) != 0)
    return makeError(Errc::not_found, fmt::format("process {} is gone", pid_));
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

Result<ProcessProbe::ThreadTimes> ProcessProbe::thread(size_t i) const {
  if (i >= fds_.size() || fds_[i] < 0)
    return makeError(Errc::not_found, fmt::format("no schedstat for thread {} of {}", i, pid_));
  char buf[128];
  ssize_t n = ::pread(fds_[i], buf, sizeof buf, 0);
  if (n <= 0)
    return makeError(Errc::not_found,
                     fmt::format("thread {} of process {} is gone", tids_[i], pid_));
  return parseSchedstat(buf, static_cast<size_t>(n));
}

Result<ProcessProbe::ThreadTimes> parseSchedstat(const char* text, size_t length) {
  const char* p = text;
  const char* end = text + length;
  ProcessProbe::ThreadTimes t;
  auto a = std::from_chars(p, end, t.runNs);
  if (a.ec == std::errc() && a.ptr < end && *a.ptr == ' ') {
    auto b = std::from_chars(a.ptr + 1, end, t.waitNs);
    if (b.ec == std::errc()) return t;
  }
  return makeError(Errc::internal,
                   fmt::format("cannot parse schedstat '{}'", std::string(text, length)));
}

}  // namespace paddock
