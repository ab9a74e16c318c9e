#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

namespace {

nlohmann::json repoView(const RepoView& v) {
  auto j = toJson(v.repo);
  j["backups"] = v.backups;
  j["bytes"] = v.bytes;
  j["free_bytes"] = v.space.freeBytes;
  j["total_bytes"] = v.space.totalBytes;
  j["problem"] = v.problem;
  return j;
}

// The manifest without the VM definition, for lists.
nlohmann::json summary(const BackupManifest& m) {
  auto j = toJson(m);
  j.erase("spec");
  return j;
}

nlohmann::json checksView(const std::vector<BackupCheck>& checks) {
  nlohmann::json out = nlohmann::json::array();
  bool ok = true;
  for (const auto& c : checks) {
    out.push_back({{"vm", c.vm}, {"id", c.id}, {"ok", c.ok}, {"problem", c.problem}});
    ok = ok && c.ok;
  }
  return {{"ok", ok}, {"backups", out}};
}

std::string queryValue(const http::Request& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? "" : it->second;
}

void addRepoRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/backup-repos", "List backup repositories with their use and free space",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                auto all = ctx.backups.listRepos();
                if (!all) return respondError(ex, all.error());
                nlohmann::json out = nlohmann::json::array();
                for (const auto& v : *all) out.push_back(repoView(v));
                respondJson(ex, 200, {{"repos", out}});
              }});
  router.add({"POST", "/v1/backup-repos",
              "Register a backup repository: {\"name\", \"path\"} (made if missing; must be "
              "writable)",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(*body, {"name", "path"}); !s)
                  return respondError(ex, s.error());
                auto name = stringField(*body, "name", true);
                if (!name) return respondError(ex, name.error());
                auto path = stringField(*body, "path", true);
                if (!path) return respondError(ex, path.error());
                respondResult(ex, ctx.backups.addRepo(*name, *path), 201);
              }});
  router.add({"DELETE", "/v1/backup-repos/{repo}",
              "Forget a backup repository (its files stay where they are)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                if (auto s = ctx.backups.removeRepo(p.at("repo")); !s)
                  return respondError(ex, s.error());
                respondJson(ex, 200, {{"removed", p.at("repo")}});
              }});
}

}  // namespace

