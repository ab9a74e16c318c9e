// paddock backup repo add|list|remove, backup create|list|show|verify|restore|prune|delete
#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"
#include "common/units.h"

namespace paddock::cli {

namespace {

// --repo, or the only repository there is.
std::string repoName(CliContext& ctx, const std::string& given) {
  if (!given.empty()) return given;
  auto out = ctx.must(ctx.client().call("GET", "/v1/backup-repos"));
  const auto& repos = out["repos"];
  if (repos.size() == 1) return repos[0].value("name", "");
  ctx.fail(makeError(Errc::invalid_argument,
                     repos.empty() ? "no backup repository: add one with `paddock backup repo add`"
                                   : "several backup repositories: name one with --repo"));
}

std::string backupPath(const std::string& repo, const std::string& vm,
                       const std::string& suffix = "") {
  return "/v1/backups/" + repo + "/" + vm + suffix;
}

void printBackups(const nlohmann::json& list) {
  Table t({"VM", "ID", "KIND", "PARENT", "VM STATE", "CREATED", "TOOK", "SIZE"});
  for (const auto& b : list)
    t.add({b.value("vm", ""), b.value("id", ""), b.value("kind", ""),
           b.value("parent", "").empty() ? "-" : b.value("parent", ""), b.value("vm_state", ""),
           b.value("created_at", ""), humanDuration(b.value("duration_ms", int64_t{0})),
           humanBytes(b.value("bytes", uint64_t{0}))});
  t.print();
}

void addRepoCommands(CLI::App& backup, CliContext& ctx) {
  auto* repo = backup.add_subcommand("repo", "Backup repositories")->require_subcommand(1);
  {
    auto* c = repo->add_subcommand("add", "Register a folder as a backup repository");
    auto name = std::make_shared<std::string>();
    auto path = std::make_shared<std::string>();
    c->add_option("name", *name, "repository name")->required();
    c->add_option("--path", *path, "folder (made if missing; must be writable)")->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(
          ctx.client().call("POST", "/v1/backup-repos", {{"name", *name}, {"path", *path}}));
      if (ctx.json) return printJson(out);
      std::printf("backup repository %s added at %s\n", name->c_str(),
                  out.value("path", "").c_str());
    });
  }
  {
    auto* c = repo->add_subcommand("list", "List repositories with their use and free space");
    c->callback([&ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/backup-repos"));
      if (ctx.json) return printJson(out);
      Table t({"NAME", "PATH", "BACKUPS", "USED", "FREE", "PROBLEM"});
      for (const auto& r : out["repos"])
        t.add({r.value("name", ""), r.value("path", ""), std::to_string(r.value("backups", 0)),
               humanBytes(r.value("bytes", uint64_t{0})),
               humanBytes(r.value("free_bytes", uint64_t{0})),
               r.value("problem", "").empty() ? "-" : r.value("problem", "")});
      t.print();
    });
  }
  {
    auto* c = repo->add_subcommand("remove", "Forget a repository (its files stay)");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name, "repository name")->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call("DELETE", "/v1/backup-repos/" + *name));
      if (ctx.json) return printJson(out);
      std::printf("backup repository %s removed (files kept)\n", name->c_str());
    });
  }
}

}  // namespace

