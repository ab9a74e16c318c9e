#include "services/backups/backup_service.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/names.h"
#include "images/qemu_img.h"
#include "services/disk_copy.h"

namespace paddock {

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

Error notFoundRepo(const std::string& name) {
  return makeError(Errc::not_found, fmt::format("backup repository '{}' does not exist", name),
                   "repo");
}

// Whether an incremental backup on top of `latest` is possible, else why not.
std::string whyFull(const BackupRepository& r, const BackupManifest& latest, const VmSpec& spec,
                    const std::vector<DiskBitmap>& bitmaps) {
  if (latest.disks.size() != spec.disks.size())
    return fmt::format("the VM's disks changed since backup {}", latest.id);
  for (size_t i = 0; i < spec.disks.size(); ++i) {
    const auto& d = spec.disks[i];
    if (latest.disks[i].disk != d.name || latest.disks[i].virtualSizeBytes != d.sizeMib * kMiB)
      return fmt::format("the VM's disks changed since backup {}", latest.id);
    if (!pathExists(r.dir(latest.vm, latest.id) + "/" + d.name + ".qcow2"))
      return fmt::format("backup {} lost its file for disk {}", latest.id, d.name);
    auto it = std::find_if(bitmaps.begin(), bitmaps.end(), [&](const DiskBitmap& b) {
      return b.disk == d.name && b.name == latest.bitmap;
    });
    if (it == bitmaps.end())
      return fmt::format(
          "disk {} has no change tracking since backup {} (its QEMU ended without storing "
          "it, a snapshot was reverted, or the disk was replaced)",
          d.name, latest.id);
    if (!it->usable)
      return fmt::format(
          "disk {}'s change tracking since backup {} cannot be trusted (its QEMU "
          "did not shut down cleanly)",
          d.name, latest.id);
  }
  return "";
}

std::string friendlyCopyError(const std::string& repo, const Error& e) {
  if (e.message.find("No space left") != std::string::npos)
    return fmt::format(
        "backup repository '{}' is full (No space left on device); nothing was "
        "kept of this backup",
        repo);
  return fmt::format("backup failed: {}", e.message);
}

}  // namespace

class BackupService::Claim {
 public:
  Claim(BackupService& s, std::string key) : s_(s), key_(std::move(key)) {
    std::lock_guard lock(s_.mutex_);
    held_ = s_.busy_.insert(key_).second;
  }
  ~Claim() {
    if (!held_) return;
    std::lock_guard lock(s_.mutex_);
    s_.busy_.erase(key_);
  }
  Status status() const {
    if (held_) return {};
    auto slash = key_.find('/');
    return makeError(Errc::conflict,
                     fmt::format("another backup operation on VM '{}' in repository '{}' is "
                                 "running",
                                 key_.substr(slash + 1), key_.substr(0, slash)));
  }

 private:
  BackupService& s_;
  std::string key_;
  bool held_ = false;
};

Result<BackupRepo> BackupService::addRepo(const std::string& name, const std::string& path) {
  if (auto s = validateName(name, "repository name"); !s)
    return makeError(Errc::invalid_argument, s.error().message, "name");
  if (store_.getObject(kBackupRepoKind, name))
    return makeError(Errc::conflict, fmt::format("backup repository '{}' already exists", name),
                     "name");
  std::string clean = path;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  PADDOCK_TRY_ASSIGN(auto all, store_.listObjects(kBackupRepoKind));
  for (const auto& j : all)
    if (j.value("path", "") == clean)
      return makeError(Errc::conflict,
                       fmt::format("{} is already repository '{}'", clean, j.value("name", "")),
                       "path");
  PADDOCK_TRY(BackupRepository::checkUsable(clean));
  BackupRepo r{name, clean, nowMs()};
  PADDOCK_TRY(store_.createObject(kBackupRepoKind, name, toJson(r)));
  events_.publish("backup.repo.added", "backup-repo/" + name, {{"path", clean}});
  return r;
}

Result<std::vector<RepoView>> BackupService::listRepos() {
  PADDOCK_TRY_ASSIGN(auto all, store_.listObjects(kBackupRepoKind));
  std::vector<RepoView> out;
  for (const auto& j : all) {
    PADDOCK_TRY_ASSIGN(auto r, backupRepoFromJson(j));
    RepoView v{r, 0, 0, {}, ""};
    BackupRepository repo(r.path);
    if (!pathExists(r.path)) v.problem = "folder missing";
    for (const auto& vm : repo.vms())
      if (auto backups = repo.list(vm))
        for (const auto& m : *backups) {
          ++v.backups;
          v.bytes += m.bytes();
        }
    if (auto space = repo.space()) v.space = *space;
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const RepoView& a, const RepoView& b) { return a.repo.name < b.repo.name; });
  return out;
}

