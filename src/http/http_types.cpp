#include "http/http_types.h"

#include <nlohmann/json.hpp>

namespace paddock::http {

namespace {

Errc errcFromStatus(int status) {
  switch (status) {
    case 400:
      return Errc::invalid_argument;
    case 401:
      return Errc::unauthorized;
    case 403:
      return Errc::unauthorized;
    case 404:
      return Errc::not_found;
    case 409:
      return Errc::conflict;
    case 413:
      return Errc::invalid_argument;
    case 422:
      return Errc::unprocessable;
    case 503:
      return Errc::unavailable;
    case 504:
      return Errc::timeout;
    default:
      return status >= 400 && status < 500 ? Errc::invalid_argument : Errc::internal;
  }
}

}  // namespace

Response errorResponse(const Error& error) {
  nlohmann::json inner = {{"code", errcName(error.code)}, {"message", error.message}};
  if (!error.field.empty()) inner["field"] = error.field;
  Response response;
  response.status = httpStatus(error.code);
  // Replace rather than throw on invalid UTF-8 in messages that echo user input.
  response.body = nlohmann::json{{"error", inner}}.dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace);
  return response;
}

Error errorFromResponse(const Response& response) {
  auto parsed = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const auto& e = parsed["error"];
    Error error;
    error.code = errcFromStatus(response.status);
    if (e.contains("code") && e["code"].is_string()) {
      if (auto code = errcFromName(e["code"].get<std::string>())) error.code = *code;
    }
    if (e.contains("message") && e["message"].is_string())
      error.message = e["message"].get<std::string>();
    if (e.contains("field") && e["field"].is_string()) error.field = e["field"].get<std::string>();
    if (error.message.empty()) error.message = "HTTP " + std::to_string(response.status);
    return error;
  }
  std::string message = "HTTP " + std::to_string(response.status);
  // A short plain-text body is usually the most useful thing to show; HTML pages are not.
  if (!response.body.empty() && response.body.size() <= 200 &&
      response.contentType.rfind("text/plain", 0) == 0)
    message += ": " + response.body;
  return makeError(errcFromStatus(response.status), std::move(message));
}

Response jsonResponse(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

}  // namespace paddock::http
