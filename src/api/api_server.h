// Assembles the REST API: every route of every resource on one router, served over HTTP.
#pragma once

#include <memory>

#include "api/api_context.h"
#include "api/router.h"
#include "http/http_server.h"

namespace paddock::api {

class ApiServer {
 public:
  explicit ApiServer(ApiContext ctx);
  Status listenUnix(const std::string& path) { return server_.listenUnix(path); }
  Result<int> listenTcp(const std::string& address, int port, const std::string& token);
  Status start() { return server_.start(); }
  void stop() { server_.stop(); }

 private:
  ApiContext ctx_;
  Router router_;
  http::Server server_;
};

}  // namespace paddock::api