Result<BackupRepo> BackupService::repo(const std::string& name) {
  if (name.empty()) {
    PADDOCK_TRY_ASSIGN(auto all, store_.listObjects(kBackupRepoKind));
    if (all.size() == 1) return backupRepoFromJson(all[0]);
    return makeError(Errc::invalid_argument,
                     all.empty() ? "no backup repository: add one with `paddock backup repo add`"
                                 : "several backup repositories: name one with --repo",
                     "repo");
  }
  auto doc = store_.getObject(kBackupRepoKind, name);
  if (!doc) {
    if (doc.error().code == Errc::not_found) return notFoundRepo(name);
    return doc.error();
  }
  return backupRepoFromJson(*doc);
}

Status BackupService::removeRepo(const std::string& name) {
  PADDOCK_TRY(repo(name));
  {
    std::lock_guard lock(mutex_);
    for (const auto& key : busy_)
      if (key.rfind(name + "/", 0) == 0)
        return makeError(Errc::conflict,
                         fmt::format("a backup operation in repository '{}' is running", name));
  }
  PADDOCK_TRY(store_.deleteObject(kBackupRepoKind, name));
  events_.publish("backup.repo.removed", "backup-repo/" + name, {});
  return {};
}

Result<BackupRepository> BackupService::open(const std::string& name) {
  PADDOCK_TRY_ASSIGN(auto r, repo(name));
  if (!pathExists(r.path))
    return makeError(Errc::unavailable,
                     fmt::format("backup repository '{}': folder {} is missing", r.name, r.path));
  return BackupRepository(r.path);
}

Result<BackupManifest> BackupService::resolve(const BackupRepository& r, const std::string& vm,
                                              const std::string& id) {
  if (id != "latest") {
    auto m = r.get(vm, id);
    if (!m && m.error().code == Errc::not_found)
      return Error{m.error().code, m.error().message, "id"};
    return m;
  }
  PADDOCK_TRY_ASSIGN(auto all, r.list(vm));
  if (all.empty())
    return makeError(Errc::not_found, fmt::format("VM '{}' has no backups here", vm), "id");
  return all.back();
}

Status BackupService::checkCreate(const std::string& vm, const std::string& repoName) {
  PADDOCK_TRY_ASSIGN(auto r, repo(repoName));
  PADDOCK_TRY_ASSIGN(auto rec, vms_.get(vm));
  if (rec.spec.disks.empty())
    return makeError(Errc::invalid_argument, fmt::format("VM '{}' has no disks to back up", vm),
                     "vm");
  if (rec.runtime.state == VmState::suspended)
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' is suspended: resume or stop it before a backup", vm));
  if (rec.runtime.state == VmState::starting || rec.runtime.state == VmState::stopping)
    return makeError(Errc::conflict, fmt::format("VM '{}' is {}: try again when it settled", vm,
                                                 vmStateName(rec.runtime.state)));
  if (auto s = BackupRepository::checkUsable(r.path); !s)
    return makeError(Errc::unavailable,
                     fmt::format("backup repository '{}': {}", r.name, s.error().message), "repo");
  return {};
}

