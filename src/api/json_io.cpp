#include "api/json_io.h"

#include <fmt/format.h>

namespace paddock::api {

Result<nlohmann::json> parseBody(const http::Request& req) {
  if (req.body.empty()) return nlohmann::json::object();
  try {
    auto j = nlohmann::json::parse(req.body);
    if (!j.is_object())
      return makeError(Errc::invalid_argument, "request body must be a JSON object");
    return j;
  } catch (const nlohmann::json::parse_error& e) {
    return makeError(
        Errc::invalid_argument,
        fmt::format("malformed JSON at byte {}: {}", e.byte,
                    std::string(e.what()).substr(std::string(e.what()).rfind(':') + 2)));
  }
}

Status onlyFields(const nlohmann::json& body, std::initializer_list<const char*> allowed) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok)
      return makeError(Errc::invalid_argument, fmt::format("unknown field '{}'", it.key()),
                       it.key());
  }
  return {};
}

void respondJson(http::Exchange& ex, int status, const nlohmann::json& body) {
  ex.respond(http::jsonResponse(status, body.dump()));
}

void respondError(http::Exchange& ex, const Error& error) {
  ex.respond(http::errorResponse(error));
}

bool queryFlag(const http::Request& req, const std::string& key) {
  auto it = req.query.find(key);
  return it != req.query.end() && (it->second.empty() || it->second == "1" || it->second == "true");
}

Result<std::string> stringField(const nlohmann::json& body, const char* field, bool required) {
  if (!body.contains(field)) {
    if (required)
      return makeError(Errc::invalid_argument, fmt::format("field '{}' is required", field), field);
    return std::string();
  }
  if (!body[field].is_string())
    return makeError(Errc::invalid_argument, fmt::format("field '{}' must be a string", field),
                     field);
  return body[field].get<std::string>();
}

Result<bool> boolField(const nlohmann::json& body, const char* field, bool fallback) {
  if (!body.contains(field)) return fallback;
  if (!body[field].is_boolean())
    return makeError(Errc::invalid_argument, fmt::format("field '{}' must be a boolean", field),
                     field);
  return body[field].get<bool>();
}

Result<int64_t> intField(const nlohmann::json& body, const char* field, int64_t fallback) {
  if (!body.contains(field)) return fallback;
  if (!body[field].is_number_integer())
    return makeError(Errc::invalid_argument, fmt::format("field '{}' must be an integer", field),
                     field);
  return body[field].get<int64_t>();
}

}  // namespace paddock::api
