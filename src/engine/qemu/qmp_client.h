// Typed QMP commands. Code above this layer deals in these structs, never in QMP JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "engine/qemu/nic_device.h"
#include "engine/qemu/qmp_transport.h"
#include "engine/vm_counters.h"
#include "model/resource_spec.h"

namespace paddock::qmp {

struct RunStatus {
  bool running = false;
  std::string status;  // QEMU's RunState name: "running", "paused", "shutdown", ...
};

// One property of a QOM object, as qom-list reports it ("child[0]", "link<virtio-net-pci>").
struct QomProperty {
  std::string name;
  std::string type;
};

// One entry of query-jobs.
struct JobInfo {
  std::string id;
  std::string status;                    // created, running, ..., concluded
  std::string error;                     // set when a concluded job failed
  std::uint64_t current = 0, total = 0;  // progress in job-defined units (bytes for backups)
};

// One dirty bitmap of a block node (query-named-block-nodes).
struct NodeBitmap {
  std::string node;
  std::string name;
  bool persistent = false;
  bool inconsistent = false;  // the image was not closed cleanly: the bitmap cannot be trusted
  std::uint64_t count = 0;    // dirty bytes
};

// query-migrate, the parts Paddock reads.
struct MigrationInfo {
  std::string status;  // none, setup, active, completed, failed, cancelled, ...
  std::uint64_t transferred = 0;
  std::uint64_t total = 0;  // guest RAM
  std::uint64_t remaining = 0;
  std::uint64_t dirtyBytesPerSecond = 0;  // dirty-pages-rate × page-size
  int passes = 0;                         // dirty-sync-count
  std::int64_t expectedDowntimeMs = -1;   // while active, once QEMU has an estimate
  std::int64_t downtimeMs = -1;           // when completed
  std::int64_t totalTimeMs = -1;
  std::string error;  // error-desc when failed
};

struct VcpuThread {
  int cpuIndex = 0;
  std::int64_t threadId = 0;  // host TID, for pinning and accounting
};

// What the guest's balloon driver reports (qom-get guest-stats); a value the guest does not
// report is -1. lastUpdate 0: no report yet.
struct GuestMemoryStats {
  std::int64_t lastUpdate = 0;  // seconds since the epoch of the guest's last report
  std::int64_t freeBytes = -1, availableBytes = -1, totalBytes = -1;
};

class QmpClient {
 public:
  explicit QmpClient(
      std::unique_ptr<QmpTransport> transport,
      std::chrono::milliseconds commandTimeout = QmpTransport::kDefaultCommandTimeout);

  static Result<std::unique_ptr<QmpClient>> connect(const std::string& socketPath,
                                                    std::chrono::milliseconds timeout,
                                                    QmpCallbacks callbacks = {});

  Result<RunStatus> queryStatus();
  Status cont();
  Status stop();
  Status systemPowerdown();  // asks the guest (ACPI); completion is a SHUTDOWN event
  Status systemReset();
  // Succeeds also when QEMU exits before its reply arrives: gone is what was asked for.
  Status quit();
  Result<std::string> queryVersion();  // "major.minor.micro"
  Result<std::vector<VcpuThread>> queryCpusFast();
  Result<std::uint64_t> queryBalloon();  // guest memory in bytes; conflict if no balloon device
  Status balloon(std::uint64_t bytes);   // asks the guest to give memory back down to `bytes`
  // Throttles the block device of guest device `deviceId` (qdev id or QOM path); zeros lift
  // the limits.
  // `group`: the throttle group the disk joins (disks of one group share the limits); always
  // given, so a disk can also leave a group for one of its own.
  Status blockSetIoThrottle(const std::string& deviceId, const DiskLimits& limits,
                            const std::string& group);
  // Paddock's disks (device "disk-<id>" or node "drive-<id>"), others left out.
  Result<std::vector<DiskCounters>> queryBlockstats();
  // The same three queries sent now and answered later (see Deferred in vm_counters.h).
  Deferred<std::vector<DiskCounters>> requestBlockstats();
  Deferred<std::uint64_t> requestBalloon();
  Deferred<GuestMemoryStats> requestGuestMemoryStats(const std::string& path);
  // The balloon device `path` (e.g. "/machine/peripheral/balloon0"): how often the guest reports
  // its memory, and its last report.
  Status setGuestStatsInterval(const std::string& path, int seconds);
  Result<GuestMemoryStats> guestMemoryStats(const std::string& path);

  // Children of a QOM path, e.g. "/machine/peripheral" (the devices with an id).
  Result<std::vector<QomProperty>> qomList(const std::string& path);
  // Hot-plug: the argument objects come whole from the device builder (nic_device.h).
  Status netdevAdd(const QemuProperties& netdev);
  Status netdevDel(const std::string& id);
  Status deviceAdd(const QemuProperties& device);
  // Asks for the unplug of device `id` and waits for its DEVICE_DELETED event: the guest has to
  // release the device first, so this can take a moment. timeout if the event does not come
  // within `timeout` (QEMU still holds the unplug request; the device may go later), unavailable
  // if the connection drops. Only a client made by connect() sees events.
  Status deviceDel(const std::string& id, std::chrono::milliseconds timeout);