Status BackupService::backupWith(BlockJobs& jobs, const BackupRepo& repo, const BackupRepository& r,
                                 const VmRecord& rec, BackupManifest& m, bool full,
                                 std::uint64_t bwlimitMib, OperationContext* op) {
  const VmSpec& spec = rec.spec;
  PADDOCK_TRY_ASSIGN(auto bitmaps, jobs.bitmaps());
  PADDOCK_TRY_ASSIGN(auto previous, r.list(m.vm));
  const BackupManifest* latest = previous.empty() ? nullptr : &previous.back();
  if (!full && latest) {
    m.reason = whyFull(r, *latest, spec, bitmaps);
    m.full = !m.reason.empty();
  } else {
    m.full = true;
    m.reason = latest ? "a full backup was asked for" : "";
  }
  if (!m.full) m.parent = latest->id;
  if (!m.reason.empty()) spdlog::info("backup {}/{}: full: {}", m.vm, m.id, m.reason);
  // This repository's bitmaps other than the newest backup's belong to no recorded backup (one
  // cut short, whose id may come round again): they go before a new one is made.
  for (const auto& b : bitmaps)
    if (b.name.rfind(backupBitmapPrefix(repo.name), 0) == 0 &&
        (!latest || b.name != latest->bitmap))
      PADDOCK_TRY(jobs.removeBitmap(b.disk, b.name));

  std::string partial = r.partialDir(m.vm, m.id);
  PADDOCK_TRY(makeDirs(partial, 0750));
  BackupJob job;
  job.id = m.id;
  job.newBitmap = m.bitmap;
  job.bytesPerSecond = bwlimitMib * kMiB;
  for (const auto& d : spec.disks) {
    std::string target = partial + "/" + d.name + ".qcow2";
    Status made = m.full ? createQcow2(target, d.sizeMib)
                         : createOverlay(target, "../" + m.parent + "/" + d.name + ".qcow2");
    if (!made) {
      (void)removeAll(partial);
      return made;
    }
    job.disks.push_back({d.name, target, m.full ? "" : latest->bitmap});
    m.disks.push_back({d.name, d.sizeMib * kMiB, 0, ""});
  }
  if (op) op->progress(5, m.full ? "full backup" : "incremental backup since " + m.parent);
  BackupCallbacks cb;
  cb.progress = [&](std::uint64_t done, std::uint64_t total) {
    if (!op) return;
    op->progress(5 + static_cast<int>(85 * done / total),
                 fmt::format("{} backup: {} of {} MiB", m.full ? "full" : "incremental",
                             done / kMiB, total / kMiB));
  };
  cb.cancelled = [op] { return op && op->cancelled(); };
  if (auto s = jobs.backup(job, cb); !s) {
    (void)removeAll(partial);
    if (s.error().message == "cancelled") return s;
    return makeError(s.error().code, friendlyCopyError(repo.name, s.error()));
  }
  if (op) op->progress(92, "checksums");
  m.durationMs = nowMs() - m.createdAtMs;
  if (auto s = r.commit(m); !s) {
    (void)removeAll(partial);
    for (const auto& d : spec.disks) (void)jobs.removeBitmap(d.name, m.bitmap);
    return makeError(s.error().code, friendlyCopyError(repo.name, s.error()));
  }
  // The new bitmap is the chain's head now; older ones of this repository only cost writes.
  for (const auto& b : bitmaps)
    if (b.name.rfind(backupBitmapPrefix(repo.name), 0) == 0 && b.name != m.bitmap)
      if (auto s = jobs.removeBitmap(b.disk, b.name); !s)
        spdlog::warn("backup {}/{}: cannot drop bitmap {} of disk {}: {}", m.vm, m.id, b.name,
                     b.disk, s.error().message);
  return {};
}

Result<BackupManifest> BackupService::create(const std::string& vm, const std::string& repoName,
                                             bool full, std::uint64_t bwlimitMib,
                                             OperationContext* op) {
  PADDOCK_TRY_ASSIGN(auto repoRec, repo(repoName));
  Claim claim(*this, repoRec.name + "/" + vm);
  PADDOCK_TRY(claim.status());
  PADDOCK_TRY(checkCreate(vm, repoRec.name));
  BackupRepository r(repoRec.path);
  BackupManifest m;
  m.vm = vm;
  m.createdAtMs = nowMs();
  m.id = r.newId(vm, m.createdAtMs);
  m.bitmap = backupBitmapName(repoRec.name, m.id);
  PADDOCK_TRY(vms_.withVm(vm, [&](const VmRecord& rec, VmProcess* proc) -> Status {
    m.spec = toJson(rec.spec);
    m.vmState = vmStateName(rec.runtime.state);
    if (proc) return backupWith(proc->blockJobs(), repoRec, r, rec, m, full, bwlimitMib, op);
    if (rec.runtime.state == VmState::suspended)
      return makeError(Errc::conflict,
                       fmt::format("VM '{}' is suspended: resume or stop it before a backup", vm));
    m.vmState = "stopped";
    std::vector<LaunchDisk> disks;
    for (const auto& d : rec.spec.disks)
      disks.push_back({d.name, vms_.diskDir(vm) + "/" + d.name + ".qcow2", "qcow2", false, ""});
    if (op) op->progress(2, "opening the disks");
    PADDOCK_TRY_ASSIGN(auto session, engine_.openDisks(vm, disks, vms_.runDir(vm)));
    return backupWith(*session, repoRec, r, rec, m, full, bwlimitMib, op);
  }));
  events_.publish("vm.backup.created", "vm/" + vm,
                  {{"repo", repoRec.name},
                   {"id", m.id},
                   {"kind", m.full ? "full" : "incremental"},
                   {"bytes", m.bytes()},
                   {"duration_ms", m.durationMs}});
  return m;
}

