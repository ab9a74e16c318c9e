#include "engine/qemu/qmp_block_jobs.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace paddock {

namespace {

constexpr const char* kDiskNodePrefix = "drive-";
// Backup targets and their jobs: "pbk<N>". A name left by an earlier, killed paddockd is cleared
// before it is used again.
std::string targetName(size_t i) {
  return fmt::format("pbk{}", i);
}

bool notFound(const Error& e) {
  return e.message.find("not found") != std::string::npos ||
         e.message.find("Cannot find") != std::string::npos;
}

}  // namespace

Result<std::vector<DiskBitmap>> QmpBlockJobs::bitmaps() {
  PADDOCK_TRY_ASSIGN(auto all, qmp_.queryBitmaps());
  std::vector<DiskBitmap> out;
  const std::string prefix = kDiskNodePrefix;
  for (const auto& b : all) {
    if (b.node.rfind(prefix, 0) != 0) continue;
    out.push_back(
        DiskBitmap{b.node.substr(prefix.size()), b.name, b.persistent && !b.inconsistent, b.count});
  }
  return out;
}

Status QmpBlockJobs::removeBitmap(const std::string& disk, const std::string& name) {
  auto s = qmp_.bitmapRemove(kDiskNodePrefix + disk, name);
  if (!s && notFound(s.error())) return {};
  return s;
}

void QmpBlockJobs::undo(const BackupJob& job, size_t targetsAdded, bool bitmapsAdded) {
  for (size_t i = 0; i < targetsAdded; ++i)
    if (auto s = qmp_.blockdevDel(targetName(i)); !s)
      spdlog::warn("backup {}: cannot close target {}: {}", job.id, targetName(i),
                   s.error().message);
  if (bitmapsAdded)
    for (const auto& d : job.disks)
      if (auto s = removeBitmap(d.disk, job.newBitmap); !s)
        spdlog::warn("backup {}: cannot remove bitmap {} of disk {}: {}", job.id, job.newBitmap,
                     d.disk, s.error().message);
}

Status QmpBlockJobs::backup(const BackupJob& job, const BackupCallbacks& callbacks) {
  if (job.disks.empty()) return makeError(Errc::invalid_argument, "a backup needs disks");
  // Jobs of an earlier paddockd killed mid-backup may still run (the VM outlived it).
  PADDOCK_TRY_ASSIGN(auto jobs, qmp_.queryJobs());
  std::vector<std::string> stale;
  for (const auto& j : jobs)
    if (j.id.rfind("pbk", 0) == 0) {
      if (j.status != "concluded") (void)qmp_.jobCancel(j.id);
      stale.push_back(j.id);
    }
  if (!stale.empty()) {
    (void)follow(stale, {});
    for (const auto& id : stale) (void)qmp_.jobDismiss(id);
    spdlog::info("backup {}: cleared {} block job(s) left by an earlier paddockd", job.id,
                 stale.size());
  }
  for (size_t i = 0; i < job.disks.size(); ++i) {
    (void)qmp_.blockdevDel(targetName(i));  // left by an earlier paddockd, if at all
    if (auto s = qmp_.blockdevAddQcow2(targetName(i), job.disks[i].target); !s) {
      undo(job, i, false);
      return makeError(s.error().code, fmt::format("cannot open backup target {}: {}",
                                                   job.disks[i].target, s.error().message));
    }
  }
  nlohmann::json actions = nlohmann::json::array();
  std::vector<std::string> ids;
  for (size_t i = 0; i < job.disks.size(); ++i) {
    const auto& d = job.disks[i];
    std::string node = kDiskNodePrefix + d.disk;
    if (!job.newBitmap.empty())
      actions.push_back(
          {{"type", "block-dirty-bitmap-add"},
           {"data", {{"node", node}, {"name", job.newBitmap}, {"persistent", true}}}});
    nlohmann::json backup = {{"job-id", targetName(i)},
                             {"device", node},
                             {"target", targetName(i)},
                             {"sync", d.sinceBitmap.empty() ? "full" : "bitmap"},
                             {"auto-dismiss", false}};
    if (job.bytesPerSecond > 0) backup["speed"] = job.bytesPerSecond;
    if (!d.sinceBitmap.empty()) {
      backup["bitmap"] = d.sinceBitmap;
      backup["bitmap-mode"] = "never";  // Paddock drops it once the backup is recorded
    }
    actions.push_back({{"type", "blockdev-backup"}, {"data", backup}});
    ids.push_back(targetName(i));
  }
  bool paused = false;
  if (job.pauseGuest) {
    auto status = qmp_.queryStatus();
    if (status && status->running) {
      if (auto s = qmp_.stop(); !s) {
        undo(job, job.disks.size(), false);
        return s;
      }
      paused = true;
    }
  }
  auto started = qmp_.transaction(actions);
  if (paused)
    if (auto s = qmp_.cont(); !s)
      spdlog::error("backup {}: cannot continue the guest after starting the backup: {}", job.id,
                    s.error().message);
  if (!started) {
    undo(job, job.disks.size(), false);
    return started;
  }
  auto result = follow(ids, callbacks);
  for (const auto& id : ids) (void)qmp_.jobDismiss(id);
  undo(job, job.disks.size(), !result && !job.newBitmap.empty());
  return result;
}

Status QmpBlockJobs::follow(const std::vector<std::string>& ids, const BackupCallbacks& callbacks) {
  Status result;
  bool cancelling = false;
  for (;;) {
    PADDOCK_TRY_ASSIGN(auto jobs, qmp_.queryJobs());
    std::uint64_t done = 0, total = 0;
    size_t concluded = 0;
    for (const auto& id : ids) {
      auto it =
          std::find_if(jobs.begin(), jobs.end(), [&](const qmp::JobInfo& j) { return j.id == id; });
      if (it == jobs.end()) {
        if (result) result = makeError(Errc::internal, fmt::format("block job {} vanished", id));
        ++concluded;
        continue;
      }
      done += it->current;
      total += it->total;
      if (it->status != "concluded") continue;
      ++concluded;
      if (!it->error.empty() && result) result = makeError(Errc::unavailable, it->error);
    }
    if (concluded == ids.size()) break;
    bool cancel = callbacks.cancelled && callbacks.cancelled();
    if (!cancelling && (cancel || !result)) {
      cancelling = true;
      if (cancel && result) result = makeError(Errc::conflict, "cancelled");
      for (const auto& id : ids) (void)qmp_.jobCancel(id);
    }
    if (callbacks.progress && total > 0) callbacks.progress(done, total);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return result;
}

}  // namespace paddock