void addBackupRoutes(Router& router, ApiContext& ctx) {
  addRepoRoutes(router, ctx);
  router.add({"POST", "/v1/vms/{name}/backups",
              "Back up a VM, running or stopped (operation): {\"repo\", \"full\": bool, "
              "\"bwlimit_mib\": MiB/s per disk} — incremental when the previous backup's change "
              "tracking allows it",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(*body, {"repo", "full", "bwlimit_mib"}); !s)
                  return respondError(ex, s.error());
                auto repo = stringField(*body, "repo", false);
                if (!repo) return respondError(ex, repo.error());
                auto full = boolField(*body, "full", false);
                if (!full) return respondError(ex, full.error());
                auto bwlimit = intField(*body, "bwlimit_mib", 0);
                if (!bwlimit) return respondError(ex, bwlimit.error());
                if (*bwlimit < 0 || *bwlimit > 1'000'000)
                  return respondError(
                      ex, makeError(Errc::invalid_argument,
                                    "bwlimit_mib must be 0 (no limit) to 1000000", "bwlimit_mib"));
                std::string vm = p.at("name");
                auto r = ctx.backups.repo(*repo);
                if (!r) return respondError(ex, r.error());
                if (auto s = ctx.backups.checkCreate(vm, r->name); !s)
                  return respondError(ex, s.error());
                auto op = ctx.operations.start("vm.backup", "vm/" + vm,
                                               [&ctx, vm, repo = r->name, full = *full,
                                                bwlimit = static_cast<std::uint64_t>(*bwlimit)](
                                                   OperationContext& oc) -> Result<nlohmann::json> {
                                                 auto m = ctx.backups.create(vm, repo, full,
                                                                             bwlimit, &oc);
                                                 if (!m) return m.error();
                                                 auto j = summary(*m);
                                                 j["repo"] = repo;
                                                 return j;
                                               });
                respondJson(ex, 202, toJson(op));
              }});
  router.add({"GET", "/v1/backups", "List backups: ?repo=NAME (optional with one) &vm=NAME",
              [&ctx](const http::Request& req, const Params&, http::Exchange& ex) {
                auto r = ctx.backups.repo(queryValue(req, "repo"));
                if (!r) return respondError(ex, r.error());
                auto all = ctx.backups.list(r->name, queryValue(req, "vm"));
                if (!all) return respondError(ex, all.error());
                nlohmann::json out = nlohmann::json::array();
                for (const auto& m : *all) out.push_back(summary(m));
                respondJson(ex, 200, {{"repo", r->name}, {"backups", out}});
              }});
  router.add({"GET", "/v1/backups/{repo}/{vm}/{id}",
              "One backup with the VM definition it holds (id may be \"latest\")",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                respondResult(ex, ctx.backups.get(p.at("repo"), p.at("vm"), p.at("id")));
              }});
  router.add({"DELETE", "/v1/backups/{repo}/{vm}/{id}",
              "Delete a backup (refused while an incremental one is built on it)",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                if (auto s = ctx.backups.remove(p.at("repo"), p.at("vm"), p.at("id")); !s)
                  return respondError(ex, s.error());
                respondJson(ex, 200, {{"deleted", p.at("id")}});
              }});
  router.add(
      {"POST", "/v1/backups/{repo}/{vm}/verify",
       "Verify every backup of a VM (operation): sizes, SHA-256, qcow2 structure, parent chain; "
       "{\"id\"} for one",
       [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
         auto body = parseBody(req);
         if (!body) return respondError(ex, body.error());
         if (auto s = onlyFields(*body, {"id"}); !s) return respondError(ex, s.error());
         auto id = stringField(*body, "id", false);
         if (!id) return respondError(ex, id.error());
         std::string repo = p.at("repo"), vm = p.at("vm");
         if (auto r = ctx.backups.repo(repo); !r) return respondError(ex, r.error());
         if (!id->empty())
           if (auto m = ctx.backups.get(repo, vm, *id); !m) return respondError(ex, m.error());
         auto op = ctx.operations.start(
             "vm.backup.verify", "vm/" + vm,
             [&ctx, repo, vm, id = *id](OperationContext& oc) -> Result<nlohmann::json> {
               oc.progress(10, "checking files");
               auto checks = ctx.backups.verify(repo, vm, id);
               if (!checks) return checks.error();
               return checksView(*checks);
             });
         respondJson(ex, 202, toJson(op));
       }});
  router.add({"POST", "/v1/backups/{repo}/{vm}/{id}/restore",
              "Restore a backup into a new VM (operation): {\"as\", \"force\": bool} — force "
              "replaces an existing, stopped VM",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(*body, {"as", "force"}); !s)
                  return respondError(ex, s.error());
                auto as = stringField(*body, "as", false);
                if (!as) return respondError(ex, as.error());
                auto force = boolField(*body, "force", false);
                if (!force) return respondError(ex, force.error());
                RestoreRequest rr{p.at("repo"), p.at("vm"), p.at("id"), *as, *force};
                if (auto s = ctx.backups.checkRestore(rr); !s) return respondError(ex, s.error());
                auto m = ctx.backups.get(rr.repo, rr.vm, rr.id);  // "latest" → its id
                if (!m) return respondError(ex, m.error());
                rr.id = m->id;
                auto op = ctx.operations.start(
                    "vm.restore", "vm/" + (as->empty() ? rr.vm : *as),
                    [&ctx, rr](OperationContext& oc) -> Result<nlohmann::json> {
                      auto rec = ctx.backups.restore(rr, &oc);
                      if (!rec) return rec.error();
                      auto j = toJson(*rec);
                      j["restored_from"] = {{"repo", rr.repo}, {"vm", rr.vm}, {"id", rr.id}};
                      return j;
                    });
                respondJson(ex, 202, toJson(op));
              }});
  router.add(
      {"POST", "/v1/backups/{repo}/{vm}/prune",
       "Apply retention: {\"keep_last\", \"keep_daily\", \"dry_run\": bool}",
       [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
         auto body = parseBody(req);
         if (!body) return respondError(ex, body.error());
         if (auto s = onlyFields(*body, {"keep_last", "keep_daily", "dry_run"}); !s)
           return respondError(ex, s.error());
         auto last = intField(*body, "keep_last", 0);
         if (!last) return respondError(ex, last.error());
         auto daily = intField(*body, "keep_daily", 0);
         if (!daily) return respondError(ex, daily.error());
         auto dry = boolField(*body, "dry_run", false);
         if (!dry) return respondError(ex, dry.error());
         if (*last > 100000 || *daily > 100000)
           return respondError(
               ex, makeError(Errc::invalid_argument, "keep_last/keep_daily above 100000",
                             *last > 100000 ? "keep_last" : "keep_daily"));
         auto r = ctx.backups.prune(p.at("repo"), p.at("vm"), static_cast<int>(*last),
                                    static_cast<int>(*daily), *dry);
         if (!r) return respondError(ex, r.error());
         respondJson(ex, 200, {{"removed", r->removed}, {"kept", r->kept}, {"dry_run", *dry}});
       }});
}

}  // namespace paddock::api
