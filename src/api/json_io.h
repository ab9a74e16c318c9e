// JSON request parsing and responses shared by all route handlers.
#pragma once

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "http/http_server.h"

namespace paddock::api {

// An empty body is an empty object; anything but a JSON object is a 400 naming the problem.
Result<nlohmann::json> parseBody(const http::Request& req);
// Checks that `body` has only `allowed` keys.
Status onlyFields(const nlohmann::json& body, std::initializer_list<const char*> allowed);
// The string `field` of `body`: "" when absent and not `required`; a 400 naming it otherwise.
Result<std::string> stringField(const nlohmann::json& body, const char* field, bool required);

// The boolean / integer `field` of `body`, `fallback` when absent; a 400 naming it otherwise.
Result<bool> boolField(const nlohmann::json& body, const char* field, bool fallback);
Result<int64_t> intField(const nlohmann::json& body, const char* field, int64_t fallback);

void respondJson(http::Exchange& ex, int status, const nlohmann::json& body);
void respondError(http::Exchange& ex, const Error& error);

template <typename T>
void respondResult(http::Exchange& ex, const Result<T>& r, int status = 200) {
  if (!r) return respondError(ex, r.error());
  respondJson(ex, status, toJson(*r));
}

bool queryFlag(const http::Request& req, const std::string& key);

}  // namespace paddock::api
