#include "client/paddock_client.h"

#include <thread>

#include <fmt/format.h>

#include "common/files.h"
#include "http/http_types.h"

namespace paddock {

Result<ClientOptions> resolveClientOptions(const std::string& hostFlag,
                                           const std::string& tokenFile) {
  ClientOptions o;
  if (!hostFlag.empty()) {
    o.endpoint = hostFlag;
  } else if (const char* h = std::getenv("PADDOCK_HOST"); h && *h) {
    o.endpoint = h;
  } else if (const char* s = std::getenv("PADDOCK_SOCKET"); s && *s) {
    o.endpoint = s;
  } else {
    o.endpoint = kDefaultSocket;
  }
  std::string file = tokenFile;
  if (file.empty())
    if (const char* f = std::getenv("PADDOCK_TOKEN_FILE"); f && *f) file = f;
  if (!file.empty()) {
    auto t = readFile(file);
    if (!t)
      return makeError(Errc::invalid_argument, fmt::format("cannot read token file {}", file));
    o.token = *t;
    while (!o.token.empty() && (o.token.back() == '\n' || o.token.back() == ' '))
      o.token.pop_back();
  } else if (const char* t = std::getenv("PADDOCK_TOKEN"); t && *t) {
    o.token = t;
  }
  return o;
}

PaddockClient::PaddockClient(http::Endpoint endpoint, std::string token)
    : endpoint_(endpoint), http_(std::move(endpoint), std::move(token)) {}

Result<std::unique_ptr<PaddockClient>> PaddockClient::connect(const ClientOptions& options) {
  auto ep = http::Endpoint::parse(options.endpoint);
  if (!ep) return ep.error();
  return std::unique_ptr<PaddockClient>(new PaddockClient(*ep, options.token));
}

Result<nlohmann::json> PaddockClient::call(const std::string& method, const std::string& path,
                                           const nlohmann::json& body) {
  auto resp = http_.request(method, path, body.is_null() ? std::string() : body.dump());
  if (!resp) return resp.error();
  if (resp->status >= 400) return http::errorFromResponse(*resp);
  if (resp->body.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(resp->body, nullptr, false);
  if (j.is_discarded()) return makeError(Errc::internal, "paddockd sent malformed JSON");
  return j;
}

Result<std::string> PaddockClient::callText(const std::string& method, const std::string& path) {
  auto resp = http_.request(method, path, "");
  if (!resp) return resp.error();
  if (resp->status >= 400) return http::errorFromResponse(*resp);
  return resp->body;
}

Result<nlohmann::json> PaddockClient::waitOperation(
    int64_t id, const std::function<void(int, const std::string&)>& progress) {
  for (;;) {
    auto op = call("GET", fmt::format("/v1/operations/{}?wait=1", id));
    if (!op) return op.error();
    std::string status = op->value("status", "");
    if (progress) progress(op->value("progress", 0), op->value("message", ""));
    if (status == "succeeded") return op->value("result", nlohmann::json::object());
    if (status == "failed" || status == "cancelled") {
      const auto& err = (*op)["error"];
      auto code = errcFromName(err.value("code", "internal")).value_or(Errc::internal);
      return makeError(code, err.value("message", "operation " + status), err.value("field", ""));
    }
  }
}

Status PaddockClient::followEvents(int64_t after, bool follow,
                                   const std::function<bool(const nlohmann::json&)>& onEvent) {
  std::string path = fmt::format("/v1/events?follow={}", follow ? "true" : "false");
  if (after >= 0) path += fmt::format("&after={}", after);
  std::string pending;
  return http_.stream("GET", path, [&](std::string_view chunk) {
    pending.append(chunk);
    size_t pos;
    while ((pos = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, pos);
      pending.erase(0, pos + 1);
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && !onEvent(j)) return false;
    }
    return true;
  });
}

Result<std::unique_ptr<http::WebSocket>> PaddockClient::openWebSocket(const std::string& path) {
  return http_.openWebSocket(path);
}

}  // namespace paddock
