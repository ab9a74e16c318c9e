// Every call runs Beast's async operations on a private io_context in the calling thread; that
// is what gives us deadlines (a timer closes the socket) and lets request() read the response
// while the body is still being written (a server may answer 413 early and stop reading).

#include "http/http_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cctype>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/http/write.hpp>

#include "http/socket_io.h"
#include "http/websocket_detail.h"

namespace paddock::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using detail::ErrorCode;
using detail::Socket;

namespace {

constexpr std::uint64_t kMaxResponseBytes = 256 * 1024 * 1024;

beast::string_view bsv(std::string_view s) {
  return {s.data(), s.size()};
}

// One connection to paddockd and the io_context that drives it.
class Connection {
 public:
  explicit Connection(const Endpoint& endpoint)
      : endpoint_(endpoint), socket_(ioc_), timer_(ioc_) {}

  Socket& socket() { return socket_; }
  bool timedOut() const { return timedOut_; }

  // Past the deadline the socket is closed, which fails whatever operation is pending.
  void arm(std::chrono::milliseconds timeout) {
    armed_ = true;
    timer_.expires_after(timeout);
    timer_.async_wait([this](ErrorCode ec) {
      // armed_ also catches an expiry that was already queued when disarm() ran.
      if (ec || !armed_) return;
      timedOut_ = true;
      close();
    });
  }
  void disarm() {
    armed_ = false;
    timer_.cancel();
  }

  void close() {
    ErrorCode ignored;
    socket_.close(ignored);
  }

  // Runs completion handlers in this thread until `flag` is set.
  void runUntil(const bool& flag) {
    if (ioc_.stopped()) ioc_.restart();
    while (!flag && ioc_.run_one() > 0) {
    }
  }

  Status connect() {
    std::vector<Socket::endpoint_type> targets;
    if (endpoint_.isTcp()) {
      net::ip::tcp::resolver resolver(ioc_);
      ErrorCode ec;
      auto results = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
      if (ec) return unreachable(ec);
      for (const auto& entry : results) targets.emplace_back(entry.endpoint());
    } else {
      sockaddr_un probe{};
      if (endpoint_.path.size() >= sizeof probe.sun_path)
        return makeError(Errc::invalid_argument, "unix socket path too long: " + endpoint_.path);
      targets.emplace_back(net::local::stream_protocol::endpoint(endpoint_.path));
    }
    ErrorCode last = net::error::host_not_found;
    for (const auto& target : targets) {
      close();
      socket_.open(target.protocol(), last);
      if (last) continue;
      detail::setCloseOnExec(socket_.native_handle());
      bool done = false;
      socket_.async_connect(target, [&](ErrorCode ec) {
        last = ec;
        done = true;
      });
      runUntil(done);
      if (!last) {
        if (endpoint_.isTcp()) {
          int one = 1;
          ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        return {};
      }
      if (timedOut_) break;
    }
    return unreachable(last);
  }

  // The error for a failed operation, phrased for people running the CLI.
  Error unreachable(const ErrorCode& ec) const {
    if (timedOut_)
      return makeError(Errc::timeout, "timed out talking to paddockd at " + endpoint_.toString());
    return makeError(Errc::unavailable,
                     "cannot reach paddockd at " + endpoint_.toString() + ": " + ec.message());
  }
  Error broken(const ErrorCode& ec) const {
    if (timedOut_)
      return makeError(Errc::timeout, "timed out talking to paddockd at " + endpoint_.toString());
    std::string why = ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message
                          ? "connection closed early"
                          : ec.message();
    return makeError(Errc::unavailable,
                     "connection to paddockd at " + endpoint_.toString() + " failed: " + why);
  }

 private:
  const Endpoint& endpoint_;
  net::io_context ioc_;
  Socket socket_;
  net::steady_timer timer_;
  bool armed_ = false;
  bool timedOut_ = false;
};

bool validToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= ' ' || c >= 0x7f) return false;
  return true;
}

Response toResponse(bhttp::response<bhttp::string_body>&& res) {
  Response response;
  response.status = static_cast<int>(res.result_int());
  response.contentType = std::string(res[bhttp::field::content_type]);
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    response.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  response.body = std::move(res.body());
  return response;
}

}  // namespace

Client::Client(Endpoint endpoint, std::string token)
    : endpoint_(std::move(endpoint)), token_(std::move(token)) {}

