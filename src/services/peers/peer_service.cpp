#include "services/peers/peer_service.h"

#include <fmt/format.h>

#include <future>

#include "common/clock.h"
#include "common/names.h"

namespace paddock {

namespace {

constexpr const char* kKind = "peer";
constexpr auto kProbeTimeout = std::chrono::seconds(5);

Result<PeerRecord> peerFromJson(const nlohmann::json& j) {
  try {
    return PeerRecord{j.at("name").get<std::string>(), j.at("address").get<std::string>(),
                      j.at("token").get<std::string>(), j.value("added_ms", std::int64_t{0})};
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::internal, fmt::format("stored peer is malformed: {}", e.what()));
  }
}

Result<http::Endpoint> peerEndpoint(const std::string& address) {
  auto ep = http::Endpoint::parse(address);
  if (!ep || !ep->isTcp() || ep->port == 0)
    return makeError(Errc::invalid_argument,
                     fmt::format("address '{}' is not HOST:PORT (the peer's --listen)", address),
                     "address");
  return *ep;
}

}  // namespace

nlohmann::json toJson(const PeerRecord& p) {
  return {{"name", p.name}, {"address", p.address}, {"added", formatTimeMs(p.addedMs)}};
}

Result<nlohmann::json> PeerService::call(const http::Client& peer, const std::string& peerName,
                                         const std::string& method, const std::string& path,
                                         const nlohmann::json& body,
                                         std::chrono::milliseconds timeout) {
  return callRaw(peer, peerName, method, path, body.is_null() ? "" : body.dump(), timeout);
}

Result<nlohmann::json> PeerService::callRaw(const http::Client& peer, const std::string& peerName,
                                            const std::string& method, const std::string& path,
                                            std::string_view body,
                                            std::chrono::milliseconds timeout) {
  auto r = peer.request(method, path, body, timeout);
  if (!r) {
    Error e = r.error();
    e.message = fmt::format("peer {}: {}", peerName, e.message);
    return e;
  }
  if (r->status / 100 != 2) {
    Error e = http::errorFromResponse(*r);
    e.message = fmt::format("peer {}: {}", peerName, e.message);
    return e;
  }
  if (r->body.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded())
    return makeError(Errc::internal, fmt::format("peer {}: answer is not JSON", peerName));
  return j;
}

Result<nlohmann::json> PeerService::add(const std::string& name, const std::string& address,
                                        const std::string& token) {
  if (auto s = validateName(name, "peer name"); !s)
    return makeError(Errc::invalid_argument, s.error().message, "name");
  auto ep = peerEndpoint(address);
  if (!ep) return ep.error();
  if (token.empty() || token.find_first_of(" \t\r\n") != std::string::npos)
    return makeError(Errc::invalid_argument,
                     "token must be the peer's API token (one word, from its STATE/token)",
                     "token");
  if (store_.getObject(kKind, name))
    return makeError(Errc::conflict, fmt::format("peer '{}' already exists", name), "name");

  http::Client peer(*ep, token);
  auto r = peer.request("GET", "/v1/host", "", kProbeTimeout);
  if (!r)
    return makeError(Errc::unprocessable,
                     fmt::format("cannot reach paddockd at {}: {}", address, r.error().message),
                     "address");
  if (r->status == 401)
    return makeError(Errc::unprocessable, fmt::format("paddockd at {} refused the token", address),
                     "token");
  auto info = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || !info.is_object())
    return makeError(Errc::unprocessable,
                     fmt::format("{} did not answer like a paddockd (HTTP {})", address, r->status),
                     "address");
  if (info.value("state_dir", "") == ownStateDir_)
    return makeError(Errc::invalid_argument, fmt::format("{} is this paddockd itself", address),
                     "address");

  PeerRecord p{name, address, token, nowMs()};
  nlohmann::json doc = toJson(p);
  doc["token"] = token;
  doc["added_ms"] = p.addedMs;
  PADDOCK_TRY(store_.createObject(kKind, name, doc));
  return describe(p);
}

Status PeerService::remove(const std::string& name) {
  return store_.deleteObject(kKind, name);
}

Result<PeerRecord> PeerService::get(const std::string& name) {
  auto doc = store_.getObject(kKind, name);
  if (!doc) return doc.error();
  return peerFromJson(*doc);
}

nlohmann::json PeerService::describe(const PeerRecord& peer) {
  nlohmann::json out = toJson(peer);
  auto ep = peerEndpoint(peer.address);
  if (!ep) {
    out["reachable"] = false;
    out["error"] = ep.error().message;
    return out;
  }
  auto info =
      call(http::Client(*ep, peer.token), peer.name, "GET", "/v1/host", nullptr, kProbeTimeout);
  out["reachable"] = info.ok();
  if (!info) {
    out["error"] = info.error().message;
    return out;
  }
  for (const char* k :
       {"hostname", "accelerator", "cpu_model", "cpus", "memory_mib", "memory_available_mib",
        "running_vms", "running_vcpus", "running_memory_mib", "qemu", "paddock_version"})
    if (info->contains(k)) out[k] = (*info)[k];
  return out;
}

std::vector<std::string> PeerService::names() {
  std::vector<std::string> out;
  if (auto docs = store_.listObjects(kKind))
    for (const auto& d : *docs) out.push_back(d.value("name", ""));
  return out;
}

Result<std::vector<nlohmann::json>> PeerService::list() {
  auto docs = store_.listObjects(kKind);
  if (!docs) return docs.error();
  std::vector<std::future<nlohmann::json>> asked;
  for (const auto& d : *docs) {
    auto p = peerFromJson(d);
    if (!p) return p.error();
    asked.push_back(std::async(std::launch::async, [this, p = *p] { return describe(p); }));
  }
  std::vector<nlohmann::json> out;
  for (auto& f : asked) out.push_back(f.get());
  return out;
}

Result<nlohmann::json> PeerService::show(const std::string& name) {
  auto p = get(name);
  if (!p) return p.error();
  return describe(*p);
}

Result<http::Client> PeerService::client(const std::string& name) {
  auto p = get(name);
  if (!p) return p.error();
  auto ep = peerEndpoint(p->address);
  if (!ep) return ep.error();
  return http::Client(*ep, p->token);
}

}  // namespace paddock
