// Internal to paddock_http (includes Asio): the stop signal and the deadline-aware
// synchronous stream the server's connection threads do their I/O through.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstddef>

#include <boost/asio/error.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include "http/unique_fd.h"

namespace paddock::http::detail {

namespace net = boost::asio;
using ErrorCode = boost::system::error_code;
// One socket type for unix and TCP connections, so the server, client and WebSocket code is
// written once.
using Socket = net::generic::stream_protocol::socket;

// A level-triggered "stop now" flag that poll() can wait on next to a socket: an eventfd that
// becomes readable once and stays readable. Cheaper and race-free compared with closing or
// shutting down sockets that other threads are blocked on.
class StopSignal {
 public:
  StopSignal();
  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void trigger();
  bool triggered() const { return triggered_.load(); }

 private:
  UniqueFd fd_;
  std::atomic<bool> triggered_{false};
};

// Wraps a connected socket as a Beast SyncReadStream/SyncWriteStream whose operations fail with
// net::error::timed_out past a deadline and with net::error::operation_aborted once the stop
// signal fires. Plain blocking Asio sockets offer neither (SO_RCVTIMEO is defeated by Asio's own
// poll loop), so the socket is switched to non-blocking mode and we poll() ourselves.
class TimedStream {
 public:
  using Clock = std::chrono::steady_clock;

  TimedStream(Socket& socket, int stopFd);

  void expiresAfter(Clock::duration d) { deadline_ = Clock::now() + d; }
  void expiresNever() { deadline_ = Clock::time_point::max(); }

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, ErrorCode& ec) {
    for (;;) {
      if (!waitReady(POLLIN, ec)) return 0;
      std::size_t n = socket_.read_some(buffers, ec);
      if (ec != net::error::would_block && ec != net::error::try_again) return n;
    }
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    ErrorCode ec;
    std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);  // only to satisfy the concept; never used
    return n;
  }

  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, ErrorCode& ec) {
    for (;;) {
      if (!waitReady(POLLOUT, ec)) return 0;
      std::size_t n = socket_.write_some(buffers, ec);
      if (ec != net::error::would_block && ec != net::error::try_again) return n;
    }
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers) {
    ErrorCode ec;
    std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  bool waitReady(short events, ErrorCode& ec);

  Socket& socket_;
  int stopFd_;
  Clock::time_point deadline_ = Clock::time_point::max();
};

}  // namespace paddock::http::detail
