#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"
#include "common/files.h"
#include "engine/console_mux.h"
#include "engine/launch_spec.h"
#include "http/websocket.h"

namespace paddock::api {

namespace {

constexpr size_t kReplayBytes = 4096;

std::string logTail(const std::string& runDir, size_t maxBytes) {
  RunPaths paths{runDir};
  std::string text;
  if (auto old = readFile(paths.consoleLog() + ".1")) text = *old;
  if (auto cur = readFile(paths.consoleLog())) text += *cur;
  if (maxBytes > 0 && text.size() > maxBytes) text.erase(0, text.size() - maxBytes);
  return text;
}

// Bridges one websocket client to the VM's console until either side goes away.
void attach(ApiContext& ctx, const std::string& name, const http::Request& req,
            http::Exchange& ex) {
  auto proc = ctx.vms.process(name);
  if (!proc) return respondError(ex, proc.error());
  if (!ex.isWebSocketUpgrade())
    return respondError(ex, makeError(Errc::invalid_argument,
                                      "the console is a websocket: send an Upgrade request"));
  auto mode = req.query.count("mode") ? req.query.at("mode") : "rw";
  if (mode != "rw" && mode != "ro")
    return respondError(ex, makeError(Errc::invalid_argument, "mode must be rw or ro", "mode"));
  auto wsPtr = ex.acceptWebSocket();
  if (!wsPtr) return;
  std::shared_ptr<http::WebSocket> ws(std::move(wsPtr));
  ConsoleMux& mux = (*proc)->console();
  if (queryFlag(req, "replay")) {
    std::string tail = logTail(ctx.vms.runDir(name), kReplayBytes);
    if (!tail.empty()) ws->sendBinary(tail);
  }
  int id = mux.addReader([ws](std::string_view bytes) {
    if (bytes.empty()) {
      ws->sendText(R"j({"closed":"the console closed: QEMU ended"})j");
      ws->close();
    } else {
      ws->sendBinary(bytes);
    }
  });
  bool writer = mode == "rw" && mux.claimWriter(id);
  ws->sendText(nlohmann::json{{"writer", writer}}.dump());
  for (;;) {
    auto msg = ws->receive();
    if (!msg) break;
    if (writer && !msg->empty()) {
      if (!mux.write(id, *msg)) break;
    }
  }
  mux.removeReader(id);
  ws->close();
}

}  // namespace

void addConsoleRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/vms/{name}/console",
              "Attach to the serial console (websocket; ?mode=rw|ro, ?replay=1 sends the log tail)",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                attach(ctx, p.at("name"), req, ex);
              }});
  router.add({"GET", "/v1/vms/{name}/console/log",
              "The console log (bounded: the current file plus one rotated file); ?tail_bytes=N",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto rec = ctx.vms.get(p.at("name"));
                if (!rec) return respondError(ex, rec.error());
                size_t tail = 0;
                if (auto it = req.query.find("tail_bytes"); it != req.query.end())
                  tail = static_cast<size_t>(std::strtoull(it->second.c_str(), nullptr, 10));
                http::Response r;
                r.contentType = "text/plain; charset=utf-8";
                r.body = logTail(ctx.vms.runDir(p.at("name")), tail);
                ex.respond(std::move(r));
              }});
}

}  // namespace paddock::api
