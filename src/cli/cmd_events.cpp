// paddock events, paddock operation list|show|cancel
#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"
#include "common/clock.h"

namespace paddock::cli {

void addEventCommands(CLI::App& app, CliContext& ctx) {
  {
    auto* c = app.add_subcommand("events", "Print state changes (follows by default)");
    auto after = std::make_shared<int64_t>(-1);
    auto noFollow = std::make_shared<bool>(false);
    c->add_option("--after", *after, "replay events after this id (0: all kept events)");
    c->add_flag("--no-follow", *noFollow, "print what is there and return");
    c->callback([=, &ctx] {
      auto s = ctx.client().followEvents(*after, !*noFollow, [&](const nlohmann::json& e) {
        if (ctx.json) {
          std::printf("%s\n", e.dump().c_str());
        } else {
          std::printf(
              "%-24s %-6lld %-18s %-20s %s\n", formatTimeMs(e.value("time_ms", int64_t{0})).c_str(),
              static_cast<long long>(e.value("id", int64_t{0})), e.value("type", "").c_str(),
              e.value("object", "").c_str(), e["data"].dump().substr(0, 100).c_str());
        }
        std::fflush(stdout);
        return true;
      });
      if (!s) ctx.fail(s.error());
    });
  }
  auto* op = app.add_subcommand("operation", "Long-running requests")->require_subcommand(1);
  {
    auto* c = op->add_subcommand("list", "List recent operations");
    c->callback([&ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/operations"));
      if (ctx.json) return printJson(out["operations"]);
      Table t({"ID", "KIND", "OBJECT", "STATUS", "PROGRESS", "MESSAGE"});
      for (const auto& o : out["operations"])
        t.add({std::to_string(o.value("id", 0)), o.value("kind", ""), o.value("object", ""),
               o.value("status", ""), std::to_string(o.value("progress", 0)) + "%",
               o.value("message", "")});
      t.print();
    });
  }
  {
    auto* c = op->add_subcommand("show", "Show one operation");
    auto id = std::make_shared<int64_t>(0);
    c->add_option("id", *id)->required();
    c->callback([=, &ctx] {
      printJson(ctx.must(ctx.client().call("GET", fmt::format("/v1/operations/{}", *id))));
    });
  }
  {
    auto* c = op->add_subcommand("cancel", "Cancel a running operation");
    auto id = std::make_shared<int64_t>(0);
    c->add_option("id", *id)->required();
    c->callback([=, &ctx] {
      ctx.must(ctx.client().call("DELETE", fmt::format("/v1/operations/{}", *id)));
      std::printf("cancelling operation %lld\n", static_cast<long long>(*id));
    });
  }
}

}  // namespace paddock::cli
