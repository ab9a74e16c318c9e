#include "cli/cli_context.h"

#include <signal.h>

#include <csignal>
#include <cstdio>

#include <fmt/format.h>

#include "cli/output.h"

namespace paddock::cli {

namespace {

volatile std::sig_atomic_t interrupted = 0;

void onInterrupt(int) {
  interrupted = 1;
}

}  // namespace

PaddockClient& CliContext::client() {
  if (!client_) {
    auto opts = resolveClientOptions(host, tokenFile);
    if (!opts) fail(opts.error());
    auto c = PaddockClient::connect(*opts);
    if (!c) fail(c.error());
    client_ = std::move(*c);
  }
  return *client_;
}

void CliContext::fail(const Error& error) {
  std::string msg = error.message;
  for (auto& c : msg)
    if (c == '\n') c = ' ';
  std::fprintf(stderr, "paddock: error: %s\n", msg.c_str());
  int code = kFailed;
  switch (error.code) {
    case Errc::not_found:
      code = kNotFound;
      break;
    case Errc::conflict:
      code = kConflict;
      break;
    case Errc::unavailable:
      if (msg.rfind("cannot reach", 0) == 0) code = kUnreachable;
      break;
    default:
      break;
  }
  throw ExitStatus{code};
}

nlohmann::json runOperation(CliContext& ctx, const std::string& label, const std::string& path,
                            const nlohmann::json& body, bool noWait) {
  auto op = ctx.must(ctx.client().call("POST", path, body));
  int64_t id = op.value("id", int64_t{0});
  if (noWait) return op;
  Progress progress(label);
  // Ctrl-C cancels the operation (the daemon undoes what it did) and waits for that; a second
  // Ctrl-C leaves at once.
  struct sigaction sa {
  }, old{};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  interrupted = 0;
  sigaction(SIGINT, &sa, &old);
  bool cancelSent = false;
  auto result = ctx.client().waitOperation(id, [&](int pct, const std::string& msg) {
    if (interrupted && !cancelSent) {
      cancelSent = true;
      (void)ctx.client().call("DELETE", fmt::format("/v1/operations/{}", id));
      progress.update(pct, "cancelling (Ctrl-C again to stop waiting)");
      return;
    }
    progress.update(pct, msg);
  });
  sigaction(SIGINT, &old, nullptr);
  progress.done();
  return ctx.must(std::move(result));
}

}  // namespace paddock::cli
