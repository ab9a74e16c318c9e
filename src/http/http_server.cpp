#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "http/listen_socket.h"
#include "http/socket_io.h"
#include "http/url.h"
#include "http/websocket_detail.h"

namespace paddock::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using detail::ErrorCode;
using detail::Socket;
using detail::TimedStream;
using detail::UniqueFd;
using namespace std::chrono_literals;

namespace {

// Covers keep-alive idle time too: a connection that sends nothing for this long is closed.
constexpr auto kHeaderTimeout = 60s;
constexpr auto kBodyTimeout = 120s;
// Per write; a peer that stops reading a stream for this long is dropped.
constexpr auto kWriteTimeout = 60s;
// How long we keep reading (and discarding) after an early error response, so that closing with
// unread input does not turn into a TCP RST that destroys the response before the peer reads it.
constexpr auto kLingerTimeout = 2s;
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
// Thread-per-connection needs a ceiling so a local runaway client cannot exhaust threads.
constexpr std::size_t kMaxConnections = 1024;

using BeastRequest = bhttp::request<bhttp::string_body>;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

bool hasLineBreak(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool isManagedHeader(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         iequals(name, "connection");
}

int sanitizeStatus(int status) {
  return status >= 100 && status <= 599 ? status : 500;
}

bhttp::response<bhttp::string_body> toBeast(Response&& response, bool keepAlive, unsigned version) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(sanitizeStatus(response.status)));
  for (auto& [name, value] : response.headers) {
    // Header values may carry user input; never let it split the header block.
    if (name.empty() || hasLineBreak(name) || hasLineBreak(value) || isManagedHeader(name)) {
      spdlog::warn("dropping invalid or server-managed response header '{}'", name);
      continue;
    }
    res.insert(name, value);
  }
  if (!response.contentType.empty() && !hasLineBreak(response.contentType))
    res.set(bhttp::field::content_type, response.contentType);
  res.keep_alive(keepAlive);
  res.body() = std::move(response.body);
  res.prepare_payload();
  return res;
}

Response statusError(int status, Errc code, std::string message) {
  Response response = errorResponse(makeError(code, std::move(message)));
  response.status = status;
  return response;
}

// Compares in time that depends only on the expected token's length.
bool constantTimeEquals(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0;
}

bool bearerMatches(const Request& request, const std::string& token) {
  if (token.empty()) return false;  // fail closed: TCP without a configured token is unusable
  auto it = request.headers.find("authorization");
  if (it == request.headers.end()) return false;
  std::string_view value = it->second;
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size() || !iequals(value.substr(0, kScheme.size()), kScheme))
    return false;
  return constantTimeEquals(value.substr(kScheme.size()), token);
}

std::string peerName(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    return "tcp:" + std::string(text) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    return "tcp:[" + std::string(text) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return "unix";
}

