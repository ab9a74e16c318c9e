// The plain request/response values exchanged between the HTTP layer and its users.
// Deliberately free of Beast/Asio so that every layer above can include it cheaply.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace paddock::http {

struct Request {
  std::string method;                          // as sent, e.g. "GET"
  std::string target;                          // raw request target, e.g. "/v1/vms?state=running"
  std::string path;                            // target before '?', percent-decoded
  std::map<std::string, std::string> query;    // url-decoded; on repeated keys the last one wins
  std::map<std::string, std::string> headers;  // lower-case keys; repeats joined with ", "
  std::string body;
  std::string peer;  // "unix" or "tcp:ip:port" ("tcp:[ip6]:port" for IPv6)
};

struct Response {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// The wire format for errors: {"error":{"code":"not_found","message":"...","field":"..."}}
// ("field" only when set). Status comes from httpStatus(error.code).
Response errorResponse(const Error& error);

// The inverse of errorResponse(); falls back to a code derived from the status when the body
// is not our error JSON (e.g. a proxy's HTML page).
Error errorFromResponse(const Response& response);

// A JSON 2xx/4xx response from an already serialized body.
Response jsonResponse(int status, std::string body);

}  // namespace paddock::http
