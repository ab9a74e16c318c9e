// paddock template create|list|show|delete
#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"
#include "common/units.h"

namespace paddock::cli {

namespace {

std::string templatePath(const std::string& name) {
  return "/v1/templates/" + name;
}

}  // namespace

void addTemplateCommands(CLI::App& app, CliContext& ctx) {
  auto* tpl = app.add_subcommand("template", "Make VMs into read-only templates and list them")
                  ->require_subcommand(1);
  {
    auto* c = tpl->add_subcommand("create", "Make a template from a stopped VM (copies its disks)");
    auto name = std::make_shared<std::string>();
    auto from = std::make_shared<std::string>();
    auto description = std::make_shared<std::string>();
    auto noWait = std::make_shared<bool>(false);
    auto snapshot = std::make_shared<bool>(false);
    c->add_option("name", *name, "template name")->required();
    c->add_option("--from", *from, "the stopped VM to copy")->required();
    c->add_flag("--snapshot", *snapshot,
                "copy a running VM's disks as they are now (crash-consistent; it keeps running)");
    c->add_option("--description", *description, "free text");
    c->add_flag("--no-wait", *noWait, "print the operation and return");
    c->callback([=, &ctx] {
      auto out = runOperation(ctx, "template " + *name, "/v1/templates",
                              {{"name", *name},
                               {"from_vm", *from},
                               {"description", *description},
                               {"snapshot", *snapshot}},
                              *noWait);
      if (ctx.json) return printJson(out);
      if (*noWait)
        std::printf("operation %lld started\n", static_cast<long long>(out.value("id", 0)));
      else
        std::printf("template %s created from VM %s\n", name->c_str(), from->c_str());
    });
  }
  {
    auto* c = tpl->add_subcommand("list", "List templates");
    c->callback([&ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/templates"));
      if (ctx.json) return printJson(out["templates"]);
      Table t({"NAME", "FROM", "VCPUS", "MEMORY", "DISKS", "LINKED CLONES", "DESCRIPTION"});
      for (const auto& tp : out["templates"]) {
        const auto& vm = tp["vm"];
        t.add({tp.value("name", ""), tp.value("source_vm", ""),
               std::to_string(vm.value("vcpus", 0)), formatMib(vm.value("memory_mib", uint64_t{0})),
               diskSummary(vm), std::to_string(tp["linked_clones"].size()),
               tp.value("description", "")});
      }
      t.print();
    });
  }
  {
    auto* c = tpl->add_subcommand("show", "Show a template and the VMs cloned from it");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] {
      auto tp = ctx.must(ctx.client().call("GET", templatePath(*name)));
      if (ctx.json) return printJson(tp);
      const auto& vm = tp["vm"];
      auto row = [](const char* k, const std::string& v) {
        std::printf("%-15s %s\n", k, v.c_str());
      };
      row("Name:", tp.value("name", ""));
      row("Description:", tp.value("description", ""));
      row("From VM:", tp.value("source_vm", ""));
      row("Created:", tp.value("created_at", ""));
      row("vCPUs:", std::to_string(vm.value("vcpus", 0)));
      row("Memory:", formatMib(vm.value("memory_mib", uint64_t{0})));
      row("Disks:", diskSummary(vm));
      std::string boot = vm.value("image", "");
      row("Boot:", boot.empty() ? vm.value("kernel", "") : "image " + boot);
      row("Linked clones:", joinNames(tp["linked_clones"]));
    });
  }
  {
    auto* c = tpl->add_subcommand("delete",
                                  "Delete a template (refused while linked clones depend on it)");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call("DELETE", templatePath(*name)));
      if (ctx.json) return printJson(out);
      std::printf("template %s deleted\n", name->c_str());
    });
  }
}

}  // namespace paddock::cli
