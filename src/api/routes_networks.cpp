#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

void addNetworkRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/networks", "List virtual networks",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                auto all = ctx.networks.list();
                if (!all) return respondError(ex, all.error());
                respondJson(ex, 200, {{"networks", *all}});
              }});
  router.add({"POST", "/v1/networks", "Create a network (bridge, DHCP/DNS, NAT for kind nat)",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                auto spec = networkSpecFromJson(*body);
                if (!spec) return respondError(ex, spec.error());
                auto created = ctx.networks.create(*spec);
                if (!created) return respondError(ex, created.error());
                respondJson(ex, 201, *created);
              }});
  router.add({"GET", "/v1/networks/{name}", "Show a network",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto n = ctx.networks.get(p.at("name"));
                if (!n) return respondError(ex, n.error());
                respondJson(ex, 200, *n);
              }});
  router.add({"DELETE", "/v1/networks/{name}", "Delete a network (refused while NICs use it)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto s = ctx.networks.remove(p.at("name"));
                if (!s) return respondError(ex, s.error());
                respondJson(ex, 200, {{"deleted", p.at("name")}});
              }});
  router.add({"GET", "/v1/networks/{name}/leases", "DHCP leases of a network",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto l = ctx.networks.leases(p.at("name"));
                if (!l) return respondError(ex, l.error());
                nlohmann::json out = nlohmann::json::array();
                for (const auto& lease : *l)
                  out.push_back({{"mac", lease.mac},
                                 {"ip", lease.ip},
                                 {"hostname", lease.hostname},
                                 {"expiry", lease.expiry}});
                respondJson(ex, 200, {{"leases", out}});
              }});
}

}  // namespace paddock::api