Request toRequest(BeastRequest& message, std::string peer) {
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = request.headers.emplace(std::move(name), std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  request.body = std::move(message.body());
  request.peer = std::move(peer);
  return request;
}

// Sends FIN, then drains input for a while so the peer gets to read what we wrote.
void lingeringClose(TimedStream& stream, Socket& socket) {
  ErrorCode ec;
  socket.shutdown(net::socket_base::shutdown_send, ec);
  stream.expiresAfter(kLingerTimeout);
  char scratch[16 * 1024];
  while (!ec) stream.read_some(net::buffer(scratch), ec);
  socket.close(ec);
}

void closeGracefully(Socket& socket) {
  ErrorCode ignored;
  socket.shutdown(net::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

class ServerExchange final : public Exchange {
 public:
  ServerExchange(Socket& socket, TimedStream& stream, const BeastRequest& message, int stopFd)
      : socket_(socket), stream_(stream), message_(message), stopFd_(stopFd) {}

  void respond(Response response) override {
    if (state_ != State::idle) {
      spdlog::warn("{} {}: response already started; respond() ignored",
                   std::string(message_.method_string()), std::string(message_.target()));
      return;
    }
    auto res = toBeast(std::move(response), message_.keep_alive(), message_.version());
    ErrorCode ec;
    stream_.expiresAfter(kWriteTimeout);
    bhttp::write(stream_, res, ec);
    state_ = ec ? State::broken : State::done;
  }

  bool beginStream(int status, std::string contentType) override {
    if (state_ != State::idle) return false;
    // HTTP/1.0 has no chunked encoding; there the body simply runs until we close.
    chunked_ = message_.version() >= 11;
    closeAfter_ = !chunked_;
    bhttp::response<bhttp::empty_body> res;
    res.version(message_.version());
    res.result(static_cast<unsigned>(sanitizeStatus(status)));
    if (!contentType.empty() && !hasLineBreak(contentType))
      res.set(bhttp::field::content_type, contentType);
    res.set(bhttp::field::cache_control, "no-cache");
    res.keep_alive(chunked_ && message_.keep_alive());
    if (chunked_) res.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> serializer(res);
    ErrorCode ec;
    stream_.expiresAfter(kWriteTimeout);
    bhttp::write_header(stream_, serializer, ec);
    state_ = ec ? State::broken : State::streaming;
    return !ec;
  }

  bool writeChunk(std::string_view data) override {
    if (state_ != State::streaming) return false;
    if (data.empty()) return true;  // a zero-length chunk would end the body
    ErrorCode ec;
    stream_.expiresAfter(kWriteTimeout);
    net::const_buffer buffer(data.data(), data.size());
    if (chunked_)
      net::write(stream_, bhttp::make_chunk(buffer), ec);
    else
      net::write(stream_, buffer, ec);
    if (ec) state_ = State::broken;
    return !ec;
  }

  void endStream() override {
    if (state_ != State::streaming) return;
    ErrorCode ec;
    if (chunked_) {
      stream_.expiresAfter(kWriteTimeout);
      net::write(stream_, bhttp::make_chunk_last(), ec);
    }
    state_ = ec ? State::broken : State::done;
  }

  bool isWebSocketUpgrade() const override { return beast::websocket::is_upgrade(message_); }

  std::unique_ptr<WebSocket> acceptWebSocket() override {
    if (state_ != State::idle || !isWebSocketUpgrade()) return nullptr;
    state_ = State::upgraded;
    return detail::acceptWebSocket(std::move(socket_), message_, stopFd_);
  }

  // After the handler: make sure the client got a complete response.
  void finish() {
    if (state_ == State::idle)
      respond(statusError(500, Errc::internal, "handler did not respond"));
    else if (state_ == State::streaming)
      endStream();
  }

  bool reusable() const { return state_ == State::done && !closeAfter_ && message_.keep_alive(); }
  bool upgraded() const { return state_ == State::upgraded; }

 private:
  enum class State { idle, streaming, done, upgraded, broken };

  Socket& socket_;
  TimedStream& stream_;
  const BeastRequest& message_;
  int stopFd_;
  State state_ = State::idle;
  bool chunked_ = true;
  bool closeAfter_ = false;  // the body is delimited by closing the connection
};

}  // namespace

class Server::Impl {
 public:
  ~Impl() { stop(); }

  Status listenUnix(const std::string& path);
  Result<int> listenTcp(const std::string& address, int port);

  void setHandler(Handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::make_shared<const Handler>(std::move(handler));
  }
  void setTcpAuthToken(std::string token) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
  }

  Status start();
  void stop();

 private:
  struct Listener {
    detail::ListenSocket socket;
    std::thread thread;
  };

  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  Status addListener(detail::ListenSocket socket);
  Status launch(Listener& listener);
  void acceptLoop(Listener& listener);
  void spawnConnection(UniqueFd fd, std::string peer, int family);
  void serveConnection(int fd, const std::string& peer, int family);
  void serveRequests(Socket& socket, const std::string& peer, bool tcp);
  void reapFinished();

  // Never run: connection sockets need an executor even though all their I/O is synchronous.
  net::io_context ioc_;
  detail::StopSignal stop_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::list<Connection> connections_;
  std::shared_ptr<const Handler> handler_;
  std::string token_;
  bool started_ = false;
  bool stopped_ = false;
};

Status Server::Impl::listenUnix(const std::string& path) {
  auto socket = detail::listenUnixSocket(path);
  if (!socket) return socket.error();
  return addListener(std::move(*socket));
}

Result<int> Server::Impl::listenTcp(const std::string& address, int port) {
  auto socket = detail::listenTcpSocket(address, port);
  if (!socket) return socket.error();
  int bound = socket->port;
  PADDOCK_TRY(addListener(std::move(*socket)));
  return bound;
}

Status Server::Impl::addListener(detail::ListenSocket socket) {
  std::lock_guard lock(mutex_);
  if (stopped_) {
    detail::removeSocketFile(socket);
    return makeError(Errc::conflict, "server is stopped");
  }
  listeners_.push_back(std::make_unique<Listener>());
  listeners_.back()->socket = std::move(socket);
  if (started_) return launch(*listeners_.back());
  return {};
}

Status Server::Impl::launch(Listener& listener) {
  try {
    listener.thread = std::thread([this, &listener] { acceptLoop(listener); });
  } catch (const std::system_error& e) {
    return makeError(Errc::internal, std::string("cannot start acceptor thread: ") + e.what());
  }
  return {};
}

Status Server::Impl::start() {
  std::lock_guard lock(mutex_);
  if (stopped_) return makeError(Errc::conflict, "server is stopped");
  if (!stop_.valid()) return makeError(Errc::internal, "cannot create stop eventfd");
  if (started_) return {};
  started_ = true;
  for (auto& listener : listeners_) {
    if (listener->socket.tcp && token_.empty())
      spdlog::warn("no TCP auth token set: every request on {} will get 401",
                   listener->socket.label);
  }
  for (auto& listener : listeners_) PADDOCK_TRY(launch(*listener));
  return {};
}

void Server::Impl::stop() {
  std::vector<std::unique_ptr<Listener>> listeners;
  std::list<Connection> connections;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    listeners = std::move(listeners_);
  }
  // Wakes acceptors, every blocked connection read/write and every accepted WebSocket.
  stop_.trigger();
  for (auto& listener : listeners) {
    if (listener->thread.joinable()) listener->thread.join();
    detail::removeSocketFile(listener->socket);
  }
  {
    // No acceptor is left to add connections.
    std::lock_guard lock(mutex_);
    connections = std::move(connections_);
  }
  for (auto& connection : connections) connection.thread.join();
}

