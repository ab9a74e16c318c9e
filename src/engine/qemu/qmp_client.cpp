#include "engine/qemu/qmp_client.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "engine/qemu/qmp_raw_reply.h"

namespace paddock::qmp {

namespace {

using nlohmann::json;

Error badReply(const char* command, const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return makeError(Errc::internal, fmt::format("QMP {}: unexpected reply {}", command, text));
}

const json* field(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

Result<RunStatus> parseQueryStatus(const json& value) {
  const json* running = field(value, "running");
  const json* status = field(value, "status");
  if (!running || !running->is_boolean() || !status || !status->is_string())
    return badReply("query-status", value);
  return RunStatus{running->get<bool>(), status->get<std::string>()};
}

Result<std::string> parseQueryVersion(const json& value) {
  const json* qemu = field(value, "qemu");
  const json* major = qemu ? field(*qemu, "major") : nullptr;
  const json* minor = qemu ? field(*qemu, "minor") : nullptr;
  const json* micro = qemu ? field(*qemu, "micro") : nullptr;
  for (const json* part : {major, minor, micro})
    if (!part || !part->is_number_integer()) return badReply("query-version", value);
  return fmt::format("{}.{}.{}", major->get<std::int64_t>(), minor->get<std::int64_t>(),
                     micro->get<std::int64_t>());
}

Result<std::vector<VcpuThread>> parseQueryCpusFast(const json& value) {
  if (!value.is_array()) return badReply("query-cpus-fast", value);
  std::vector<VcpuThread> cpus;
  cpus.reserve(value.size());
  for (const json& cpu : value) {
    const json* index = field(cpu, "cpu-index");
    const json* thread = field(cpu, "thread-id");
    if (!index || !index->is_number_integer() || !thread || !thread->is_number_integer())
      return badReply("query-cpus-fast", value);
    cpus.push_back(VcpuThread{index->get<int>(), thread->get<std::int64_t>()});
  }
  return cpus;
}

Result<std::uint64_t> parseQueryBalloon(const json& value) {
  const json* actual = field(value, "actual");
  // A signed integer is fine if it is not negative: only the value matters, not how it was typed.
  if (!actual || !actual->is_number_integer() ||
      (!actual->is_number_unsigned() && actual->get<std::int64_t>() < 0))
    return badReply("query-balloon", value);
  return actual->get<std::uint64_t>();
}

Result<GuestMemoryStats> parseGuestStats(const json& value) {
  const json* stats = field(value, "stats");
  const json* last = field(value, "last-update");
  if (!stats || !stats->is_object() || !last || !last->is_number_integer())
    return badReply("qom-get guest-stats", value);
  auto stat = [&](const char* key) -> std::int64_t {
    const json* v = field(*stats, key);
    return v && v->is_number_integer() ? v->get<std::int64_t>() : -1;
  };
  GuestMemoryStats g;
  g.lastUpdate = last->get<std::int64_t>();
  g.freeBytes = stat("stat-free-memory");
  g.availableBytes = stat("stat-available-memory");
  g.totalBytes = stat("stat-total-memory");
  return g;
}

Result<std::vector<QomProperty>> parseQomList(const json& value) {
  if (!value.is_array()) return badReply("qom-list", value);
  std::vector<QomProperty> props;
  props.reserve(value.size());
  for (const json& p : value) {
    const json* name = field(p, "name");
    const json* type = field(p, "type");
    if (!name || !name->is_string() || !type || !type->is_string())
      return badReply("qom-list", value);
    props.push_back(QomProperty{name->get<std::string>(), type->get<std::string>()});
  }
  return props;
}

Result<MigrationInfo> parseQueryMigrate(const json& value) {
  if (!value.is_object()) return badReply("query-migrate", value);
  MigrationInfo m;
  const json* status = field(value, "status");
  m.status = status && status->is_string() ? status->get<std::string>() : "none";
  if (const json* ram = field(value, "ram"); ram && ram->is_object()) {
    m.transferred = ram->value("transferred", std::uint64_t{0});
    m.total = ram->value("total", std::uint64_t{0});
    m.remaining = ram->value("remaining", std::uint64_t{0});
    m.dirtyBytesPerSecond = ram->value("dirty-pages-rate", std::uint64_t{0}) *
                            ram->value("page-size", std::uint64_t{0});
    m.passes = ram->value("dirty-sync-count", 0);
  }
  m.expectedDowntimeMs = value.value("expected-downtime", std::int64_t{-1});
  m.downtimeMs = value.value("downtime", std::int64_t{-1});
  m.totalTimeMs = value.value("total-time", std::int64_t{-1});
  if (const json* e = field(value, "error-desc"); e && e->is_string())
    m.error = e->get<std::string>();
  return m;
}

Result<std::vector<JobInfo>> parseQueryJobs(const json& value) {
  if (!value.is_array()) return badReply("query-jobs", value);
  std::vector<JobInfo> jobs;
  for (const auto& j : value) {
    const json* id = field(j, "id");
    const json* status = field(j, "status");
    if (!id || !id->is_string() || !status || !status->is_string())
      return badReply("query-jobs", value);
    const json* error = field(j, "error");
    JobInfo info{id->get<std::string>(), status->get<std::string>(),
                 error && error->is_string() ? error->get<std::string>() : ""};
    const json* current = field(j, "current-progress");
    const json* total = field(j, "total-progress");
    if (current && current->is_number_unsigned()) info.current = current->get<std::uint64_t>();
    if (total && total->is_number_unsigned()) info.total = total->get<std::uint64_t>();
    jobs.push_back(std::move(info));
  }
  return jobs;
}

Result<std::vector<NodeBitmap>> parseNodeBitmaps(const json& value) {
  if (!value.is_array()) return badReply("query-named-block-nodes", value);
  std::vector<NodeBitmap> out;
  for (const auto& n : value) {
    const json* node = field(n, "node-name");
    if (!node || !node->is_string()) return badReply("query-named-block-nodes", value);
    const json* bitmaps = field(n, "dirty-bitmaps");
    if (!bitmaps) continue;
    if (!bitmaps->is_array()) return badReply("query-named-block-nodes", value);
    for (const auto& b : *bitmaps) {
      const json* name = field(b, "name");
      if (!name) continue;  // a running job's own, anonymous bitmap
      if (!name->is_string()) return badReply("query-named-block-nodes", value);
      NodeBitmap bm;
      bm.node = node->get<std::string>();
      bm.name = name->get<std::string>();
      bm.persistent = b.value("persistent", false);
      bm.inconsistent = b.value("inconsistent", false);
      bm.count = b.value("count", std::uint64_t{0});
      out.push_back(std::move(bm));
    }
  }
  return out;
}

// Device ids being waited for, and which of them QEMU reported deleted. An id is watched from
// before device_del is sent, because the event may come before the command's reply.
struct QmpClient::Events {
  std::mutex mutex;
  std::condition_variable changed;
  std::multiset<std::string> watched;
  std::set<std::string> deleted;

  void deliver(const Event& e) {
    if (e.name != "DEVICE_DELETED") return;
    // QEMU also reports the deletion of child objects (".../virtio-backend") without "device".
    const json* device = field(e.data, "device");
    if (!device || !device->is_string()) return;
    std::lock_guard lock(mutex);
    if (!watched.count(device->get<std::string>())) return;
    deleted.insert(device->get<std::string>());
    changed.notify_all();
  }
};

QmpClient::QmpClient(std::unique_ptr<QmpTransport> transport,
                     std::chrono::milliseconds commandTimeout)
    : QmpClient(std::move(transport), commandTimeout, std::make_shared<Events>()) {}

QmpClient::QmpClient(std::unique_ptr<QmpTransport> transport,
                     std::chrono::milliseconds commandTimeout, std::shared_ptr<Events> events)
    : transport_(std::move(transport)),
      commandTimeout_(commandTimeout),
      events_(std::move(events)) {}

Result<std::unique_ptr<QmpClient>> QmpClient::connect(const std::string& socketPath,
                                                      std::chrono::milliseconds timeout,
                                                      QmpCallbacks callbacks) {
  auto events = std::make_shared<Events>();
  callbacks.onEvent = [events, next = std::move(callbacks.onEvent)](const Event& e) {
    events->deliver(e);
    if (next) next(e);
  };
  auto transport = QmpTransport::connect(socketPath, timeout, std::move(callbacks));
  if (!transport.ok()) return transport.error();
  return std::unique_ptr<QmpClient>(
      new QmpClient(std::move(*transport), QmpTransport::kDefaultCommandTimeout, events));
}

Status QmpClient::run(const char* command, const json& args) {
  auto reply = transport_->execute(command, args, commandTimeout_);
  if (!reply.ok()) return reply.error();
  return {};
}

template <typename T>
Deferred<T> QmpClient::request(const char* command, const json& args,
                               Result<T> (*parse)(const json&)) {
  auto reply = std::make_shared<PendingReply>(transport_->submit(command, args, commandTimeout_));
  return [reply, parse]() -> Result<T> {
    auto value = reply->get();
    if (!value.ok()) return value.error();
    return parse(*value);
  };
}

template <typename T>
Result<T> QmpClient::query(const char* command, Result<T> (*parse)(const json&)) {
  return request(command, json(), parse)();
}

Result<RunStatus> QmpClient::queryStatus() {
  return query("query-status", parseQueryStatus);
}

Status QmpClient::cont() {
  return run("cont");
}
Status QmpClient::stop() {
  return run("stop");
}
Status QmpClient::systemPowerdown() {
  return run("system_powerdown");
}
Status QmpClient::systemReset() {
  return run("system_reset");
}

Status QmpClient::quit() {
  auto status = run("quit");
  if (!status.ok() && status.error().code == Errc::unavailable) return {};
  return status;
}

Result<std::string> QmpClient::queryVersion() {
  return query("query-version", parseQueryVersion);
}

Result<std::vector<VcpuThread>> QmpClient::queryCpusFast() {
  return query("query-cpus-fast", parseQueryCpusFast);
}

Result<std::uint64_t> QmpClient::queryBalloon() {
  return query("query-balloon", parseQueryBalloon);
}

Status QmpClient::balloon(std::uint64_t bytes) {
  return run("balloon", json{{"value", bytes}});
}

Status QmpClient::blockSetIoThrottle(const std::string& deviceId, const DiskLimits& limits,
                                     const std::string& group) {
  json args = {{"id", deviceId},
               {"bps", 0},
               {"bps_rd", limits.readBps},
               {"bps_wr", limits.writeBps},
               {"iops", 0},
               {"iops_rd", limits.readIops},
               {"iops_wr", limits.writeIops},
               {"group", group}};
  // QEMU takes a burst's length only together with the burst.
  std::uint64_t length = limits.burstSeconds ? limits.burstSeconds : 1;
  for (auto [key, max] :
       {std::pair{"bps_rd_max", limits.readBpsMax}, std::pair{"bps_wr_max", limits.writeBpsMax},
        std::pair{"iops_rd_max", limits.readIopsMax},
        std::pair{"iops_wr_max", limits.writeIopsMax}}) {
    if (max == 0) continue;
    args[key] = max;
    args[std::string(key) + "_length"] = length;
  }
  return run("block_set_io_throttle", args);
}

Result<std::vector<DiskCounters>> QmpClient::queryBlockstats() {
  return requestBlockstats()();
}

Deferred<std::vector<DiskCounters>> QmpClient::requestBlockstats() {
  // Every collector round asks this of every VM: the reply is scanned, not parsed into a tree.
  auto reply = std::make_shared<PendingReply>(
      transport_->submit("query-blockstats", {}, commandTimeout_, /*raw=*/true));
  return [reply]() -> Result<std::vector<DiskCounters>> {
    auto line = reply->getRaw();
    if (!line.ok()) return line.error();
    return parseBlockstatsReply(*line);
  };
}

Deferred<std::uint64_t> QmpClient::requestBalloon() {
  return request("query-balloon", json(), parseQueryBalloon);
}

Status QmpClient::setGuestStatsInterval(const std::string& path, int seconds) {
  return run(
      "qom-set",
      json{{"path", path}, {"property", "guest-stats-polling-interval"}, {"value", seconds}});
}

Result<GuestMemoryStats> QmpClient::guestMemoryStats(const std::string& path) {
  return requestGuestMemoryStats(path)();
}

Deferred<GuestMemoryStats> QmpClient::requestGuestMemoryStats(const std::string& path) {
  return request("qom-get", json{{"path", path}, {"property", "guest-stats"}}, parseGuestStats);
}

Result<std::vector<QomProperty>> QmpClient::qomList(const std::string& path) {
  auto reply = transport_->execute("qom-list", json{{"path", path}}, commandTimeout_);
  if (!reply.ok()) return reply.error();
  return parseQomList(*reply);
}

Status QmpClient::netdevAdd(const QemuProperties& netdev) {
  return run("netdev_add", netdev.toQmp());
}

Status QmpClient::netdevDel(const std::string& id) {
  return run("netdev_del", json{{"id", id}});
}

Status QmpClient::deviceAdd(const QemuProperties& device) {
  return run("device_add", device.toQmp());
}

Status QmpClient::deviceDel(const std::string& id, std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(events_->mutex);
    events_->watched.insert(id);
    events_->deleted.erase(id);
  }
  auto unwatch = [&] {
    // Caller holds events_->mutex.
    events_->watched.erase(events_->watched.find(id));
    if (!events_->watched.count(id)) events_->deleted.erase(id);
  };
  auto reply = transport_->execute("device_del", json{{"id", id}}, commandTimeout_);
  std::unique_lock lock(events_->mutex);
  if (!reply.ok()) {
    unwatch();
    return reply.error();
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // In slices, so that a connection closed from either side ends the wait early.
  while (!events_->deleted.count(id) && transport_->connected() &&
         std::chrono::steady_clock::now() < deadline)
    events_->changed.wait_for(lock, std::chrono::milliseconds(100));
  bool deleted = events_->deleted.count(id) > 0;
  unwatch();
  if (deleted) return {};
  if (!transport_->connected())
    return makeError(Errc::unavailable, "QEMU monitor connection closed");
  return makeError(Errc::timeout,
                   fmt::format("QMP device_del: the guest did not release device '{}' within {} ms",
                               id, timeout.count()));
}

Result<std::vector<JobInfo>> QmpClient::queryJobs() {
  return query("query-jobs", parseQueryJobs);
}

Status QmpClient::awaitJob(const std::string& jobId, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto jobs = queryJobs();
    if (!jobs) return jobs.error();
    auto it =
        std::find_if(jobs->begin(), jobs->end(), [&](const JobInfo& j) { return j.id == jobId; });
    if (it == jobs->end()) return makeError(Errc::not_found, fmt::format("no job {}", jobId));
    if (it->status == "concluded") {
      (void)run("job-dismiss", json{{"id", jobId}});
      if (!it->error.empty()) return makeError(Errc::unavailable, it->error);
      return {};
    }
    if (std::chrono::steady_clock::now() > deadline) {
      (void)run("job-cancel", json{{"id", jobId}});
      return makeError(Errc::timeout,
                       fmt::format("job {} did not finish in {} s", jobId, timeout.count() / 1000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status QmpClient::runJob(const char* command, json args, const std::string& jobId,
                         std::chrono::milliseconds timeout) {
  args["job-id"] = jobId;
  PADDOCK_TRY(run(command, args));
  auto s = awaitJob(jobId, timeout);
  if (s) return s;
  if (s.error().code == Errc::not_found)
    return makeError(Errc::internal, fmt::format("QMP {}: job {} vanished", command, jobId));
  return makeError(s.error().code, fmt::format("QMP {}: {}", command, s.error().message));
}

Status QmpClient::migrate(const std::string& uri) {
  return run("migrate", json{{"uri", uri}});
}

Status QmpClient::migrateResume(const std::string& uri) {
  return run("migrate", json{{"uri", uri}, {"resume", true}});
}

Status QmpClient::migrateRecover(const std::string& uri) {
  return run("migrate-recover", json{{"uri", uri}});
}

Status QmpClient::migrateCancel() {
  return run("migrate_cancel");
}

Result<MigrationInfo> QmpClient::queryMigrate() {
  return query("query-migrate", parseQueryMigrate);
}

Status QmpClient::migrateSetParameters(const json& parameters) {
  return run("migrate-set-parameters", parameters);
}

Status QmpClient::migrateSetCapability(const std::string& capability, bool on) {
  return run("migrate-set-capabilities",
             json{{"capabilities", json::array({{{"capability", capability}, {"state", on}}})}});
}

Status QmpClient::migrateStartPostcopy() {
  return run("migrate-start-postcopy");
}

Status QmpClient::migrateContinue() {
  return run("migrate-continue", json{{"state", "pre-switchover"}});
}

Status QmpClient::nbdServerStart(const std::string& host, int port) {
  return run(
      "nbd-server-start",
      json{{"addr",
            {{"type", "inet"}, {"data", {{"host", host}, {"port", std::to_string(port)}}}}}});
}

Status QmpClient::nbdServerStop() {
  return run("nbd-server-stop");
}

Status QmpClient::blockExportAdd(const std::string& id, const std::string& node,
                                 const std::string& name) {
  return run(
      "block-export-add",
      json{{"type", "nbd"}, {"id", id}, {"node-name", node}, {"name", name}, {"writable", true}});
}

Status QmpClient::blockdevAddNbd(const std::string& node, const std::string& host, int port,
                                 const std::string& exportName) {
  return run("blockdev-add",
             json{{"driver", "nbd"},
                  {"node-name", node},
                  {"server", {{"type", "inet"}, {"host", host}, {"port", std::to_string(port)}}},
                  {"export", exportName}});
}

Status QmpClient::blockdevMirror(const std::string& jobId, const std::string& device,
                                 const std::string& target, const std::string& sync) {
  return run("blockdev-mirror", json{{"job-id", jobId},
                                     {"device", device},
                                     {"target", target},
                                     {"sync", sync},
                                     {"auto-dismiss", false}});
}

Status QmpClient::blockJobCancel(const std::string& jobId, bool force) {
  return run("block-job-cancel", json{{"device", jobId}, {"force", force}});
}

Status QmpClient::jobCancel(const std::string& id) {
  return run("job-cancel", json{{"id", id}});
}

Status QmpClient::jobDismiss(const std::string& id) {
  return run("job-dismiss", json{{"id", id}});
}

Status QmpClient::blockdevAddQcow2(const std::string& node, const std::string& path) {
  return run("blockdev-add", json{{"driver", "qcow2"},
                                  {"node-name", node},
                                  {"file", {{"driver", "file"}, {"filename", path}}},
                                  {"backing", nullptr}});
}

Status QmpClient::blockdevDel(const std::string& node) {
  return run("blockdev-del", json{{"node-name", node}});
}

Result<std::vector<NodeBitmap>> QmpClient::queryBitmaps() {
  return request("query-named-block-nodes", json{{"flat", true}}, parseNodeBitmaps)();
}

Status QmpClient::bitmapRemove(const std::string& node, const std::string& name) {
  return run("block-dirty-bitmap-remove", json{{"node", node}, {"name", name}});
}

Status QmpClient::transaction(const json& actions) {
  return run("transaction", json{{"actions", actions}});
}

}  // namespace paddock::qmp
