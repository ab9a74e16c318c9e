#include "http/socket_io.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace paddock::http::detail {

StopSignal::StopSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void StopSignal::trigger() {
  triggered_ = true;
  if (!fd_.valid()) return;
  std::uint64_t one = 1;
  // Nobody ever reads the counter, so it stays readable for every present and future poller.
  [[maybe_unused]] auto n = ::write(fd_.get(), &one, sizeof one);
}

TimedStream::TimedStream(Socket& socket, int stopFd) : socket_(socket), stopFd_(stopFd) {
  ErrorCode ignored;
  socket_.non_blocking(true, ignored);
}

bool TimedStream::waitReady(short events, ErrorCode& ec) {
  pollfd fds[2] = {{socket_.native_handle(), events, 0}, {stopFd_, POLLIN, 0}};
  for (;;) {
    int timeoutMs = -1;
    if (deadline_ != Clock::time_point::max()) {
      auto left = deadline_ - Clock::now();
      if (left <= Clock::duration::zero()) {
        ec = net::error::timed_out;
        return false;
      }
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
      timeoutMs = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
    }
    int r = ::poll(fds, stopFd_ >= 0 ? 2 : 1, timeoutMs);
    if (r < 0) {
      if (errno == EINTR) continue;
      ec = ErrorCode(errno, boost::system::system_category());
      return false;
    }
    if (r == 0) continue;  // the deadline check above reports the timeout
    if (stopFd_ >= 0 && fds[1].revents != 0) {
      ec = net::error::operation_aborted;
      return false;
    }
    // POLLERR/POLLHUP included: let the read/write itself report what happened.
    return true;
  }
}

}  // namespace paddock::http::detail
