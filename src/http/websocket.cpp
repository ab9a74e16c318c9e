// WebSocket over Beast's *asynchronous* API, driven by one private I/O thread per connection.
//
// Why not Beast's synchronous websocket::stream with a write mutex: a synchronous read() answers
// pings and close frames by writing on the socket itself, with no coordination with a write()
// running on another thread, so control frames could interleave with data frames and the two
// threads race on the stream's state. Beast's async operations do coordinate: one read, one
// write and one close may be outstanding at once. So every operation is started on the I/O
// thread and callers block on a future; sends are serialized by a mutex to keep at most one
// write outstanding.

#include "http/websocket.h"

#include <fcntl.h>

#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket.hpp>

#include "http/http_types.h"
#include "http/websocket_detail.h"

namespace paddock::http {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using detail::ErrorCode;
using detail::Socket;

namespace {

// Bounds the opening handshake and, later, how long close() waits for the peer's close frame.
constexpr auto kOpenTimeout = std::chrono::seconds(10);
constexpr auto kCloseTimeout = std::chrono::seconds(3);
constexpr std::size_t kMaxMessage = 16 * 1024 * 1024;

websocket::stream_base::timeout timeouts(std::chrono::seconds handshake) {
  websocket::stream_base::timeout t{};
  t.handshake_timeout = handshake;
  // No idle timeout: consoles may sit silent for hours and a receive() is not always pending
  // to answer keep-alive pings.
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  return t;
}

Socket adopt(net::io_context& ioc, Socket::protocol_type protocol, int fd) {
  Socket socket(ioc);
  ErrorCode ec;
  socket.assign(protocol, fd, ec);
  if (ec) ::close(fd);  // not adopted; the stream then fails cleanly with bad_descriptor
  return socket;
}

}  // namespace

struct WebSocket::Impl {
  Impl(Socket::protocol_type protocol, int fd, int stopFd)
      : work_(ioc_.get_executor()), ws_(adopt(ioc_, protocol, fd)), stopWatch_(ioc_) {
    ws_.read_message_max(kMaxMessage);
    ws_.set_option(timeouts(kOpenTimeout));
    if (stopFd >= 0) {
      // Our own copy, so the Server may be destroyed while this socket lives on.
      int copy = ::fcntl(stopFd, F_DUPFD_CLOEXEC, 0);
      ErrorCode ec;
      if (copy >= 0) stopWatch_.assign(copy, ec);
      if (copy >= 0 && ec) ::close(copy);
      if (!ec && copy >= 0) {
        stopWatch_.async_wait(net::posix::descriptor_base::wait_read, [this](ErrorCode ec) {
          if (!ec) dropConnection();
        });
      }
    }
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~Impl() {
    if (!thread_.joinable()) return;
    net::post(ioc_, [this] {
      ErrorCode ignored;
      stopWatch_.close(ignored);
      beast::get_lowest_layer(ws_).close(ignored);
      work_.reset();
      // Pending Beast timers would otherwise keep run() busy until they expire.
      ioc_.stop();
    });
    thread_.join();
  }

  // Runs start(done) on the I/O thread and blocks until done(ec) is called.
  template <class Start>
  ErrorCode await(Start start) {
    auto promise = std::make_shared<std::promise<ErrorCode>>();
    auto future = promise->get_future();
    auto done = [promise](ErrorCode ec) { promise->set_value(ec); };
    net::post(ioc_, [&start, done] { start(done); });
    try {
      return future.get();
    } catch (const std::future_error&) {
      return net::error::operation_aborted;  // the I/O thread went away with the handler
    }
  }

  bool send(std::string_view data, bool text) {
    std::lock_guard lock(sendMutex_);
    auto ec = await([&](auto done) {
      ws_.text(text);
      ws_.async_write(net::buffer(data.data(), data.size()),
                      [done](ErrorCode ec, std::size_t) { done(ec); });
    });
    return !ec;
  }

  Result<std::string> receive() {
    std::lock_guard lock(receiveMutex_);
    std::string message;
    auto ec = await([&](auto done) {
      ws_.async_read(readBuffer_, [this, &message, done](ErrorCode ec, std::size_t) {
        if (!ec) message = beast::buffers_to_string(readBuffer_.data());
        readBuffer_.consume(readBuffer_.size());
        done(ec);
      });
    });
    if (!ec) return message;
    if (ec == websocket::error::closed) return makeError(Errc::unavailable, "websocket closed");
    if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor)
      return makeError(Errc::unavailable, "websocket closed");
    return makeError(Errc::unavailable, "websocket connection lost: " + ec.message());
  }

