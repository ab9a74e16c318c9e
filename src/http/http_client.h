// Talks HTTP/1.1 to paddockd over a unix socket or TCP. Beast stays inside the .cpp.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/endpoint.h"
#include "http/http_types.h"
#include "http/websocket.h"

namespace paddock::http {

// Each call opens its own connection, so one Client may be used from several threads at once.
// Transport failures are errors: Errc::unavailable when paddockd cannot be reached or the
// connection breaks, Errc::timeout past the deadline. HTTP error statuses are not: request()
// returns them as a Response (see errorFromResponse()).
class Client {
 public:
  // token: sent as "Authorization: Bearer <token>" on TCP connections (never over unix sockets).
  explicit Client(Endpoint endpoint, std::string token = "");

  const Endpoint& endpoint() const { return endpoint_; }

  // The whole exchange (connect, send, receive) must finish within `timeout`. A non-empty body is
  // sent as application/json.
  Result<Response> request(std::string_view method, std::string_view target,
                           std::string_view body = "",
                           std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // For chunked responses (logs, events): calls onChunk once per chunk the server wrote, as it
  // arrives, until the stream ends or onChunk returns false (then returns success and drops the
  // connection). `headerTimeout` bounds only connecting and getting the response head; the body
  // may take forever. A non-2xx status comes back as the server's error.
  Status stream(std::string_view method, std::string_view target,
                const std::function<bool(std::string_view chunk)>& onChunk,
                std::string_view body = "",
                std::chrono::milliseconds headerTimeout = std::chrono::seconds(60)) const;

  // A refused upgrade comes back as the server's error (e.g. not_found, unauthorized).
  Result<std::unique_ptr<WebSocket>> openWebSocket(
      std::string_view target,
      std::chrono::milliseconds connectTimeout = std::chrono::seconds(30)) const;

 private:
  Endpoint endpoint_;
  std::string token_;
};

}  // namespace paddock::http