namespace {

Result<bhttp::request<bhttp::string_body>> makeRequest(const Endpoint& endpoint,
                                                       const std::string& token,
                                                       std::string_view method,
                                                       std::string_view target,
                                                       std::string_view body) {
  // Both end up verbatim in the request line; reject anything that could split it.
  if (!validToken(method)) return makeError(Errc::invalid_argument, "invalid HTTP method");
  if (!validToken(target) || target.front() != '/')
    return makeError(Errc::invalid_argument, "invalid request target: " + std::string(target));
  bhttp::request<bhttp::string_body> req;
  auto verb = bhttp::string_to_verb(bsv(method));
  if (verb != bhttp::verb::unknown)
    req.method(verb);
  else
    req.method_string(bsv(method));
  req.target(bsv(target));
  req.version(11);
  req.set(bhttp::field::host, endpoint.hostHeader());
  req.set(bhttp::field::user_agent, "paddock");
  if (endpoint.isTcp() && !token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  // One connection per call: tell the server not to keep a thread waiting for more.
  req.keep_alive(false);
  req.prepare_payload();
  return req;
}

}  // namespace

Result<Response> Client::request(std::string_view method, std::string_view target,
                                 std::string_view body, std::chrono::milliseconds timeout) const {
  try {
    auto req = makeRequest(endpoint_, token_, method, target, body);
    if (!req) return req.error();
    Connection conn(endpoint_);
    conn.arm(timeout);
    PADDOCK_TRY(conn.connect());

    bool written = false;
    bool read = false;
    ErrorCode writeEc;
    ErrorCode readEc;
    bhttp::async_write(conn.socket(), *req, [&](ErrorCode ec, std::size_t) {
      writeEc = ec;
      written = true;
    });
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    bhttp::async_read(conn.socket(), buffer, parser, [&](ErrorCode ec, std::size_t) {
      readEc = ec;
      read = true;
    });
    conn.runUntil(read);
    // Done either way; a write still pending (server answered early) is abandoned.
    conn.close();
    conn.runUntil(written);
    conn.disarm();
    if (readEc) return conn.broken(readEc);
    return toResponse(parser.release());
  } catch (const std::exception& e) {
    return makeError(Errc::internal, std::string("HTTP request failed: ") + e.what());
  }
}

Status Client::stream(std::string_view method, std::string_view target,
                      const std::function<bool(std::string_view chunk)>& onChunk,
                      std::string_view body, std::chrono::milliseconds headerTimeout) const {
  try {
    auto req = makeRequest(endpoint_, token_, method, target, body);
    if (!req) return req.error();
    Connection conn(endpoint_);
    conn.arm(headerTimeout);
    PADDOCK_TRY(conn.connect());

    bool done = false;
    ErrorCode ec;
    bhttp::async_write(conn.socket(), *req, [&](ErrorCode e, std::size_t) {
      ec = e;
      done = true;
    });
    conn.runUntil(done);
    if (ec) return conn.broken(ec);

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    bool deliver = false;  // set once we know the status is 2xx
    bool stopped = false;
    std::string pending;
    std::string errorBody;
    // Reassembles each chunk (Beast may hand it over in pieces) so that onChunk sees exactly what
    // the server passed to writeChunk().
    auto onChunkBody = [&](std::uint64_t remain, beast::string_view data,
                           ErrorCode& cbEc) -> std::size_t {
      if (!deliver) {
        errorBody.append(data.data(), data.size());
        return data.size();
      }
      pending.append(data.data(), data.size());
      if (remain == data.size()) {
        bool more = onChunk(pending);
        pending.clear();
        if (!more) {
          stopped = true;
          cbEc = net::error::operation_aborted;
        }
      }
      return data.size();
    };
    parser.on_chunk_body(onChunkBody);

    done = false;
    bhttp::async_read_header(conn.socket(), buffer, parser, [&](ErrorCode e, std::size_t) {
      ec = e;
      done = true;
    });
    conn.runUntil(done);
    if (ec) return conn.broken(ec);
    conn.disarm();

    int status = static_cast<int>(parser.get().result_int());
    deliver = status >= 200 && status < 300;
    if (!deliver) conn.arm(headerTimeout);  // an error body is small; don't wait forever
    done = false;
    bhttp::async_read(conn.socket(), buffer, parser, [&](ErrorCode e, std::size_t) {
      ec = e;
      done = true;
    });
    conn.runUntil(done);
    if (stopped) return {};
    if (ec) return conn.broken(ec);

    auto response = toResponse(parser.release());
    if (!deliver) {
      if (response.body.empty()) response.body = std::move(errorBody);
      return errorFromResponse(response);
    }
    // Not chunked after all (a plain 2xx): hand over the body in one piece.
    if (!response.body.empty()) onChunk(response.body);
    return {};
  } catch (const std::exception& e) {
    return makeError(Errc::internal, std::string("HTTP stream failed: ") + e.what());
  }
}

Result<std::unique_ptr<WebSocket>> Client::openWebSocket(
    std::string_view target, std::chrono::milliseconds connectTimeout) const {
  try {
    if (!validToken(target) || target.front() != '/')
      return makeError(Errc::invalid_argument, "invalid request target: " + std::string(target));
    Connection conn(endpoint_);
    conn.arm(connectTimeout);
    PADDOCK_TRY(conn.connect());
    conn.disarm();
    detail::ClientHandshake handshake;
    handshake.host = endpoint_.hostHeader();
    handshake.target = std::string(target);
    if (endpoint_.isTcp() && !token_.empty()) handshake.authorization = "Bearer " + token_;
    handshake.peerLabel = endpoint_.toString();
    return detail::connectWebSocket(std::move(conn.socket()), handshake);
  } catch (const std::exception& e) {
    return makeError(Errc::internal, std::string("websocket setup failed: ") + e.what());
  }
}

}  // namespace paddock::http
