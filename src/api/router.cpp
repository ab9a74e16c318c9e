#include "api/router.h"

#include <fmt/format.h>

#include "api/json_io.h"

namespace paddock::api {

namespace {

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool match(const std::string& pattern, const std::string& path, Params& params) {
  auto p = split(pattern);
  auto s = split(path);
  if (p.size() != s.size()) return false;
  Params found;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i].size() > 2 && p[i].front() == '{' && p[i].back() == '}') {
      if (s[i].empty()) return false;
      found[p[i].substr(1, p[i].size() - 2)] = s[i];
    } else if (p[i] != s[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

}  // namespace

void Router::dispatch(const http::Request& req, http::Exchange& ex) const {
  bool pathKnown = false;
  for (const auto& r : routes_) {
    Params params;
    if (!match(r.pattern, req.path, params)) continue;
    pathKnown = true;
    if (r.method != req.method) continue;
    r.handler(req, params, ex);
    return;
  }
  if (pathKnown) {
    auto resp = http::errorResponse(
        makeError(Errc::invalid_argument,
                  fmt::format("method {} is not allowed on {}", req.method, req.path)));
    resp.status = 405;
    ex.respond(std::move(resp));
    return;
  }
  ex.respond(http::errorResponse(
      makeError(Errc::not_found, fmt::format("no such API path: {} {}", req.method, req.path))));
}

}  // namespace paddock::api