void Server::Impl::acceptLoop(Listener& listener) {
  for (;;) {
    pollfd fds[2] = {{listener.socket.fd.get(), POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("poll on listener failed: {}", detail::errnoText(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    UniqueFd fd(::accept4(listener.socket.fd.get(), reinterpret_cast<sockaddr*>(&addr), &len,
                          SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd.valid()) {
      int err = errno;
      if (err == EAGAIN || err == EINTR || err == ECONNABORTED) continue;
      spdlog::warn("accept failed: {}", detail::errnoText(err));
      // Out of fds and the like: back off instead of spinning, but stay stoppable.
      pollfd stopOnly{stop_.fd(), POLLIN, 0};
      ::poll(&stopOnly, 1, 100);
      continue;
    }
    if (listener.socket.tcp) {
      int one = 1;  // streamed chunks and small responses must not wait for Nagle
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    spawnConnection(std::move(fd), listener.socket.tcp ? peerName(addr) : "unix",
                    listener.socket.tcp ? addr.ss_family : AF_UNIX);
  }
}

void Server::Impl::reapFinished() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done.load()) {
      it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::Impl::spawnConnection(UniqueFd fd, std::string peer, int family) {
  std::lock_guard lock(mutex_);
  reapFinished();
  if (stopped_) return;
  if (connections_.size() >= kMaxConnections) {
    static const std::string busy = [] {
      auto body = errorResponse(makeError(Errc::unavailable, "too many connections")).body;
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
             "Connection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    [[maybe_unused]] auto n =
        ::send(fd.get(), busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    spdlog::warn("refusing connection from {}: {} connections open", peer, connections_.size());
    return;
  }
  auto& connection = connections_.emplace_back();
  int raw = fd.release();
  try {
    connection.thread = std::thread([this, &connection, raw, peer = std::move(peer), family] {
      serveConnection(raw, peer, family);
      connection.done = true;
    });
  } catch (const std::system_error& e) {
    spdlog::error("cannot start connection thread: {}", e.what());
    ::close(raw);
    connections_.pop_back();
  }
}

void Server::Impl::serveConnection(int fd, const std::string& peer, int family) {
  Socket socket(ioc_);
  ErrorCode ec;
  socket.assign(Socket::protocol_type(family, family == AF_UNIX ? 0 : IPPROTO_TCP), fd, ec);
  if (ec) {
    ::close(fd);
    spdlog::error("cannot adopt connection from {}: {}", peer, ec.message());
    return;
  }
  try {
    serveRequests(socket, peer, family != AF_UNIX);
  } catch (const std::exception& e) {
    // Exceptions from here would terminate the daemon; a lost connection is the better outcome.
    spdlog::error("connection from {} failed: {}", peer, e.what());
  }
  if (socket.is_open()) closeGracefully(socket);
}

void Server::Impl::serveRequests(Socket& socket, const std::string& peer, bool tcp) {
  std::shared_ptr<const Handler> handler;
  std::string token;
  {
    std::lock_guard lock(mutex_);
    handler = handler_;
    token = token_;
  }
  TimedStream stream(socket, stop_.fd());
  beast::flat_buffer buffer;
  const auto& httpCategory = bhttp::make_error_code(bhttp::error::end_of_stream).category();

  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    ErrorCode ec;
    stream.expiresAfter(kHeaderTimeout);
    bhttp::read_header(stream, buffer, parser, ec);
    if (!ec) {
      if (iequals(sv(parser.get()[bhttp::field::expect]), "100-continue")) {
        stream.expiresAfter(kWriteTimeout);
        net::write(stream, net::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")), ec);
      }
      stream.expiresAfter(kBodyTimeout);
      if (!ec) bhttp::read(stream, buffer, parser, ec);
    }
    if (ec) {
      auto reject = [&](int status, std::string message) {
        auto res =
            toBeast(statusError(status, Errc::invalid_argument, std::move(message)), false, 11);
        ErrorCode ignored;
        stream.expiresAfter(kWriteTimeout);
        bhttp::write(stream, res, ignored);
        lingeringClose(stream, socket);
      };
      if (ec == bhttp::error::body_limit) {
        reject(413, "request body exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
      } else if (ec == bhttp::error::header_limit) {
        reject(431, "request header too large");
      } else if (ec.category() == httpCategory && ec != bhttp::error::end_of_stream &&
                 ec != bhttp::error::partial_message) {
        reject(400, "malformed HTTP request: " + ec.message());
      }
      // Otherwise the peer went away, went quiet or we are stopping: nothing useful to say.
      return;
    }

    BeastRequest message = parser.release();
    Request request = toRequest(message, peer);
    ServerExchange exchange(socket, stream, message, stop_.fd());
    auto target = parseTarget(request.target);
    if (!target) {
      exchange.respond(errorResponse(target.error()));
    } else if (tcp && !bearerMatches(request, token)) {
      auto response = statusError(401, Errc::unauthorized, "missing or wrong bearer token");
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      exchange.respond(std::move(response));
    } else if (!handler || !*handler) {
      exchange.respond(statusError(503, Errc::unavailable, "server has no handler"));
    } else {
      request.path = std::move(target->path);
      request.query = std::move(target->query);
      try {
        (*handler)(request, exchange);
      } catch (const std::exception& e) {
        spdlog::error("handler for {} {} threw: {}", request.method, request.target, e.what());
      } catch (...) {
        spdlog::error("handler for {} {} threw a non-exception", request.method, request.target);
      }
    }
    if (exchange.upgraded()) return;  // the WebSocket owns the connection now
    exchange.finish();
    if (!exchange.reusable() || stop_.triggered()) return;
  }
}

Server::Server() : impl_(std::make_unique<Impl>()) {}
Server::~Server() = default;
Status Server::listenUnix(const std::string& path) {
  return impl_->listenUnix(path);
}
Result<int> Server::listenTcp(const std::string& address, int port) {
  return impl_->listenTcp(address, port);
}
void Server::setHandler(Handler handler) {
  impl_->setHandler(std::move(handler));
}
void Server::setTcpAuthToken(std::string token) {
  impl_->setTcpAuthToken(std::move(token));
}
Status Server::start() {
  return impl_->start();
}
void Server::stop() {
  impl_->stop();
}

}  // namespace paddock::http
