// MigrationService's live path (vCenter's vMotion without shared storage): the target starts
// an empty QEMU that waits for the guest; the engine mirrors the disks to it and sends memory
// while the guest runs here; the target takes over only after the source's last disk writes
// are there. Until the target has committed, any failure or a cancel leaves the guest running
// here as before and the target clean.
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "services/host_info.h"
#include "services/migration/check_file.h"
#include "services/migration/migration_service.h"

namespace paddock {

namespace {

constexpr auto kHeartbeat = std::chrono::seconds(5);
constexpr auto kReportEvery = std::chrono::milliseconds(250);

double inMib(std::uint64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

// The host part of a peer's HOST:PORT address ([v6]:port too).
std::string addressHost(const std::string& address) {
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

void report(OperationContext* op, const LiveMigrationProgress& p) {
  if (!op) return;
  using Phase = LiveMigrationProgress::Phase;
  if (p.phase == Phase::postcopy) {
    std::string resent =
        p.recoveryAttempts
            ? fmt::format(" (the stream broke; sent again, attempt {})", p.recoveryAttempts)
            : "";
    op->progress(90, fmt::format("post-copy: the guest runs on the target, {:.1f} MiB of memory "
                                 "left to fetch{}",
                                 inMib(p.memoryRemaining), resent));
    return;
  }
  if (p.phase == Phase::disks) {
    int percent = p.diskTotal ? static_cast<int>(40 * p.diskDone / p.diskTotal) : 0;
    op->progress(percent, fmt::format("mirroring disks: {:.1f} of {:.1f} MiB", inMib(p.diskDone),
                                      inMib(p.diskTotal)));
    return;
  }
  std::uint64_t sent = p.memoryTotal > p.memoryRemaining ? p.memoryTotal - p.memoryRemaining : 0;
  int percent = 40 + (p.memoryTotal ? static_cast<int>(55 * sent / p.memoryTotal) : 0);
  std::string downtime = p.expectedDowntimeMs >= 0
                             ? fmt::format(", expected downtime {} ms", p.expectedDowntimeMs)
                             : "";
  op->progress(percent, fmt::format("memory: {:.1f} MiB left of {:.1f} MiB, dirtying {:.1f} "
                                    "MiB/s, pass {}{}",
                                    inMib(p.memoryRemaining), inMib(p.memoryTotal),
                                    inMib(p.dirtyBytesPerSecond), p.passes, downtime));
}

}  // namespace

Result<nlohmann::json> MigrationService::migrateLive(const std::string& name,
                                                     const std::string& peer,
                                                     const MigrationOptions& options,
                                                     OperationContext* op) {
  PADDOCK_TRY(check(name, peer, options));
  auto client = peers_.client(peer);
  if (!client) return client.error();
  auto peerRec = peers_.get(peer);
  if (!peerRec) return peerRec.error();
  const http::Client& c = *client;
  std::string peerHost = addressHost(peerRec->address);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  LiveMigrationResult result;
  std::string finalState;
  auto began = std::chrono::steady_clock::now();
  auto since = [&began] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 began)
        .count();
  };
  std::int64_t preparedMs = 0, sentMs = 0, committedMs = 0;
  bool sharedStorage = false;

