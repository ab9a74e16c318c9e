// The load generator of the web-hosting workload ("Xen and the Art of Repeated Research",
// after SPECweb99): closed-loop HTTP/1.1 keep-alive clients, `connectionsPerServer` for each
// server, each sending its next request of the Table 2 mix (web_mix.h) as soon as the previous
// answer is complete. It reports requests per second and the fraction answered within the QoS
// deadline (300 ms), per server and in total.
//
// One thread drives every connection with epoll. What is measured: answers completed inside the
// window that follows the warm-up; a request still outstanding when the window closes is not
// counted. A request's latency runs from the moment it is begun (its connect included, when it
// needs a new connection) to the last byte of the answer.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/web_mix.h"
#include "common/result.h"

namespace paddock::bench {

struct WebServer {
  std::string host;  // an IPv4/IPv6 address or a name
  int port = 0;
  std::string name;  // for reports, e.g. the guest's name
};

struct WebLoadOptions {
  std::vector<WebServer> servers;
  int connectionsPerServer = 4;
  std::chrono::milliseconds warmup{2000};
  std::chrono::milliseconds duration{10000};  // the measured window
  std::chrono::milliseconds deadline{300};    // the QoS bound
  std::chrono::milliseconds requestTimeout{10000};
};

struct WebLoadStats {
  // Correct answers completed in the window: a 2xx with a Content-Length body (of the file's
  // size, for static files).
  std::uint64_t requests = 0;
  // Failed requests in the window: a connect that failed, a non-2xx answer, a wrong static size,
  // a chunked or malformed answer, a connection closed before the answer was complete, a timeout.
  // After one, the connection is closed and opened again 100 ms later.
  std::uint64_t errors = 0;
  std::string firstError;        // the first of them, for people ("" when there was none)
  double requestsPerSecond = 0;  // requests / the window's length
  // Correct answers within the deadline / (requests + errors): a failed request was not
  // answered in time either. 0 when there was neither.
  double withinDeadline = 0;
  double p50Ms = 0, p90Ms = 0, p99Ms = 0;         // latency of the correct answers (nearest rank)
  std::array<std::uint64_t, kWebKinds> byKind{};  // correct answers per WebKind (enum order)
};

struct WebServerLoad {
  WebServer server;
  WebLoadStats stats;
};

struct WebLoadResult {
  std::vector<WebServerLoad> servers;  // in the order of WebLoadOptions::servers
  WebLoadStats total;
  double seconds = 0;  // the measured window
  std::chrono::milliseconds deadline{300};
};

// Drives the servers for warm-up + duration. invalid_argument naming the field when the options
// are not usable (no servers, connectionsPerServer < 1, a warm-up < 0, a duration, deadline or
// request timeout <= 0, a server without host or with a port outside 1..65535, a host that does
// not resolve); internal when epoll cannot be set up. Servers that fail are not an error here:
// their requests count as errors and the caller decides.
Result<WebLoadResult> runWebLoad(const WebLoadOptions& options);

// The result for raw.json: seconds, deadline_ms, "total" and "servers" (name, host, port and the
// stats; by_kind keyed by kind: static_small ... cgi_get).
nlohmann::json toJson(const WebLoadResult& result);

}  // namespace paddock::bench
