// Typed client of paddockd's REST API, shared by the CLI, tests and benchmarks.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "http/endpoint.h"
#include "http/http_client.h"
#include "model/operation.h"

namespace paddock {

struct ClientOptions {
  std::string endpoint;  // "unix:/path", "/path" or "host:port"
  std::string token;
};

// Where to find paddockd: --host, then $PADDOCK_HOST, then $PADDOCK_SOCKET, then the default
// socket of the system state dir. The token comes from --token-file, $PADDOCK_TOKEN or
// $PADDOCK_TOKEN_FILE.
Result<ClientOptions> resolveClientOptions(const std::string& hostFlag,
                                           const std::string& tokenFile);

inline constexpr const char* kDefaultSocket = "/var/lib/paddock/paddockd.sock";

class PaddockClient {
 public:
  static Result<std::unique_ptr<PaddockClient>> connect(const ClientOptions& options);

  // One request; a 4xx/5xx answer becomes an Error carrying the API's code, message and field.
  Result<nlohmann::json> call(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nullptr);
  Result<std::string> callText(const std::string& method, const std::string& path);

  // Polls an operation until it ends, reporting progress; returns its result or its error.
  Result<nlohmann::json> waitOperation(
      int64_t id, const std::function<void(int percent, const std::string& message)>& progress);

  // Streams newline-delimited events until `onEvent` returns false.
  Status followEvents(int64_t after, bool follow,
                      const std::function<bool(const nlohmann::json&)>& onEvent);

  Result<std::unique_ptr<http::WebSocket>> openWebSocket(const std::string& path);
  const http::Endpoint& endpoint() const { return endpoint_; }

 private:
  PaddockClient(http::Endpoint endpoint, std::string token);

  http::Endpoint endpoint_;
  http::Client http_;
};

}  // namespace paddock
