// paddock customization create|edit|list|show|delete
#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"
#include "common/files.h"

namespace paddock::cli {

namespace {

std::string readSpecFile(CliContext& ctx, const std::string& path) {
  auto text = path == "-" ? readFile("/dev/stdin") : readFile(path);
  if (!text)
    ctx.fail(makeError(Errc::invalid_argument,
                       fmt::format("--file {}: {}", path, text.error().message)));
  return *text;
}

}  // namespace

void addCustomizationCommands(CLI::App& app, CliContext& ctx) {
  auto* cust =
      app.add_subcommand("customization", "Guest customization specs (cloud-init NoCloud seeds)")
          ->require_subcommand(1);
  for (bool edit : {false, true}) {
    auto* c = cust->add_subcommand(
        edit ? "edit" : "create",
        edit ? "Replace a spec from a YAML file (VMs use it from their next start)"
             : "Create a spec from a YAML file (see docs/customization.md)");
    auto name = std::make_shared<std::string>();
    auto file = std::make_shared<std::string>();
    auto description = std::make_shared<std::string>();
    c->add_option("name", *name, "spec name")->required();
    c->add_option("--file,-f", *file, "the YAML spec (- for stdin)")->required();
    c->add_option("--description", *description, "free text");
    c->callback([=, &ctx] {
      nlohmann::json body = {{"yaml", readSpecFile(ctx, *file)}, {"description", *description}};
      if (!edit) body["name"] = *name;
      auto out = ctx.must(
          ctx.client().call(edit ? "PUT" : "POST",
                            edit ? "/v1/customizations/" + *name : "/v1/customizations", body));
      if (ctx.json) return printJson(out);
      std::printf("customization %s %s\n", name->c_str(), edit ? "replaced" : "created");
    });
  }
  {
    auto* c = cust->add_subcommand("list", "List customization specs");
    c->callback([&ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/customizations"));
      if (ctx.json) return printJson(out["customizations"]);
      Table t({"NAME", "HOSTNAME", "USERS", "NICS", "RUNCMD", "USED BY", "DESCRIPTION"});
      for (const auto& c : out["customizations"]) {
        const auto& s = c["spec"];
        std::string nics;
        for (const auto& n : s["nics"]) nics += (nics.empty() ? "" : ",") + n.value("mode", "");
        std::string host = s.value("hostname", "");
        t.add({c.value("name", ""), host.empty() ? "{name}" : host,
               std::to_string(s["users"].size()), nics.empty() ? "dhcp" : nics,
               std::to_string(s["runcmd"].size()), std::to_string(c["used_by"].size()),
               c.value("description", "")});
      }
      t.print();
    });
  }
  {
    auto* c = cust->add_subcommand("show", "Show a spec (its YAML) and the VMs that use it");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/customizations/" + *name));
      if (ctx.json) return printJson(out);
      std::printf("Name:         %s\nDescription:  %s\nCreated:      %s\nUsed by:      %s\n---\n%s",
                  out.value("name", "").c_str(), out.value("description", "").c_str(),
                  out.value("created_at", "").c_str(), joinNames(out["used_by"]).c_str(),
                  out.value("yaml", "").c_str());
    });
  }
  {
    auto* c = cust->add_subcommand("delete", "Delete a spec (refused while VMs use it)");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call("DELETE", "/v1/customizations/" + *name));
      if (ctx.json) return printJson(out);
      std::printf("customization %s deleted\n", name->c_str());
    });
  }
}

}  // namespace paddock::cli