void addBackupCommands(CLI::App& app, CliContext& ctx) {
  auto* backup =
      app.add_subcommand("backup", "Backups of VMs: full and incremental, verify, restore, prune")
          ->require_subcommand(1);
  addRepoCommands(*backup, ctx);
  auto repo = std::make_shared<std::string>();
  auto addRepoOption = [repo](CLI::App* c) {
    c->add_option("--repo", *repo, "repository (optional when there is only one)");
  };
  {
    auto* c = backup->add_subcommand(
        "create", "Back up a VM, running or stopped (incremental when possible)");
    auto vm = std::make_shared<std::string>();
    auto full = std::make_shared<bool>(false);
    auto noWait = std::make_shared<bool>(false);
    auto keepLast = std::make_shared<int>(0);
    auto keepDaily = std::make_shared<int>(0);
    auto bwlimit = std::make_shared<std::string>();
    c->add_option("vm", *vm, "VM name")->required();
    addRepoOption(c);
    c->add_option("--bwlimit", *bwlimit, "copy at most this much per second per disk (e.g. 50M)");
    c->add_flag("--full", *full, "copy the whole disks even if an incremental is possible");
    c->add_option("--keep-last", *keepLast, "then prune: keep the newest N backups")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--keep-daily", *keepDaily, "then prune: keep one per day for N days")
        ->check(CLI::NonNegativeNumber);
    c->add_flag("--no-wait", *noWait, "print the operation and return");
    c->callback([=, &ctx] {
      std::string r = repoName(ctx, *repo);
      nlohmann::json body = {{"repo", r}, {"full", *full}};
      if (!bwlimit->empty()) {
        auto mib = parseSizeMib(*bwlimit);
        if (!mib) ctx.fail(makeError(Errc::invalid_argument, "--bwlimit: " + mib.error().message));
        body["bwlimit_mib"] = *mib;
      }
      auto out = runOperation(ctx, "backup " + *vm, "/v1/vms/" + *vm + "/backups", body, *noWait);
      nlohmann::json pruned;
      if (!*noWait && (*keepLast > 0 || *keepDaily > 0))
        pruned =
            ctx.must(ctx.client().call("POST", backupPath(r, *vm, "/prune"),
                                       {{"keep_last", *keepLast}, {"keep_daily", *keepDaily}}));
      if (ctx.json) {
        if (!pruned.is_null()) out["pruned"] = pruned["removed"];
        return printJson(out);
      }
      if (*noWait) {
        std::printf("operation %lld started\n",
                    static_cast<long long>(out.value("id", int64_t{0})));
        return;
      }
      std::string parent = out.value("parent", "");
      std::printf("%s backup %s of VM %s in %s: %s in %s%s\n", out.value("kind", "").c_str(),
                  out.value("id", "").c_str(), vm->c_str(), r.c_str(),
                  humanBytes(out.value("bytes", uint64_t{0})).c_str(),
                  humanDuration(out.value("duration_ms", int64_t{0})).c_str(),
                  parent.empty() ? "" : (" on top of " + parent).c_str());
      if (!out.value("reason", "").empty())
        std::printf("full because %s\n", out.value("reason", "").c_str());
      if (!pruned.is_null() && !pruned["removed"].empty())
        std::printf("pruned: %s\n", joinNames(pruned["removed"]).c_str());
    });
  }
  {
    auto* c = backup->add_subcommand("list", "List backups");
    auto vm = std::make_shared<std::string>();
    c->add_option("vm", *vm, "only this VM's");
    addRepoOption(c);
    c->callback([=, &ctx] {
      std::string path = "/v1/backups?repo=" + repoName(ctx, *repo);
      if (!vm->empty()) path += "&vm=" + *vm;
      auto out = ctx.must(ctx.client().call("GET", path));
      if (ctx.json) return printJson(out);
      printBackups(out["backups"]);
    });
  }
  {
    auto* c = backup->add_subcommand("show", "Show one backup and the definition it holds");
    auto vm = std::make_shared<std::string>();
    auto id = std::make_shared<std::string>();
    c->add_option("vm", *vm, "VM name")->required();
    c->add_option("id", *id, "backup id or 'latest'")->required();
    addRepoOption(c);
    c->callback([=, &ctx] {
      auto out =
          ctx.must(ctx.client().call("GET", backupPath(repoName(ctx, *repo), *vm, "/" + *id)));
      if (ctx.json) return printJson(out);
      printBackups(nlohmann::json::array({out}));
      Table t({"DISK", "VIRTUAL SIZE", "FILE", "SHA-256"});
      for (const auto& d : out["disks"])
        t.add({d.value("disk", ""), humanBytes(d.value("virtual_size_bytes", uint64_t{0})),
               humanBytes(d.value("file_bytes", uint64_t{0})), d.value("sha256", "")});
      std::printf("\n");
      t.print();
    });
  }
  {
    auto* c = backup->add_subcommand(
        "verify", "Check backups: sizes, SHA-256, qcow2 structure, parent chain");
    auto vm = std::make_shared<std::string>();
    auto id = std::make_shared<std::string>();
    c->add_option("vm", *vm, "VM name")->required();
    c->add_option("id", *id, "one backup (default: all of the VM's)");
    addRepoOption(c);
    c->callback([=, &ctx] {
      auto out =
          runOperation(ctx, "verify " + *vm, backupPath(repoName(ctx, *repo), *vm, "/verify"),
                       {{"id", *id}}, false);
      if (ctx.json) {
        printJson(out);
      } else {
        Table t({"VM", "ID", "RESULT"});
        for (const auto& b : out["backups"])
          t.add({b.value("vm", ""), b.value("id", ""),
                 b.value("ok", false) ? "ok" : "FAILED: " + b.value("problem", "")});
        t.print();
      }
      if (!out.value("ok", false)) throw ExitStatus{kFailed};
    });
  }
  {
    auto* c = backup->add_subcommand("restore", "Restore a backup into a new VM");
    auto vm = std::make_shared<std::string>();
    auto id = std::make_shared<std::string>();
    auto as = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    c->add_option("vm", *vm, "the VM that was backed up")->required();
    c->add_option("id", *id, "backup id or 'latest'")->required();
    c->add_option("--as", *as, "name of the restored VM (default: the original's)");
    c->add_flag("--force", *force, "replace the VM of that name (it must be stopped)");
    addRepoOption(c);
    c->callback([=, &ctx] {
      auto out = runOperation(ctx, "restore " + *vm,
                              backupPath(repoName(ctx, *repo), *vm, "/" + *id + "/restore"),
                              {{"as", *as}, {"force", *force}}, false);
      if (ctx.json) return printJson(out);
      std::printf("backup %s of VM %s restored as VM %s (stopped)\n",
                  out["restored_from"].value("id", "").c_str(), vm->c_str(),
                  out.value("name", "").c_str());
    });
  }
  {
    auto* c = backup->add_subcommand("prune", "Apply retention to a VM's backups");
    auto vm = std::make_shared<std::string>();
    auto keepLast = std::make_shared<int>(0);
    auto keepDaily = std::make_shared<int>(0);
    auto dryRun = std::make_shared<bool>(false);
    c->add_option("vm", *vm, "VM name")->required();
    c->add_option("--keep-last", *keepLast, "keep the newest N backups")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--keep-daily", *keepDaily, "keep the newest backup of each of the last N days")
        ->check(CLI::NonNegativeNumber);
    c->add_flag("--dry-run", *dryRun, "only say what would go");
    addRepoOption(c);
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call(
          "POST", backupPath(repoName(ctx, *repo), *vm, "/prune"),
          {{"keep_last", *keepLast}, {"keep_daily", *keepDaily}, {"dry_run", *dryRun}}));
      if (ctx.json) return printJson(out);
      std::printf("%s %s; kept %s\n", *dryRun ? "would remove" : "removed",
                  joinNames(out["removed"]).c_str(), joinNames(out["kept"]).c_str());
    });
  }
  {
    auto* c = backup->add_subcommand("delete", "Delete one backup");
    auto vm = std::make_shared<std::string>();
    auto id = std::make_shared<std::string>();
    c->add_option("vm", *vm, "VM name")->required();
    c->add_option("id", *id, "backup id")->required();
    addRepoOption(c);
    c->callback([=, &ctx] {
      auto out =
          ctx.must(ctx.client().call("DELETE", backupPath(repoName(ctx, *repo), *vm, "/" + *id)));
      if (ctx.json) return printJson(out);
      std::printf("backup %s of VM %s deleted\n", id->c_str(), vm->c_str());
    });
  }
}

}  // namespace paddock::cli