  Result<std::vector<JobInfo>> queryJobs();
  Status migrate(const std::string& uri);
  // Post-copy recovery: the source sends the paused stream again to `uri` (migrate with
  // resume), where the target listens after migrateRecover.
  Status migrateResume(const std::string& uri);
  Status migrateRecover(const std::string& uri);
  Status migrateCancel();
  Result<MigrationInfo> queryMigrate();
  // Migration tuning, applied to the next migrate: {"downtime-limit": MS, "max-bandwidth": B/s}.
  Status migrateSetParameters(const nlohmann::json& parameters);
  Status migrateSetCapability(const std::string& capability, bool on);
  // Post-copy: switch a running pre-copy migration over; with pause-before-switchover set, the
  // migration waits in "pre-switchover" (the guest paused) until migrate-continue.
  Status migrateStartPostcopy();
  Status migrateContinue();
  // The NBD server of a live migration's target, and its writable exports (one per disk).
  Status nbdServerStart(const std::string& host, int port);
  Status nbdServerStop();
  Status blockExportAdd(const std::string& id, const std::string& node, const std::string& name);
  // A live migration's source: node `node` is export `exportName` of the NBD server at
  // host:port; blockdev-mirror copies `device` onto it ("full" or "top").
  Status blockdevAddNbd(const std::string& node, const std::string& host, int port,
                        const std::string& exportName);
  Status blockdevMirror(const std::string& jobId, const std::string& device,
                        const std::string& target, const std::string& sync);
  // A ready mirror, not forced, finishes once its target is in sync and then leaves the source
  // as it was (no pivot); forced, it stops at once.
  Status blockJobCancel(const std::string& jobId, bool force);
  // Starts job command `command` (snapshot-save, snapshot-load, snapshot-delete) as `jobId`,
  // waits for it to conclude and dismisses it; a failed job's error is the result. On timeout
  // the job is cancelled.
  Status runJob(const char* command, nlohmann::json args, const std::string& jobId,
                std::chrono::milliseconds timeout);
  // Waits for job `jobId` to conclude and dismisses it: its error (unavailable) if it failed,
  // not_found if there is no such job, timeout (and the job cancelled) past `timeout`.
  Status awaitJob(const std::string& jobId, std::chrono::milliseconds timeout);
  Status jobCancel(const std::string& id);
  Status jobDismiss(const std::string& id);
  // Opens qcow2 file `path` as node `node` for writing, without its backing chain (a backup
  // target only receives writes).
  Status blockdevAddQcow2(const std::string& node, const std::string& path);
  Status blockdevDel(const std::string& node);
  Result<std::vector<NodeBitmap>> queryBitmaps();
  Status bitmapRemove(const std::string& node, const std::string& name);
  // Runs `actions` ([{"type", "data"}]) as one QMP transaction: all or none.
  Status transaction(const nlohmann::json& actions);

  // See QmpTransport::close() for the threading rules, which apply unchanged.
  void close() { transport_->close(); }
  bool connected() const { return transport_->connected(); }

 private:
  struct Events;  // DEVICE_DELETED waiters, fed from the transport's reader thread

  QmpClient(std::unique_ptr<QmpTransport> transport, std::chrono::milliseconds commandTimeout,
            std::shared_ptr<Events> events);
  Status run(const char* command, const nlohmann::json& args = nlohmann::json());
  // Sends `command` now; the returned function waits for the reply and decodes it.
  template <typename T>
  Deferred<T> request(const char* command, const nlohmann::json& args,
                      Result<T> (*parse)(const nlohmann::json&));
  template <typename T>
  Result<T> query(const char* command, Result<T> (*parse)(const nlohmann::json&));

  std::unique_ptr<QmpTransport> transport_;
  std::chrono::milliseconds commandTimeout_;
  std::shared_ptr<Events> events_;
};

// Reply decoders, separate from I/O so they can be tested against canned replies. Each takes
// the command's "return" value; a shape QEMU does not produce is Errc::internal.
Result<RunStatus> parseQueryStatus(const nlohmann::json& value);
Result<std::string> parseQueryVersion(const nlohmann::json& value);
Result<std::vector<VcpuThread>> parseQueryCpusFast(const nlohmann::json& value);
Result<std::uint64_t> parseQueryBalloon(const nlohmann::json& value);
Result<std::vector<QomProperty>> parseQomList(const nlohmann::json& value);
Result<GuestMemoryStats> parseGuestStats(const nlohmann::json& value);
Result<std::vector<JobInfo>> parseQueryJobs(const nlohmann::json& value);
Result<MigrationInfo> parseQueryMigrate(const nlohmann::json& value);
Result<std::vector<NodeBitmap>> parseNodeBitmaps(const nlohmann::json& value);

}  // namespace paddock::qmp
