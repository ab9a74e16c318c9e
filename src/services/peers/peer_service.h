// Peers: other paddockd hosts this one knows (vCenter's "add host"), the far end of migrations.
// A peer is a name, its API address (HOST:PORT, its --listen) and the bearer token it asks for;
// they are kept in the store ("peer" objects), the token never leaves this daemon again.
//
// Peer traffic is this daemon acting as an API client of the peer, authenticated by the peer's
// token over plain HTTP today. TLS slots in at http::Client (an https endpoint and the peer's
// certificate fingerprint next to the token), nothing above it changes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "http/http_client.h"
#include "store/store.h"

namespace paddock {

struct PeerRecord {
  std::string name;
  std::string address;  // "host:port"
  std::string token;
  std::int64_t addedMs = 0;
};

class PeerService {
 public:
  // `ownStateDir` tells this daemon apart from a peer (adding yourself is refused).
  PeerService(Store& store, std::string ownStateDir)
      : store_(store), ownStateDir_(std::move(ownStateDir)) {}

  // Registers a peer after checking that it answers at `address` and accepts `token`; a bad
  // name/address/token, an unreachable peer, a refused token or this daemon itself are errors
  // naming the field, and nothing is recorded.
  Result<nlohmann::json> add(const std::string& name, const std::string& address,
                             const std::string& token);
  Status remove(const std::string& name);
  Result<PeerRecord> get(const std::string& name);
  std::vector<std::string> names();
  // Every peer with what it says about itself now (asked in parallel, a few seconds at most):
  // reachable, accelerator, CPU model, free CPUs and memory; or why it cannot be reached.
  Result<std::vector<nlohmann::json>> list();
  Result<nlohmann::json> show(const std::string& name);

  // A client for the peer's API, with its token.
  Result<http::Client> client(const std::string& name);
  // One JSON request to a peer; a non-2xx answer becomes the peer's error (message prefixed
  // with "peer NAME: ").
  static Result<nlohmann::json> call(const http::Client& peer, const std::string& peerName,
                                     const std::string& method, const std::string& path,
                                     const nlohmann::json& body = nullptr,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // The same with a body sent as it is (file data).
  static Result<nlohmann::json> callRaw(const http::Client& peer, const std::string& peerName,
                                        const std::string& method, const std::string& path,
                                        std::string_view body, std::chrono::milliseconds timeout);

 private:
  nlohmann::json describe(const PeerRecord& peer);

  Store& store_;
  std::string ownStateDir_;
};

nlohmann::json toJson(const PeerRecord& p);  // without the token

}  // namespace paddock
