#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

void addPeerRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/peers",
              "Peer hosts with their reachability, accelerator, CPU model and free resources",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                auto all = ctx.peers.list();
                if (!all) return respondError(ex, all.error());
                respondJson(ex, 200, {{"peers", *all}});
              }});
  router.add(
      {"POST", "/v1/peers",
       "Register a peer paddockd: {\"name\", \"address\": \"HOST:PORT\", \"token\"} (checked live)",
       [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
         auto body = parseBody(req);
         if (!body) return respondError(ex, body.error());
         if (auto s = onlyFields(*body, {"name", "address", "token"}); !s)
           return respondError(ex, s.error());
         auto name = stringField(*body, "name", true);
         if (!name) return respondError(ex, name.error());
         auto address = stringField(*body, "address", true);
         if (!address) return respondError(ex, address.error());
         auto token = stringField(*body, "token", true);
         if (!token) return respondError(ex, token.error());
         auto added = ctx.peers.add(*name, *address, *token);
         if (!added) return respondError(ex, added.error());
         respondJson(ex, 201, *added);
       }});
  router.add({"GET", "/v1/peers/{name}", "Show a peer host (asked live)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto peer = ctx.peers.show(p.at("name"));
                if (!peer) return respondError(ex, peer.error());
                respondJson(ex, 200, *peer);
              }});
  router.add({"DELETE", "/v1/peers/{name}", "Forget a peer host",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                if (auto s = ctx.peers.remove(p.at("name")); !s) return respondError(ex, s.error());
                respondJson(ex, 200, {{"deleted", p.at("name")}});
              }});
}

}  // namespace paddock::api
