#include <fmt/format.h>

#include <charconv>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

namespace {

// A non-negative integer path or query value; a 400 naming `field` otherwise.
Result<std::uint64_t> unsignedValue(const std::string& text, const char* field) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return makeError(Errc::invalid_argument,
                     fmt::format("{} must be a non-negative integer, not '{}'", field, text),
                     field);
  return v;
}

Result<MigrationOptions> migrationOptions(const nlohmann::json& body) {
  MigrationOptions o;
  PADDOCK_TRY_ASSIGN(o.live, boolField(body, "live", false));
  PADDOCK_TRY_ASSIGN(o.autoConverge, boolField(body, "auto_converge", false));
  PADDOCK_TRY_ASSIGN(o.postCopy, boolField(body, "post_copy", false));
  PADDOCK_TRY_ASSIGN(auto downtime, intField(body, "max_downtime_ms", 300));
  PADDOCK_TRY_ASSIGN(auto bandwidth, intField(body, "bandwidth_mib", 0));
  if (!o.live && (body.contains("max_downtime_ms") || body.contains("bandwidth_mib") ||
                  body.contains("auto_converge") || body.contains("post_copy")))
    return makeError(Errc::invalid_argument,
                     "max_downtime_ms, bandwidth_mib, auto_converge and post_copy apply to live "
                     "migration",
                     "live");
  if (downtime < 1 || downtime > 60000)
    return makeError(Errc::invalid_argument, "max_downtime_ms must be 1..60000", "max_downtime_ms");
  if (bandwidth < 0)
    return makeError(Errc::invalid_argument, "bandwidth_mib must be 0 (no cap) or more",
                     "bandwidth_mib");
  o.maxDowntimeMs = static_cast<std::uint64_t>(downtime);
  o.bandwidthMib = static_cast<std::uint64_t>(bandwidth);
  return o;
}

}  // namespace

void addMigrationRoutes(Router& router, ApiContext& ctx) {
  router.add({"POST", "/v1/vms/{name}/actions/migrate",
              "Move a VM to a peer host (operation): {\"to\": PEER, \"live\": BOOL, "
              "\"max_downtime_ms\", \"bandwidth_mib\", \"auto_converge\", \"post_copy\"}",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(*body, {"to", "live", "max_downtime_ms", "bandwidth_mib",
                                                "auto_converge", "post_copy"});
                    !s)
                  return respondError(ex, s.error());
                auto to = stringField(*body, "to", true);
                if (!to) return respondError(ex, to.error());
                auto options = migrationOptions(*body);
                if (!options) return respondError(ex, options.error());
                std::string name = p.at("name");
                if (auto s = ctx.migrations.check(name, *to, *options); !s)
                  return respondError(ex, s.error());
                auto op = ctx.operations.start(
                    "vm.migrate", "vm/" + name,
                    [&ctx, name, peer = *to, o = *options](OperationContext& oc) {
                      return ctx.migrations.migrate(name, peer, o, &oc);
                    });
                respondJson(ex, 202, toJson(op));
              }});
  router.add({"POST", "/v1/host/actions/evacuate",
              "Live-migrate every running and paused VM to a peer host, one at a time "
              "(operation): {\"to\": PEER, \"max_downtime_ms\", \"bandwidth_mib\", "
              "\"auto_converge\"}",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(
                        *body, {"to", "max_downtime_ms", "bandwidth_mib", "auto_converge"});
                    !s)
                  return respondError(ex, s.error());
                auto to = stringField(*body, "to", true);
                if (!to) return respondError(ex, to.error());
                nlohmann::json asLive = *body;
                asLive["live"] = true;
                auto options = migrationOptions(asLive);
                if (!options) return respondError(ex, options.error());
                if (auto l = ctx.migrations.evacuationList(*to, *options); !l)
                  return respondError(ex, l.error());
                auto op =
                    ctx.operations.start("host.evacuate", "host",
                                         [&ctx, peer = *to, o = *options](OperationContext& oc) {
                                           return ctx.migrations.evacuate(peer, o, &oc);
                                         });
                respondJson(ex, 202, toJson(op));
              }});
  router.add({"POST", "/v1/migrations/incoming",
              "Peer API: announce a VM arriving from another host (checked before any copy)",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                auto r = ctx.incoming.prepare(*body);
                if (!r) return respondError(ex, r.error());
                respondJson(ex, 201, *r);
              }});
  router.add({"PUT", "/v1/migrations/incoming/{id}/files/{index}",
              "Peer API: raw bytes of an arriving file at ?offset=N (at most 8 MiB a request)",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto index = unsignedValue(p.at("index"), "index");
                if (!index) return respondError(ex, index.error());
                auto at = req.query.find("offset");
                auto offset = unsignedValue(at == req.query.end() ? "" : at->second, "offset");
                if (!offset) return respondError(ex, offset.error());
                auto s = ctx.incoming.write(p.at("id"), static_cast<std::size_t>(*index), *offset,
                                            req.body);
                if (!s) return respondError(ex, s.error());
                respondJson(ex, 200, {{"written", req.body.size()}});
              }});
  router.add({"POST", "/v1/migrations/incoming/{id}/commit",
              "Peer API: verify the arrived files' SHA-256 and register the VM",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                respondResult(ex, ctx.incoming.commit(p.at("id"), *body), 201);
              }});
  router.add({"POST", "/v1/migrations/incoming/{id}/recover",
              "Peer API: after a post-copy stream broke, listen again for the rest of memory",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto r = ctx.incoming.recoverLive(p.at("id"));
                if (!r) return respondError(ex, r.error());
                respondJson(ex, 200, *r);
              }});
  router.add({"GET", "/v1/migrations/incoming/{id}",
              "Peer API: an arriving VM's state (the source's heartbeat during a live migration)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto r = ctx.incoming.status(p.at("id"));
                if (!r) return respondError(ex, r.error());
                respondJson(ex, 200, *r);
              }});
  router.add({"DELETE", "/v1/migrations/incoming/{id}",
              "Peer API: abandon an arriving VM (its files go)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                if (auto s = ctx.incoming.abort(p.at("id")); !s) return respondError(ex, s.error());
                respondJson(ex, 200, {{"deleted", p.at("id")}});
              }});
}

}  // namespace paddock::api