Result<std::vector<BackupManifest>> BackupService::list(const std::string& repoName,
                                                        const std::string& vm) {
  PADDOCK_TRY_ASSIGN(auto r, open(repoName));
  std::vector<BackupManifest> out;
  for (const auto& v : vm.empty() ? r.vms() : std::vector<std::string>{vm}) {
    PADDOCK_TRY_ASSIGN(auto backups, r.list(v));
    out.insert(out.end(), backups.begin(), backups.end());
  }
  return out;
}

Result<BackupManifest> BackupService::get(const std::string& repoName, const std::string& vm,
                                          const std::string& id) {
  PADDOCK_TRY_ASSIGN(auto r, open(repoName));
  return resolve(r, vm, id);
}

Result<std::vector<BackupCheck>> BackupService::verify(const std::string& repoName,
                                                       const std::string& vm,
                                                       const std::string& id) {
  PADDOCK_TRY_ASSIGN(auto r, open(repoName));
  std::string which = id;
  if (id == "latest") {
    PADDOCK_TRY_ASSIGN(auto m, resolve(r, vm, id));
    which = m.id;
  }
  auto checks = r.verify(vm, which);
  if (!checks) return checks.error();
  if (checks->empty())
    return makeError(Errc::not_found, fmt::format("VM '{}' has no backups here", vm), "vm");
  for (const auto& c : *checks)
    if (!c.ok)
      events_.publish("vm.backup.verify_failed", "vm/" + vm,
                      {{"repo", repoName}, {"id", c.id}, {"problem", c.problem}});
  return checks;
}

Status BackupService::checkRestore(const RestoreRequest& req) {
  PADDOCK_TRY_ASSIGN(auto r, open(req.repo));
  PADDOCK_TRY(resolve(r, req.vm, req.id));
  std::string as = req.as.empty() ? req.vm : req.as;
  if (auto s = validateName(as, "VM name"); !s)
    return makeError(Errc::invalid_argument, s.error().message, "as");
  auto existing = vms_.get(as);
  if (existing) {
    if (!req.force)
      return makeError(Errc::conflict,
                       fmt::format("VM '{}' exists: restore under another name with --as, or "
                                   "replace it with --force",
                                   as),
                       "as");
    if (existing->runtime.state != VmState::stopped && existing->runtime.state != VmState::crashed)
      return makeError(Errc::conflict,
                       fmt::format("VM '{}' is {}: stop it before restoring over it", as,
                                   vmStateName(existing->runtime.state)),
                       "as");
  }
  return {};
}

Result<VmRecord> BackupService::restore(const RestoreRequest& req, OperationContext* op) {
  PADDOCK_TRY_ASSIGN(auto repoRec, repo(req.repo));
  Claim claim(*this, repoRec.name + "/" + req.vm);
  PADDOCK_TRY(claim.status());
  PADDOCK_TRY(checkRestore(req));
  BackupRepository r(repoRec.path);
  PADDOCK_TRY_ASSIGN(auto m, resolve(r, req.vm, req.id));
  std::string as = req.as.empty() ? req.vm : req.as;
  // Nothing is restored from a backup that does not verify: its data could be wrong.
  if (op) op->progress(2, "verifying backup " + m.id);
  PADDOCK_TRY_ASSIGN(auto checks, r.verify(m.vm, m.id));
  if (!checks.front().ok)
    return makeError(Errc::conflict, fmt::format("backup {}/{} does not verify: {}", m.vm, m.id,
                                                 checks.front().problem));
  PADDOCK_TRY_ASSIGN(auto spec, vmSpecFromJson(m.spec));
  spec.name = as;
  spec.templateName.clear();  // the restored disks are whole, independent copies
  spec.linkedClone = false;
  spec.storage.clear();  // restored onto this host's own disk directory
  if (as != m.vm) {
    // Another VM than the one backed up: its own MACs, and no address the original may hold.
    for (auto& nic : spec.nics) {
      nic.mac.clear();
      if (!nic.ip.empty()) nic.ip = "auto";
    }
    std::erase_if(spec.labels, [](const auto& l) { return l.first.rfind("paddock.", 0) == 0; });
  }
  std::string prepared = vms_.config().stateDir + "/disks/.partial-" + as;
  (void)removeAll(prepared);
  PADDOCK_TRY(makeDirs(prepared, 0750));
  CopyProgress progress(op, spec.disks, 10, 90);
  if (auto s = copyDisks(r.dir(m.vm, m.id), prepared, spec.disks, progress); !s) {
    (void)removeAll(prepared);
    return s.error();
  }
  if (req.force && vms_.get(as)) {
    if (op) op->progress(92, "replacing VM " + as);
    if (auto s = vms_.remove(as, false); !s) {
      (void)removeAll(prepared);
      return s.error();
    }
  }
  auto rec = vms_.createWithDisks(spec, prepared);
  if (!rec) {
    (void)removeAll(prepared);
    return rec.error();
  }
  events_.publish("vm.backup.restored", "vm/" + as,
                  {{"repo", repoRec.name}, {"from_vm", m.vm}, {"id", m.id}});
  return rec;
}

