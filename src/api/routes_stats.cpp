// Metrics: history per VM and for the host, the newest values for live views, and /metrics for
// Prometheus.
#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"
#include "common/clock.h"

namespace paddock::api {

namespace {

using nlohmann::json;

// ?since=1h&metric=cpu_percent&resolution=5m → the series of `object` as JSON.
Result<json> history(ApiContext& ctx, const http::Request& req, const std::string& object,
                     bool host) {
  auto param = [&](const char* key) {
    auto it = req.query.find(key);
    return it == req.query.end() ? std::string() : it->second;
  };
  std::string sinceText = param("since").empty() ? "1h" : param("since");
  auto since = parseDuration(sinceText, "since");
  if (!since) return since.error();
  std::string metric = param("metric");
  if (!metric.empty()) PADDOCK_TRY(validateMetricName(metric, host, "metric"));
  std::int64_t step = resolutionFor(*since);
  if (std::string r = param("resolution"); !r.empty()) {
    auto asked = r == "raw" ? Result<std::int64_t>(0) : parseDuration(r, "resolution");
    if (!asked) return asked.error();
    bool known = false;
    for (const auto& level : kResolutions) known = known || level.stepMs == *asked;
    if (!known)
      return makeError(Errc::invalid_argument,
                       fmt::format("resolution '{}' is not kept: use raw, 5m, 1h or 1d", r),
                       "resolution");
    step = *asked;
  }
  std::int64_t now = nowMs();
  auto series = ctx.metrics.query(object, metric, now - *since, step);
  if (!series) return series.error();
  json out = json::array();
  for (const auto& s : *series) {
    const MetricInfo* info = findMetric(s.name);
    json points = json::array();
    for (const auto& [ts, v] : s.points) points.push_back({ts, v});
    out.push_back({{"metric", s.name},
                   {"labels", s.labels},
                   {"unit", info ? info->unit : ""},
                   {"points", points}});
  }
  return json{{"object", object},
              {"since_ms", now - *since},
              {"step_ms", step},
              {"interval_ms", ctx.collector.interval().count()},
              {"series", out}};
}

}  // namespace

void addStatsRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/vms/{name}/stats",
              "Metric history of a VM: ?since=1h&metric=NAME&resolution=raw|5m|1h|1d",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                std::string name = p.at("name");
                if (auto vm = ctx.vms.get(name); !vm) return respondError(ex, vm.error());
                auto out = history(ctx, req, "vm/" + name, false);
                if (!out) return respondError(ex, out.error());
                respondJson(ex, 200, *out);
              }});
  router.add({"GET", "/v1/host/stats", "Metric history of the host (same parameters)",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto out = history(ctx, req, "host", true);
                if (!out) return respondError(ex, out.error());
                respondJson(ex, 200, *out);
              }});
  router.add({"GET", "/v1/stats/live", "The newest sample of the host and every VM",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                respondJson(ex, 200, ctx.collector.latest());
              }});
  router.add({"GET", "/v1/metrics/catalog", "Every metric's name, unit, label and meaning",
              [](const http::Request&, const Params&, http::Exchange& ex) {
                json out = json::array();
                for (const auto& m : metricCatalog())
                  out.push_back({{"name", m.name},
                                 {"unit", m.unit},
                                 {"label", m.label},
                                 {"scope", m.host ? "host" : "vm"},
                                 {"help", m.help}});
                respondJson(ex, 200, {{"metrics", out}});
              }});
  router.add({"GET", "/v1/host/ksm", "Kernel same-page merging: setting and pages shared",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                auto k = ctx.memory.ksm();
                if (!k) return respondError(ex, k.error());
                respondJson(ex, 200, *k);
              }});
  router.add({"PUT", "/v1/host/ksm",
              "Turn KSM on or off: {\"run\": bool, \"pages_to_scan\", \"sleep_millisecs\"}",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                auto k = ctx.memory.setKsm(*body);
                if (!k) return respondError(ex, k.error());
                respondJson(ex, 200, *k);
              }});
  router.add({"GET", "/v1/host/overcommit",
              "The overcommit manager: watermarks and the memory it took from VMs",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                respondJson(ex, 200, ctx.overcommit.status());
              }});
  router.add({"PUT", "/v1/host/overcommit",
              "Set the overcommit manager: {\"enabled\": bool, \"low_mib\", \"high_mib\"}",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                auto o = ctx.overcommit.configure(*body);
                if (!o) return respondError(ex, o.error());
                respondJson(ex, 200, *o);
              }});
  router.add({"GET", "/metrics", "The newest sample in the Prometheus text format (0.0.4)",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                http::Response r;
                r.status = 200;
                r.contentType = "text/plain; version=0.0.4; charset=utf-8";
                r.body = ctx.collector.exposition();
                ex.respond(std::move(r));
              }});
}

}  // namespace paddock::api
