#include "api/api_server.h"

#include <spdlog/spdlog.h>

namespace paddock::api {

ApiServer::ApiServer(ApiContext ctx) : ctx_(ctx) {
  addVmRoutes(router_, ctx_);
  addVmActionRoutes(router_, ctx_);
  addConsoleRoutes(router_, ctx_);
  addOperationRoutes(router_, ctx_);
  addHostRoutes(router_, ctx_);
  addApplyRoutes(router_, ctx_);
  addNetworkRoutes(router_, ctx_);
  addStatsRoutes(router_, ctx_);
  addTemplateRoutes(router_, ctx_);
  addCustomizationRoutes(router_, ctx_);
  addSnapshotRoutes(router_, ctx_);
  addBackupRoutes(router_, ctx_);
  addPeerRoutes(router_, ctx_);
  addMigrationRoutes(router_, ctx_);
  addOpenApiRoute(router_);
  server_.setHandler([this](const http::Request& req, http::Exchange& ex) {
    spdlog::debug("{} {} ({})", req.method, req.target, req.peer);
    router_.dispatch(req, ex);
  });
}

Result<int> ApiServer::listenTcp(const std::string& address, int port, const std::string& token) {
  server_.setTcpAuthToken(token);
  return server_.listenTcp(address, port);
}

}  // namespace paddock::api
