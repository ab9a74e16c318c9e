// QemuProcess's part of live migration (see engine/live_migration.h): NBD exports on the
// target, mirrors + migration stream on the source, and the unwinding that leaves the source
// running as it was when anything fails.
#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/qemu/qemu_argv.h"
#include "engine/qemu/qemu_process.h"

namespace paddock {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(10);
constexpr auto kFinishPoll = std::chrono::milliseconds(5);
constexpr auto kMirrorCheck = std::chrono::milliseconds(500);
constexpr auto kUnwindTimeout = std::chrono::seconds(20);
constexpr auto kRecoverWait = std::chrono::seconds(10);
// After a post-copy break: how long the source keeps trying to send the rest, and how long it
// lets one attempt take before it tries again.
constexpr auto kRecoverDeadline = std::chrono::seconds(60);
constexpr auto kRecoverRetry = std::chrono::seconds(2);
// QEMU's default is 32 MiB/s; "as fast as the link goes" is this (libvirt uses the same idea).
constexpr std::uint64_t kUnlimitedBandwidth = std::uint64_t{1} << 40;

std::string mirrorJob(const std::string& disk) {
  return "mig-" + disk;
}
std::string nbdNode(const std::string& disk) {
  return "mig-nbd-" + disk;
}

bool migrationActive(const std::string& status) {
  return status == "setup" || status == "active" || status == "pre-switchover" ||
         status == "device" || status == "cancelling" || status == "wait-unplug";
}

// After a post-copy break, while both QEMUs live: the target listens again and this side sends
// the rest there, tried every kRecoverRetry for up to kRecoverDeadline.
class PostCopyRecovery {
 public:
  PostCopyRecovery(qmp::QmpClient& qmp, const LiveMigrationParams& params)
      : qmp_(qmp), params_(params) {}

  // The stream is broken (QEMU's postcopy-paused or -recover): tries again when due. False once
  // it is lost: the deadline passed, or the target's QEMU is gone.
  bool keepWaiting(const qmp::MigrationInfo& m, LiveMigrationProgress& p,
                   LiveMigrationResult& result,
                   const std::function<bool(const LiveMigrationProgress&)>& progress) {
    auto now = std::chrono::steady_clock::now();
    if (brokenSince_ == decltype(now){}) brokenSince_ = now;
    bool due = m.status == "postcopy-paused" && now - lastTry_ >= kRecoverRetry;
    if (due && now - brokenSince_ <= kRecoverDeadline) {
      lastTry_ = now;
      p.recoveryAttempts++;
      (void)progress(p);
      auto port = params_.recover();
      if (port) {
        auto s = qmp_.migrateResume(fmt::format("tcp:{}:{}", uriHost(params_.host), *port));
        if (s) result.postCopyRecoveries++;
        if (!s) error_ = s.error().message;
      } else {
        error_ = port.error().message;
        // Only a target out of reach may come back; one whose QEMU is gone will not.
        if (port.error().code != Errc::unavailable && port.error().code != Errc::timeout)
          brokenSince_ = now - kRecoverDeadline - kRecoverRetry;
      }
    }
    return now - brokenSince_ <= kRecoverDeadline;
  }
  // The stream flows again.
  void streaming() { brokenSince_ = {}; }
  // Why the last try failed, if one did.
  const std::string& error() const { return error_; }

 private:
  qmp::QmpClient& qmp_;
  const LiveMigrationParams& params_;
  std::chrono::steady_clock::time_point brokenSince_{}, lastTry_{};
  std::string error_;
};

}  // namespace

std::uint64_t downtimeLimitForPass(std::uint64_t capMs, int passes) {
  // Passes 1 and 2 at the first limit (the first check comes at the end of pass 1), then
  // doubled per pass.
  int doublings = std::clamp(passes - 2, 0, 16);
  return std::min(capMs, kFirstDowntimeLimitMs << doublings);
}

Status QemuProcess::exportDisks(const std::string& host, int port,
                                const std::vector<std::string>& disks) {
  PADDOCK_TRY(qmp_->nbdServerStart(host, port));
  for (const auto& d : disks) {
    if (auto s = qmp_->blockExportAdd(mirrorJob(d), "drive-" + d, d); !s) {
      (void)qmp_->nbdServerStop();
      return s;
    }
  }
  return {};
}