  Status handed = vms_.handOverLive(name, [&](const VmRecord& rec, VmProcess& proc) -> Status {
    const VmSpec& spec = rec.spec;
    if (op) op->progress(0, fmt::format("checking that {} can take VM {}", peer, name));
    nlohmann::json request = {
        {"vm", toJson(spec)},
        {"live", true},
        {"state", rec.runtime.state == VmState::paused ? "paused" : "running"},
        {"from", host},
        {"accel", rec.runtime.accel},
        {"cpu_model", cpuModel()},
        {"listen_host", peerHost},
        {"post_copy", options.postCopy},
        {"snapshots", nlohmann::json::array()}};
    sharedStorage = !spec.storage.empty();
    auto checkFile = CheckFile::forStorage(spec.storage, vms_.sharedStorageDir(spec.storage));
    if (!checkFile) return checkFile.error();
    std::optional<CheckFile> check = std::move(*checkFile);
    if (check) request["shared_storage"] = check->request(spec.storage);
    auto prepared = PeerService::call(c, peer, "POST", "/v1/migrations/incoming", request,
                                      std::chrono::minutes(2));
    check.reset();
    if (!prepared) return prepared.error();
    preparedMs = since();
    std::string base = "/v1/migrations/incoming/" + prepared->value("id", "");
    auto abandon = [&](Error e) -> Error {
      (void)PeerService::call(c, peer, "DELETE", base, nullptr, std::chrono::seconds(30));
      return e;
    };
    LiveMigrationParams params;
    params.host = peerHost;
    params.migrationPort = prepared->value("migration_port", 0);
    params.nbdPort = prepared->value("nbd_port", 0);
    // On shared storage the target opens the same disk files: only memory travels.
    if (spec.storage.empty())
      for (const auto& d : spec.disks) params.disks.push_back({d.name, spec.linkedClone});
    params.maxDowntimeMs = options.maxDowntimeMs;
    params.bandwidthBytes = options.bandwidthMib << 20;
    params.autoConverge = options.autoConverge;
    params.postCopy = options.postCopy;
    params.recover = [&]() -> Result<int> {
      auto r = PeerService::call(c, peer, "POST", base + "/recover", nlohmann::json::object(),
                                 std::chrono::seconds(20));
      if (!r) return r.error();
      return r->value("migration_port", 0);
    };

    std::optional<Error> targetLost;
    auto lastBeat = std::chrono::steady_clock::now();
    auto lastReport = lastBeat - kReportEvery;
    auto lastPhase = LiveMigrationProgress::Phase::disks;
    bool switched = false;  // post-copy: the guest runs on the target; no way back
    auto migrated = proc.migrateLive(params, [&](const LiveMigrationProgress& p) {
      switched = switched || p.phase == LiveMigrationProgress::Phase::postcopy;
      if (!switched && op && op->cancelled()) return false;
      // Also after a post-copy switch, so the target does not give up on the migration; its
      // loss can no longer be undone then, and the stream itself shows it.
      if (std::chrono::steady_clock::now() - lastBeat > kHeartbeat) {
        auto beat = PeerService::call(c, peer, "GET", base, nullptr, std::chrono::seconds(10));
        if (!beat && !switched) {
          targetLost = beat.error();
          return false;
        }
        if (beat && !switched && beat->value("qemu", "").rfind("gone", 0) == 0) {
          targetLost = makeError(Errc::unavailable,
                                 fmt::format("peer {}: the arriving VM's QEMU is gone", peer));
          return false;
        }
        lastBeat = std::chrono::steady_clock::now();
      }
      auto now = std::chrono::steady_clock::now();
      if (now - lastReport >= kReportEvery || p.phase != lastPhase) {
        report(op, p);
        lastReport = now;
        lastPhase = p.phase;
      }
      return true;
    });
    if (!migrated && switched) {
      // Neither side has the whole guest; this one stays paused for the operator. A target
      // whose QEMU is gone is cleaned up now, one that still runs it is left for its paddockd
      // to end (a minute without word from here).
      auto there = PeerService::call(c, peer, "GET", base, nullptr, std::chrono::seconds(10));
      if (there && there->value("qemu", "").rfind("gone", 0) == 0) (void)abandon(migrated.error());
      return makeError(migrated.error().code,
                       fmt::format("{}; VM '{}' stays here paused and is not whole on {} either: "
                                   "its state since the switch is lost (restart it here)",
                                   migrated.error().message, name, peer));
    }
    if (!migrated) {
      if (targetLost) return abandon(*targetLost);
      if (op && op->cancelled()) return abandon(makeError(Errc::conflict, "migration cancelled"));
      return abandon(migrated.error());
    }
    result = *migrated;
    sentMs = since();
    finalState = result.wasRunning ? "running" : "paused";
    // From here the guest is paused with all its state on the target; it must run in exactly
    // one place.
    if (op) op->progress(97, fmt::format("{} takes VM {} over", peer, name));
    auto committed = PeerService::call(c, peer, "POST", base + "/commit",
                                       {{"run", result.wasRunning}}, std::chrono::minutes(2));
    committedMs = since();
    if (committed) return {};
    // Did the target take it although its answer got lost?
    auto there =
        PeerService::call(c, peer, "GET", "/v1/vms/" + name, nullptr, std::chrono::seconds(30));
    if (there) {
      spdlog::warn("VM {}: {}'s commit answer was lost, but it runs the VM", name, peer);
      return {};
    }
    if (there.error().code == Errc::not_found) {
      (void)abandon(committed.error());
      if (result.wasRunning) (void)proc.resume();
      return committed.error();
    }
    return makeError(
        Errc::unavailable,
        fmt::format("cannot tell whether {} took VM '{}' over ({}); it stays "
                    "paused here: check {} and then delete it here, or resume it here with --force",
                    peer, name, there.error().message, peer));
  });
  if (!handed) {
    events_.publish("vm.migration.failed", "vm/" + name,
                    {{"to", peer}, {"live", true}, {"error", handed.error().message}});
    return handed.error();
  }
  auto totalMs = since();
  // The pause as the guest sees it: QEMU's downtime, then the mirrors' last writes and the
  // commit (the target continues the guest just before it answers). Post-copy: the one pause
  // before the switch, which QEMU's downtime is.
  std::int64_t pausedMs = result.postCopy
                              ? result.downtimeMs
                              : result.downtimeMs + result.finishMs + (committedMs - sentMs);
  spdlog::info(
      "VM {}: live migration to {} took {} ms (target ready at {}, disks mirrored in {}, "
      "memory sent in {}, sent at {}, committed at {}; downtime {} ms, limit {} ms, guest "
      "paused {} ms)",
      name, peer, totalMs, preparedMs, result.diskMs, result.totalMs, sentMs, committedMs,
      result.downtimeMs, result.downtimeLimitMs, pausedMs);
  events_.publish("vm.migrated", "vm/" + name,
                  {{"to", peer}, {"live", true}, {"downtime_ms", result.downtimeMs}});
  return nlohmann::json{{"vm", name},
                        {"to", peer},
                        {"state", finalState},
                        {"live", true},
                        {"post_copy", result.postCopy},
                        {"post_copy_recoveries", result.postCopyRecoveries},
                        {"downtime_ms", result.downtimeMs},
                        {"downtime_limit_ms", result.downtimeLimitMs},
                        {"paused_ms", pausedMs},
                        {"memory_ms", result.totalMs},
                        {"total_ms", totalMs},
                        {"memory_bytes", result.memorySent},
                        {"disk_bytes", result.diskBytes},
                        {"shared_storage", sharedStorage},
                        {"disk_ms", result.diskMs}};
}

}  // namespace paddock
