#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

namespace {

Result<int64_t> parseId(const std::string& text, const char* what) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0)
    return makeError(Errc::invalid_argument, fmt::format("{} '{}' is not a number", what, text));
  return static_cast<int64_t>(v);
}

}  // namespace

void addOperationRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/operations", "List recent operations",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                nlohmann::json out = nlohmann::json::array();
                for (const auto& op : ctx.operations.list()) out.push_back(toJson(op));
                respondJson(ex, 200, {{"operations", out}});
              }});
  router.add({"GET", "/v1/operations/{id}",
              "Show an operation; ?wait=SECONDS waits up to that long for it to finish",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto id = parseId(p.at("id"), "operation id");
                if (!id) return respondError(ex, id.error());
                int64_t waitS = 0;
                if (auto it = req.query.find("wait"); it != req.query.end()) {
                  auto w = parseId(it->second, "wait");
                  if (!w) return respondError(ex, w.error());
                  waitS = std::min<int64_t>(*w, 300);
                }
                respondResult(ex, ctx.operations.wait(*id, std::chrono::seconds(waitS)));
              }});
  router.add({"DELETE", "/v1/operations/{id}", "Cancel a running operation",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                auto id = parseId(p.at("id"), "operation id");
                if (!id) return respondError(ex, id.error());
                auto s = ctx.operations.cancel(*id);
                if (!s) return respondError(ex, s.error());
                respondJson(ex, 202, {{"cancelling", *id}});
              }});
  router.add(
      {"GET", "/v1/events",
       "Event stream (newline-delimited JSON); ?after=ID replays, ?follow=false returns at once",
       [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
         int64_t after = -1;
         if (auto it = req.query.find("after"); it != req.query.end()) {
           auto a = parseId(it->second, "after");
           if (!a) return respondError(ex, a.error());
           after = *a;
         }
         bool follow = !req.query.count("follow") || queryFlag(req, "follow");
         if (after < 0) after = follow ? ctx.events.lastId() : 0;
         if (!ex.beginStream(200, "application/x-ndjson")) return;
         while (!ctx.events.stopped()) {
           auto batch = ctx.events.waitAfter(after, std::chrono::seconds(follow ? 15 : 0));
           std::string chunk;
           for (const auto& e : batch) {
             chunk += toJson(e).dump() + "\n";
             after = e.id;
           }
           // An empty line is a keep-alive that also tells us when the client has gone.
           if (chunk.empty()) {
             if (!follow) break;
             chunk.push_back('\n');
           }
           if (!ex.writeChunk(chunk)) return;
           if (!follow && batch.size() < 500) break;
         }
         ex.endStream();
       }});
}

}  // namespace paddock::api