Status QemuProcess::stopDiskExports() {
  return qmp_->nbdServerStop();
}

Status QemuProcess::acceptPostCopy() {
  return qmp_->migrateSetCapability("postcopy-ram", true);
}

Status QemuProcess::recoverPostCopy(const std::string& host, int port) {
  // The target notices a break later than the source may: its side must be paused too.
  auto deadline = std::chrono::steady_clock::now() + kRecoverWait;
  for (;;) {
    auto m = qmp_->queryMigrate();
    if (!m) return m.error();
    if (m->status == "postcopy-paused") break;
    if (m->status != "postcopy-active")
      return makeError(Errc::conflict,
                       fmt::format("the arriving VM's migration is {}, not a paused post-copy",
                                   m->status.empty() ? "not under way" : m->status));
    if (std::chrono::steady_clock::now() > deadline)
      return makeError(Errc::timeout, "the arriving VM's post-copy stream did not break here");
    std::this_thread::sleep_for(kFinishPoll * 10);
  }
  return qmp_->migrateRecover(fmt::format("tcp:{}:{}", uriHost(host), port));
}

Result<LiveMigrationResult> QemuProcess::migrateLive(
    const LiveMigrationParams& params,
    const std::function<bool(const LiveMigrationProgress&)>& progress) {
  auto before = qmp_->queryStatus();
  if (!before) return before.error();
  bool wasRunning = before->running;
  std::vector<std::string> nodes, jobs;
  bool migrating = false;

  // Back to where we started: no migration, no mirror, no NBD link, the guest running if it was.
  auto unwind = [&](Error e) -> Error {
    auto deadline = std::chrono::steady_clock::now() + kUnwindTimeout;
    if (migrating) {
      (void)qmp_->migrateCancel();
      while (std::chrono::steady_clock::now() < deadline) {
        auto m = qmp_->queryMigrate();
        if (!m || !migrationActive(m->status)) break;
        std::this_thread::sleep_for(kFinishPoll * 10);
      }
    }
    for (const auto& j : jobs) (void)qmp_->blockJobCancel(j, true);
    while (!jobs.empty() && std::chrono::steady_clock::now() < deadline) {
      auto all = qmp_->queryJobs();
      if (!all) break;
      bool pending = false;
      for (const auto& j : *all)
        if (std::find(jobs.begin(), jobs.end(), j.id) != jobs.end()) {
          if (j.status == "concluded")
            (void)qmp_->jobDismiss(j.id);
          else
            pending = true;
        }
      if (!pending) break;
      std::this_thread::sleep_for(kFinishPoll * 10);
    }
    for (const auto& n : nodes) (void)qmp_->blockdevDel(n);
    if (auto now = qmp_->queryStatus(); wasRunning && now && !now->running) {
      if (auto s = qmp_->cont(); !s)
        spdlog::error("VM {}: could not continue after a failed migration: {}", name_,
                      s.error().message);
    }
    return e;
  };
  auto cancelled = [] { return makeError(Errc::conflict, "migration cancelled"); };

  LiveMigrationProgress p;
  auto mirrorStart = std::chrono::steady_clock::now();
  for (const auto& d : params.disks) {
    if (auto s = qmp_->blockdevAddNbd(nbdNode(d.id), params.host, params.nbdPort, d.id); !s)
      return unwind(makeError(s.error().code, fmt::format("cannot reach the target's export of "
                                                          "disk {}: {}",
                                                          d.id, s.error().message)));
    nodes.push_back(nbdNode(d.id));
    if (auto s = qmp_->blockdevMirror(mirrorJob(d.id), "drive-" + d.id, nbdNode(d.id),
                                      d.onlyTopLayer ? "top" : "full");
        !s)
      return unwind(s.error());
    jobs.push_back(mirrorJob(d.id));
  }

  // The mirrors' state: an error, or whether all are ready (in sync, copying new writes).
  auto mirrors = [&](bool& allReady) -> Status {
    auto all = qmp_->queryJobs();
    if (!all) return all.error();
    allReady = true;
    p.diskDone = p.diskTotal = 0;
    for (const auto& id : jobs) {
      auto it = std::find_if(all->begin(), all->end(), [&](const auto& j) { return j.id == id; });
      if (it == all->end() || it->status == "concluded" || it->status == "aborting")
        return makeError(
            Errc::unavailable,
            fmt::format("copying disk {} to the target failed: {}", id.substr(4),
                        it == all->end() || it->error.empty() ? "the job ended" : it->error));
      if (it->status != "ready" && it->status != "standby") allReady = false;
      p.diskDone += it->current;
      p.diskTotal += it->total;
    }
    return {};
  };
  for (bool ready = false; !ready;) {
    if (auto s = mirrors(ready); !s) return unwind(s.error());
    if (!progress(p)) return unwind(cancelled());
    if (!ready) std::this_thread::sleep_for(kPoll);
  }
  LiveMigrationResult result;
  result.wasRunning = wasRunning;
  result.diskBytes = p.diskTotal;
  result.diskMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - mirrorStart)
                      .count();

  p.phase = LiveMigrationProgress::Phase::memory;
  std::uint64_t downtimeLimit = downtimeLimitForPass(params.maxDowntimeMs, 1);
  nlohmann::json tuning = {
      {"downtime-limit", downtimeLimit},
      {"max-bandwidth", params.bandwidthBytes ? params.bandwidthBytes : kUnlimitedBandwidth},
      // The cap holds after a post-copy switch too (QEMU has a separate one, by default none).
      {"max-postcopy-bandwidth", params.bandwidthBytes}};
  if (auto s = qmp_->migrateSetParameters(tuning); !s) return unwind(s.error());
  if (auto s = qmp_->migrateSetCapability("auto-converge", params.autoConverge); !s)
    return unwind(s.error());
  if (params.postCopy) {
    // The switch waits paused in "pre-switchover" so the mirrors finish before the target runs.
    for (const char* cap : {"postcopy-ram", "pause-before-switchover"})
      if (auto s = qmp_->migrateSetCapability(cap, true); !s) return unwind(s.error());
  }

  // Paused with memory sent (or about to switch over): the mirrors write what is left and let
  // go of the target.
  auto finishMirrors = [&]() -> Status {
    for (const auto& j : jobs) PADDOCK_TRY(qmp_->blockJobCancel(j, false));
    auto deadline = std::chrono::steady_clock::now() + kUnwindTimeout;
    while (!jobs.empty()) {
      auto all = qmp_->queryJobs();
      if (!all) return all.error();
      std::vector<std::string> left;
      for (const auto& j : *all) {
        if (std::find(jobs.begin(), jobs.end(), j.id) == jobs.end()) continue;
        if (j.status != "concluded") {
          left.push_back(j.id);
          continue;
        }
        (void)qmp_->jobDismiss(j.id);
        if (!j.error.empty())
          return makeError(Errc::unavailable,
                           fmt::format("disk {}'s last writes did not reach the target: {}",
                                       j.id.substr(4), j.error));
      }
      jobs = left;
      if (jobs.empty()) break;
      if (std::chrono::steady_clock::now() > deadline)
        return makeError(Errc::timeout, "the disks' last writes did not finish in time");
      std::this_thread::sleep_for(kFinishPoll);
    }
    for (const auto& n : nodes) (void)qmp_->blockdevDel(n);
    nodes.clear();
    return {};
  };

  if (auto s = qmp_->migrate(fmt::format("tcp:{}:{}", uriHost(params.host), params.migrationPort));
      !s)
    return unwind(s.error());
  migrating = true;
  bool postcopyRequested = false, continued = false, switched = false;
  PostCopyRecovery recovery(*qmp_, params);
  auto lastMirrorCheck = std::chrono::steady_clock::now();
  for (;;) {
    auto m = qmp_->queryMigrate();
    if (!m && switched) return m.error();
    if (!m) return unwind(m.error());
    if (m->status == "completed") {
      result.downtimeLimitMs = downtimeLimit;
      result.downtimeMs = m->downtimeMs;
      result.totalMs = m->totalTimeMs;
      result.memorySent = m->transferred;
      break;
    }
    bool paused = m->status == "postcopy-paused" || m->status == "postcopy-recover";
    bool broken = m->status == "failed" || m->status == "cancelled" || paused;
    if (paused && switched && params.recover) {
      // The stream broke after the switch: both QEMUs wait, the guest on the target stalls on
      // the pages it lacks.
      if (recovery.keepWaiting(*m, p, result, progress)) {
        (void)progress(p);
        std::this_thread::sleep_for(kPoll);
        continue;
      }
    }
    if (broken && switched) {
      // The guest ran on the target: resuming it here would fork it. It stays paused here.
      (void)qmp_->migrateCancel();
      return makeError(
          Errc::unavailable,
          fmt::format("post-copy broke after the switch ({}: {}{}): the guest's memory is split "
                      "between the hosts",
                      m->status, m->error.empty() ? "no reason given" : m->error,
                      recovery.error().empty()
                          ? ""
                          : "; sending the rest again failed: " + recovery.error()));
    }
    if (switched && m->status == "postcopy-active") recovery.streaming();
    if (broken)
      return unwind(makeError(Errc::unavailable,
                              fmt::format("the migration stream {}: {}", m->status,
                                          m->error.empty() ? "no reason given" : m->error)));
    if (m->status == "pre-switchover" && continued) {
      // migrate-continue is taken up by the migration thread a moment later; a second one
      // could fail once it has, and a failure here must not unwind a switched guest.
      std::this_thread::sleep_for(kFinishPoll);
      continue;
    }
    if (m->status == "pre-switchover") {
      // Only with post-copy requested: paused, nothing of the device state sent yet.
      continued = true;
      p.phase = LiveMigrationProgress::Phase::switchover;
      if (auto s = finishMirrors(); !s) return unwind(s.error());
      if (auto s = qmp_->migrateContinue(); !s) return unwind(s.error());
      if (postcopyRequested) {
        switched = true;
        result.postCopy = true;
        p.phase = LiveMigrationProgress::Phase::postcopy;
        (void)progress(p);
      }
      continue;
    }
    if (!switched && jobs.size() &&
        std::chrono::steady_clock::now() - lastMirrorCheck > kMirrorCheck) {
      // The mirrors are looked at now and then only: each QMP command waits for QEMU's main
      // loop, which the final stages of the migration need.
      bool ready = false;
      if (auto s = mirrors(ready); !s) return unwind(s.error());
      lastMirrorCheck = std::chrono::steady_clock::now();
    }
    p.memoryTotal = m->total;
    p.memoryRemaining = m->remaining;
    p.memorySent = m->transferred;
    p.dirtyBytesPerSecond = m->dirtyBytesPerSecond;
    p.expectedDowntimeMs = m->expectedDowntimeMs;
    p.passes = m->passes;
    if (!progress(p) && !switched) return unwind(cancelled());
    if (!switched && m->status == "active") {
      // QEMU reads the limit at every check, so a new one applies to the pass under way.
      std::uint64_t wanted = downtimeLimitForPass(params.maxDowntimeMs, m->passes);
      if (wanted != downtimeLimit) {
        if (auto s = qmp_->migrateSetParameters({{"downtime-limit", wanted}}); !s)
          return unwind(s.error());
        spdlog::debug("VM {}: memory pass {}: downtime limit {} ms", name_, m->passes, wanted);
        downtimeLimit = wanted;
      }
    }
    // Post-copy once the first pass over all of memory is done (the second dirty sync began).
    if (params.postCopy && !postcopyRequested && m->status == "active" && m->passes >= 2) {
      if (auto s = qmp_->migrateStartPostcopy(); !s) return unwind(s.error());
      postcopyRequested = true;
    }
    std::this_thread::sleep_for(m->remaining < (64u << 20) ? kFinishPoll : kPoll);
  }
  if (switched) return result;
  auto completedAt = std::chrono::steady_clock::now();
  if (auto s = finishMirrors(); !s) return unwind(s.error());
  result.finishMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - completedAt)
                        .count();
  return result;
}

}  // namespace paddock
