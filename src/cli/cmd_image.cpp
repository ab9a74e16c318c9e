// paddock image build|list|show
#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"

namespace paddock::cli {

void addImageCommands(CLI::App& app, CliContext& ctx) {
  auto* image =
      app.add_subcommand("image", "Guest images built from Debian packages")->require_subcommand(1);
  {
    auto* c = image->add_subcommand(
        "build", "Build an image (cached: rebuilt only when its recipe changes)");
    auto name = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    c->add_option("name", *name, "image name, e.g. tiny")->required();
    c->add_flag("--force", *force, "rebuild even if the cache is current");
    c->callback([=, &ctx] {
      auto op = ctx.must(
          ctx.client().call("POST", "/v1/images/" + *name + "/actions/build", {{"force", *force}}));
      Progress progress("image " + *name);
      auto r = ctx.client().waitOperation(
          op.value("id", int64_t{0}), [&](int p, const std::string& m) { progress.update(p, m); });
      progress.done();
      auto built = ctx.must(std::move(r));
      if (ctx.json) return printJson(built);
      std::printf("image %s: kernel %s, recipe %s\n", name->c_str(),
                  built.value("kernel_version", "").c_str(),
                  built.value("recipe_hash", "").substr(0, 12).c_str());
    });
  }
  {
    auto* c = image->add_subcommand("list", "List images");
    c->callback([&ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/images"));
      if (ctx.json) return printJson(out["images"]);
      Table t({"NAME", "BUILT", "CURRENT", "KERNEL", "BUILT AT"});
      for (const auto& i : out["images"])
        t.add({i.value("name", ""), i.value("built", false) ? "yes" : "no",
               i.value("up_to_date", false) ? "yes" : "no", i.value("kernel_version", ""),
               i.value("built_at", "")});
      t.print();
    });
  }
  {
    auto* c = image->add_subcommand("show", "Show an image");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback(
        [=, &ctx] { printJson(ctx.must(ctx.client().call("GET", "/v1/images/" + *name))); });
  }
}

}  // namespace paddock::cli
