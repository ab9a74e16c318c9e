// paddock vm snapshot create|list|revert|delete
#include <functional>

#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"

namespace paddock::cli {

namespace {

std::string snapshotsPath(const std::string& vm, const std::string& suffix = "") {
  return "/v1/vms/" + vm + "/snapshots" + suffix;
}

// The tree as an indented table: children under their parent, oldest first.
void printTree(const nlohmann::json& out) {
  Table t({"NAME", "MEMORY", "VM STATE", "CREATED", "DESCRIPTION"});
  const auto& all = out["snapshots"];
  std::function<void(const std::string&, int)> walk = [&](const std::string& parent, int depth) {
    for (const auto& s : all) {
      if (s.value("parent", "") != parent) continue;
      std::string name = std::string(static_cast<size_t>(depth) * 2, ' ') + s.value("name", "");
      if (s.value("current", false)) name += " *";
      t.add({name, s.value("memory", false) ? "yes" : "no", s.value("vm_state", ""),
             s.value("created_at", ""), s.value("description", "")});
      walk(s.value("name", ""), depth + 1);
    }
  };
  walk("", 0);
  t.print();
  if (!all.empty()) std::printf("* current: the VM runs on top of it\n");
}

}  // namespace

void addSnapshotCommands(CLI::App& app, CliContext& ctx) {
  CLI::App* vm = app.get_subcommand("vm");
  auto* snap = vm->add_subcommand("snapshot", "Snapshots of a VM's disks (and memory)")
                   ->require_subcommand(1);
  {
    auto* c = snap->add_subcommand("create", "Take a snapshot (running or stopped)");
    auto name = std::make_shared<std::string>();
    auto snapName = std::make_shared<std::string>();
    auto description = std::make_shared<std::string>();
    auto memory = std::make_shared<bool>(false);
    c->add_option("vm", *name, "VM name")->required();
    c->add_option("snapshot", *snapName, "snapshot name")->required();
    c->add_option("--description", *description, "free text");
    c->add_flag("--memory", *memory, "also save the running state (running VMs only)");
    c->callback([=, &ctx] {
      auto out = runOperation(
          ctx, "snapshot " + *name, snapshotsPath(*name),
          {{"name", *snapName}, {"description", *description}, {"memory", *memory}}, false);
      if (ctx.json) return printJson(out);
      std::printf("snapshot %s of VM %s taken%s\n", snapName->c_str(), name->c_str(),
                  *memory ? " with memory" : "");
    });
  }
  {
    auto* c = snap->add_subcommand("list", "Show a VM's snapshot tree");
    auto name = std::make_shared<std::string>();
    c->add_option("vm", *name, "VM name")->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call("GET", snapshotsPath(*name)));
      if (ctx.json) return printJson(out);
      printTree(out);
    });
  }
  {
    auto* c = snap->add_subcommand(
        "revert", "Go back to a snapshot (a disk-only one powers a running VM off)");
    auto name = std::make_shared<std::string>();
    auto snapName = std::make_shared<std::string>();
    c->add_option("vm", *name, "VM name")->required();
    c->add_option("snapshot", *snapName, "snapshot name")->required();
    c->callback([=, &ctx] {
      auto out =
          runOperation(ctx, "revert " + *name, snapshotsPath(*name, "/" + *snapName + "/revert"),
                       nlohmann::json::object(), false);
      if (ctx.json) return printJson(out);
      std::printf("VM %s reverted to snapshot %s%s\n", name->c_str(), snapName->c_str(),
                  out.value("memory", false)        ? " (running from its saved state)"
                  : out.value("powered_off", false) ? " (powered off: the snapshot has no memory)"
                                                    : "");
    });
  }
  {
    auto* c = snap->add_subcommand("delete", "Delete a snapshot (its children keep their data)");
    auto name = std::make_shared<std::string>();
    auto snapName = std::make_shared<std::string>();
    c->add_option("vm", *name, "VM name")->required();
    c->add_option("snapshot", *snapName, "snapshot name")->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call("DELETE", snapshotsPath(*name, "/" + *snapName)));
      if (ctx.json) return printJson(out);
      std::printf("snapshot %s of VM %s deleted\n", snapName->c_str(), name->c_str());
    });
  }
}

}  // namespace paddock::cli