  void close() {
    std::lock_guard lock(closeMutex_);
    auto ec = await([&](auto done) {
      if (closing_ || !ws_.is_open()) return done({});
      closing_ = true;
      ws_.set_option(timeouts(kCloseTimeout));
      ws_.async_close(websocket::close_code::normal, [done](ErrorCode ec) { done(ec); });
    });
    if (ec) spdlog::debug("websocket close: {}", ec.message());
  }

  // I/O thread only.
  void dropConnection() {
    ErrorCode ignored;
    auto& socket = beast::get_lowest_layer(ws_);
    socket.shutdown(net::socket_base::shutdown_both, ignored);
    socket.close(ignored);
  }

  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  websocket::stream<Socket> ws_;
  net::posix::stream_descriptor stopWatch_;
  std::thread thread_;
  std::mutex sendMutex_;
  std::mutex receiveMutex_;
  std::mutex closeMutex_;
  beast::flat_buffer readBuffer_;  // I/O thread only
  bool closing_ = false;           // I/O thread only
};

WebSocket::WebSocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebSocket::~WebSocket() {
  // A close frame tells the peer this was deliberate rather than a dropped connection.
  if (impl_) impl_->close();
}

bool WebSocket::sendBinary(std::string_view data) {
  return impl_->send(data, false);
}
bool WebSocket::sendText(std::string_view data) {
  return impl_->send(data, true);
}
Result<std::string> WebSocket::receive() {
  return impl_->receive();
}
void WebSocket::close() {
  impl_->close();
}

namespace detail {

namespace {

// Moves the connection out of its current io_context so the WebSocket can own the I/O.
std::unique_ptr<WebSocket::Impl> takeOver(Socket& socket, int stopFd) {
  ErrorCode ec;
  auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) return nullptr;
  int fd = socket.release(ec);
  if (ec) return nullptr;
  return std::make_unique<WebSocket::Impl>(protocol, fd, stopFd);
}

}  // namespace

std::unique_ptr<WebSocket> acceptWebSocket(
    Socket socket, const beast::http::request<beast::http::string_body>& request, int stopFd) {
  try {
    auto impl = takeOver(socket, stopFd);
    if (!impl) return nullptr;
    auto ec = impl->await([&](auto done) {
      impl->ws_.async_accept(request, [&impl = *impl, done](ErrorCode ec) {
        if (!ec) impl.ws_.set_option(timeouts(kCloseTimeout));
        done(ec);
      });
    });
    if (ec) {
      spdlog::debug("websocket accept failed: {}", ec.message());
      return nullptr;
    }
    return std::make_unique<WebSocket>(std::move(impl));
  } catch (const std::exception& e) {
    spdlog::warn("websocket accept failed: {}", e.what());
    return nullptr;
  }
}

Result<std::unique_ptr<WebSocket>> connectWebSocket(Socket socket,
                                                    const ClientHandshake& handshake) {
  try {
    auto impl = takeOver(socket, -1);
    if (!impl)
      return makeError(Errc::unavailable,
                       "cannot reach paddockd at " + handshake.peerLabel + ": connection lost");
    websocket::response_type response;
    auto ec = impl->await([&](auto done) {
      auto authorization = handshake.authorization;
      impl->ws_.set_option(
          websocket::stream_base::decorator([authorization](websocket::request_type& req) {
            req.set(beast::http::field::user_agent, "paddock");
            if (!authorization.empty()) req.set(beast::http::field::authorization, authorization);
          }));
      impl->ws_.async_handshake(response, handshake.host, handshake.target,
                                [&impl = *impl, done](ErrorCode ec) {
                                  if (!ec) impl.ws_.set_option(timeouts(kCloseTimeout));
                                  done(ec);
                                });
    });
    if (!ec) return std::make_unique<WebSocket>(std::move(impl));
    if (ec == websocket::error::upgrade_declined) {
      Response declined;
      declined.status = static_cast<int>(response.result_int());
      declined.contentType = std::string(response[beast::http::field::content_type]);
      declined.body = response.body();
      return errorFromResponse(declined);
    }
    if (ec == beast::error::timeout)
      return makeError(Errc::timeout, "websocket handshake with paddockd at " +
                                          handshake.peerLabel + " timed out");
    return makeError(Errc::unavailable, "websocket handshake with paddockd at " +
                                            handshake.peerLabel + " failed: " + ec.message());
  } catch (const std::exception& e) {
    return makeError(Errc::internal, std::string("websocket setup failed: ") + e.what());
  }
}

}  // namespace detail

}  // namespace paddock::http