Result<PruneResult> BackupService::prune(const std::string& repoName, const std::string& vm,
                                         int keepLast, int keepDaily, bool dryRun) {
  if (keepLast < 0)
    return makeError(Errc::invalid_argument, "keep_last cannot be negative", "keep_last");
  if (keepDaily < 0)
    return makeError(Errc::invalid_argument, "keep_daily cannot be negative", "keep_daily");
  if (keepLast == 0 && keepDaily == 0)
    return makeError(Errc::invalid_argument,
                     "say what to keep: keep_last or keep_daily of at least 1", "keep_last");
  PADDOCK_TRY_ASSIGN(auto repoRec, repo(repoName));
  Claim claim(*this, repoRec.name + "/" + vm);
  PADDOCK_TRY(claim.status());
  BackupRepository r(repoRec.path);
  PADDOCK_TRY_ASSIGN(auto all, r.list(vm));
  if (all.empty())
    return makeError(Errc::not_found, fmt::format("VM '{}' has no backups here", vm), "vm");
  std::set<std::string> keep;
  for (size_t i = all.size() > static_cast<size_t>(keepLast) ? all.size() - keepLast : 0;
       i < all.size(); ++i)
    keep.insert(all[i].id);
  std::set<int64_t> days;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    int64_t day = it->createdAtMs / 86'400'000;
    if (days.count(day)) continue;
    if (static_cast<int>(days.size()) == keepDaily) break;
    days.insert(day);
    keep.insert(it->id);
  }
  // Whatever a kept incremental is built on stays too.
  std::map<std::string, std::string> parentOf;
  for (const auto& m : all) parentOf[m.id] = m.parent;
  for (auto id : std::vector<std::string>(keep.begin(), keep.end()))
    for (std::string p = parentOf[id]; !p.empty(); p = parentOf[p]) keep.insert(p);
  PruneResult result;
  for (const auto& m : all)
    if (keep.count(m.id)) result.kept.push_back(m.id);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (keep.count(it->id)) continue;
    if (!dryRun) PADDOCK_TRY(r.remove(vm, it->id));
    result.removed.push_back(it->id);
  }
  if (!dryRun && !result.removed.empty())
    events_.publish("vm.backup.pruned", "vm/" + vm,
                    {{"repo", repoRec.name}, {"removed", result.removed}});
  return result;
}

Status BackupService::remove(const std::string& repoName, const std::string& vm,
                             const std::string& id) {
  PADDOCK_TRY_ASSIGN(auto repoRec, repo(repoName));
  Claim claim(*this, repoRec.name + "/" + vm);
  PADDOCK_TRY(claim.status());
  BackupRepository r(repoRec.path);
  PADDOCK_TRY_ASSIGN(auto m, resolve(r, vm, id));
  PADDOCK_TRY_ASSIGN(auto all, r.list(vm));
  std::vector<std::string> children;
  for (const auto& b : all)
    if (b.parent == m.id) children.push_back(b.id);
  if (!children.empty())
    return makeError(Errc::conflict,
                     fmt::format("backup {} of VM '{}' is the base of incremental backup(s) {}; "
                                 "delete those first or prune",
                                 m.id, vm, fmt::join(children, ", ")));
  PADDOCK_TRY(r.remove(vm, m.id));
  events_.publish("vm.backup.deleted", "vm/" + vm, {{"repo", repoRec.name}, {"id", m.id}});
  return {};
}

void BackupService::cleanPartial() {
  auto all = store_.listObjects(kBackupRepoKind);
  if (!all) return;
  for (const auto& j : *all) {
    auto r = backupRepoFromJson(j);
    if (!r || !pathExists(r->path)) continue;
    int n = BackupRepository(r->path).cleanPartial();
    if (n > 0) spdlog::info("backup repository {}: removed {} interrupted backup(s)", r->name, n);
  }
}

}  // namespace paddock
