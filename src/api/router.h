// Routes declared as data: method + path pattern ("/v1/vms/{name}") → handler.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http/http_server.h"

namespace paddock::api {

using Params = std::map<std::string, std::string>;
using Handler = std::function<void(const http::Request&, const Params&, http::Exchange&)>;

struct Route {
  std::string method;
  std::string pattern;
  std::string summary;  // for the OpenAPI document
  Handler handler;
};

class Router {
 public:
  void add(Route route) { routes_.push_back(std::move(route)); }
  // 404 for an unknown path, 405 for a known path with another method.
  void dispatch(const http::Request& req, http::Exchange& ex) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace paddock::api
