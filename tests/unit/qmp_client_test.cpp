#include "engine/qemu/qmp_client.h"
#include "engine/qemu/qmp_raw_reply.h"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_qmp_server.h"

extern char** environ;

namespace paddock::qmp {
namespace {

using fakes::FakeQmpServer;
using fakes::ScriptedCommand;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

// --- reply decoding, no sockets ---

TEST(QmpReplies, QueryStatusReadsRunningAndStatus) {
  auto status = parseQueryStatus(
      json::parse(R"({"running": true, "singlestep": false, "status": "running"})"));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(status->running);
  EXPECT_EQ(status->status, "running");
}

TEST(QmpReplies, QueryStatusOfAPausedGuest) {
  auto status =
      parseQueryStatus(json{{"status", "paused"}, {"singlestep", false}, {"running", false}});
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->status, "paused");
}

TEST(QmpReplies, QueryStatusWithoutStatusIsAnInternalError) {
  auto status = parseQueryStatus(json{{"running", true}});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::internal);
  EXPECT_THAT(status.error().message, HasSubstr("query-status"));
  EXPECT_FALSE(parseQueryStatus(json::array()).ok());
  EXPECT_FALSE(parseQueryStatus(json{{"running", "yes"}, {"status", "running"}}).ok());
}

TEST(QmpReplies, QueryVersionJoinsMajorMinorMicro) {
  auto version = parseQueryVersion(json::parse(
      R"({"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"})"));
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(*version, "7.2.22");
  EXPECT_FALSE(parseQueryVersion(json{{"qemu", {{"major", 7}}}}).ok());
}

TEST(QmpReplies, QueryCpusFastListsIndexAndHostThread) {
  auto cpus = parseQueryCpusFast(json::parse(R"([
    {"thread-id": 4311, "props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 0},
     "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
    {"thread-id": 4312, "props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 1},
     "qom-path": "/machine/unattached/device[2]", "cpu-index": 1, "target": "x86_64"}])"));
  ASSERT_TRUE(cpus.ok()) << cpus.error().message;
  ASSERT_EQ(cpus->size(), 2u);
  EXPECT_EQ((*cpus)[0].cpuIndex, 0);
  EXPECT_EQ((*cpus)[0].threadId, 4311);
  EXPECT_EQ((*cpus)[1].cpuIndex, 1);
  EXPECT_EQ((*cpus)[1].threadId, 4312);
}

TEST(QmpReplies, QueryCpusFastOfAMachineWithoutCpusIsEmpty) {
  auto cpus = parseQueryCpusFast(json::array());
  ASSERT_TRUE(cpus.ok());
  EXPECT_TRUE(cpus->empty());
  EXPECT_FALSE(parseQueryCpusFast(json::object()).ok());
  EXPECT_FALSE(parseQueryCpusFast(json::parse(R"([{"cpu-index": 0}])")).ok());
}

TEST(QmpReplies, QueryBalloonReadsActualBytes) {
  auto bytes = parseQueryBalloon(json{{"actual", 1073741824}});
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, 1073741824u);
  EXPECT_FALSE(parseQueryBalloon(json{{"actual", -1}}).ok());
  EXPECT_FALSE(parseQueryBalloon(json::object()).ok());
}

TEST(QmpReplies, QueryBlockstatsNamesDisksByTheirPaddockIds) {
  // As QEMU 7.2 answers for -blockdev disks: no device name, the qdev path and the node name,
  // the protocol node's stats under "parent" (not counted twice).
  const char* reply = R"({"return": [
    {"device": "", "parent": {"node-name": "file-root", "stats": {"rd_bytes": 99}},
     "stats": {"rd_bytes": 4096, "wr_bytes": 8192, "rd_operations": 2, "wr_operations": 3,
               "rd_total_time_ns": 1000, "wr_total_time_ns": 5000, "flush_operations": 1,
               "timed_stats": []},
     "node-name": "drive-root", "qdev": "/machine/peripheral/disk-root/virtio-backend"},
    {"device": "", "node-name": "drive-data", "stats": {"rd_bytes": 1}},
    {"device": "ide1-cd0", "stats": {"rd_bytes": 7}}], "id": 7})";
  auto stats = parseBlockstatsReply(reply);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  ASSERT_EQ(stats->size(), 2u);  // the CD-ROM is not a Paddock disk
  EXPECT_EQ((*stats)[0].disk, "root");
  EXPECT_EQ((*stats)[0].readBytes, 4096u);
  EXPECT_EQ((*stats)[0].writeBytes, 8192u);
  EXPECT_EQ((*stats)[0].readOps, 2u);
  EXPECT_EQ((*stats)[0].writeOps, 3u);
  EXPECT_EQ((*stats)[0].readTimeNs, 1000u);
  EXPECT_EQ((*stats)[0].writeTimeNs, 5000u);
  EXPECT_EQ((*stats)[1].disk, "data");
  EXPECT_EQ((*stats)[1].readBytes, 1u);
  for (const char* bad : {R"({"return": {}, "id": 1})", R"({"return": [{"device": "x"}], "id": 1})",
                          R"({"return": [7], "id": 1})", "not json", R"({"error": {}})"})
    EXPECT_FALSE(parseBlockstatsReply(bad).ok()) << bad;
}

TEST(QmpReplies, OnlyASuccessfulReplyHasItsIdScannedOut) {
  EXPECT_EQ(returnReplyId(R"({"return": [{"a": {"id": 3}}], "id": 12})"), 12u);
  EXPECT_EQ(returnReplyId(R"({"id": 12, "return": {}})"), 12u);
  EXPECT_FALSE(returnReplyId(R"({"error": {"class": "GenericError", "desc": "x"}, "id": 12})"));
  EXPECT_FALSE(returnReplyId(R"({"event": "STOP", "timestamp": {"seconds": 1}})"));
  EXPECT_FALSE(returnReplyId(R"({"return": {}})"));
  EXPECT_FALSE(returnReplyId(R"({"return": {}, "id": "x"})"));
  EXPECT_FALSE(returnReplyId("{\"return\": [1, 2"));
}

TEST(QmpReplies, GuestStatsReadsWhatTheGuestReportsAndMinusOneForTheRest) {
  auto g = parseGuestStats(json::parse(
      R"({"stats": {"stat-free-memory": 100, "stat-available-memory": 200,
                    "stat-total-memory": 300, "stat-swap-in": -1}, "last-update": 1700000000})"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->lastUpdate, 1700000000);
  EXPECT_EQ(g->freeBytes, 100);
  EXPECT_EQ(g->availableBytes, 200);
  EXPECT_EQ(g->totalBytes, 300);
  auto none = parseGuestStats(json::parse(R"({"stats": {}, "last-update": 0})"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->availableBytes, -1);
  EXPECT_FALSE(parseGuestStats(json::object()).ok());
}

// --- commands on the wire, against the scripted fake ---

std::unique_ptr<QmpClient> connectClient(FakeQmpServer& server, QmpCallbacks callbacks = {}) {
  auto client = QmpClient::connect(server.socketPath(), 5s, std::move(callbacks));
  EXPECT_TRUE(client.ok()) << client.error().message;
  return client.ok() ? std::move(*client) : nullptr;
}

TEST(QmpReplies, QueryMigrateReadsProgressAndTheMeasuredDowntime) {
  // As QEMU 7.2 answers while active and once completed.
  auto active = parseQueryMigrate(json::parse(R"({"status": "active", "expected-downtime": 42,
      "total-time": 900, "ram": {"total": 268967936, "remaining": 1048576, "transferred": 5000,
      "dirty-pages-rate": 256, "page-size": 4096, "dirty-sync-count": 3}})"));
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->status, "active");
  EXPECT_EQ(active->remaining, 1048576u);
  EXPECT_EQ(active->dirtyBytesPerSecond, 256u * 4096u);
  EXPECT_EQ(active->passes, 3);
  EXPECT_EQ(active->expectedDowntimeMs, 42);
  EXPECT_EQ(active->downtimeMs, -1);
  auto done = parseQueryMigrate(json::parse(R"({"status": "completed", "setup-time": 8,
      "downtime": 17, "total-time": 1704, "ram": {"total": 268967936, "remaining": 0,
      "transferred": 92884438}})"));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->downtimeMs, 17);
  EXPECT_EQ(done->totalTimeMs, 1704);
  EXPECT_EQ(done->transferred, 92884438u);
  EXPECT_EQ(done->expectedDowntimeMs, -1);
}

TEST(QmpClient, LiveMigrationCommandsSendWhatQemuExpects) {
  FakeQmpServer server;
  server.expectReturn(
      "nbd-server-start",
      {{"addr", {{"type", "inet"}, {"data", {{"host", "127.0.0.1"}, {"port", "40001"}}}}}},
      json::object());
  server.expectReturn("block-export-add",
                      {{"type", "nbd"},
                       {"id", "mig-root"},
                       {"node-name", "drive-root"},
                       {"name", "root"},
                       {"writable", true}},
                      json::object());
  server.expectReturn("blockdev-add",
                      {{"driver", "nbd"},
                       {"node-name", "mig-nbd-root"},
                       {"server", {{"type", "inet"}, {"host", "127.0.0.1"}, {"port", "40001"}}},
                       {"export", "root"}},
                      json::object());
  server.expectReturn("blockdev-mirror",
                      {{"job-id", "mig-root"},
                       {"device", "drive-root"},
                       {"target", "mig-nbd-root"},
                       {"sync", "top"},
                       {"auto-dismiss", false}},
                      json::object());
  server.expectReturn("migrate-set-parameters",
                      {{"downtime-limit", 300}, {"max-bandwidth", 1 << 20}}, json::object());
  server.expectReturn(
      "migrate-set-capabilities",
      {{"capabilities", json::array({{{"capability", "auto-converge"}, {"state", true}}})}},
      json::object());
  server.expectReturn("block-job-cancel", {{"device", "mig-root"}, {"force", false}},
                      json::object());
  server.expectReturn("migrate-start-postcopy", json(), json::object());
  server.expectReturn("migrate-continue", {{"state", "pre-switchover"}}, json::object());
  server.expectReturn("migrate-recover", {{"uri", "tcp:127.0.0.1:40002"}}, json::object());
  server.expectReturn("migrate", {{"uri", "tcp:127.0.0.1:40002"}, {"resume", true}},
                      json::object());
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->nbdServerStart("127.0.0.1", 40001).ok());
  EXPECT_TRUE(client->blockExportAdd("mig-root", "drive-root", "root").ok());
  EXPECT_TRUE(client->blockdevAddNbd("mig-nbd-root", "127.0.0.1", 40001, "root").ok());
  EXPECT_TRUE(client->blockdevMirror("mig-root", "drive-root", "mig-nbd-root", "top").ok());
  EXPECT_TRUE(
      client->migrateSetParameters({{"downtime-limit", 300}, {"max-bandwidth", 1 << 20}}).ok());
  EXPECT_TRUE(client->migrateSetCapability("auto-converge", true).ok());
  EXPECT_TRUE(client->blockJobCancel("mig-root", false).ok());
  EXPECT_TRUE(client->migrateStartPostcopy().ok());
  EXPECT_TRUE(client->migrateContinue().ok());
  EXPECT_TRUE(client->migrateRecover("tcp:127.0.0.1:40002").ok());
  EXPECT_TRUE(client->migrateResume("tcp:127.0.0.1:40002").ok());
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, QueryStatusSendsQueryStatusAndDecodesTheReply) {
  FakeQmpServer server;
  server.expectReturn("query-status", json(),
                      {{"running", true}, {"singlestep", false}, {"status", "running"}});
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto status = client->queryStatus();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(status->running);
  EXPECT_EQ(status->status, "running");
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, LifecycleCommandsUseTheirQmpNamesWithoutArguments) {
  FakeQmpServer server;
  for (const char* command : {"stop", "cont", "system_powerdown", "system_reset"})
    server.expectReturn(command, json(), json::object());
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->stop().ok());
  EXPECT_TRUE(client->cont().ok());
  EXPECT_TRUE(client->systemPowerdown().ok());
  EXPECT_TRUE(client->systemReset().ok());
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, QueriesDecodeTheirReplies) {
  FakeQmpServer server;
  server.expectReturn("query-version", json(),
                      {{"qemu", {{"micro", 0}, {"minor", 2}, {"major", 7}}}, {"package", ""}});
  server.expectReturn("query-cpus-fast", json(),
                      json::array({{{"cpu-index", 0}, {"thread-id", 77}, {"target", "x86_64"}}}));
  server.expectReturn("query-balloon", json(), {{"actual", 536870912}});
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto version = client->queryVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, "7.2.0");
  auto cpus = client->queryCpusFast();
  ASSERT_TRUE(cpus.ok());
  ASSERT_EQ(cpus->size(), 1u);
  EXPECT_EQ(cpus->front().threadId, 77);
  auto balloon = client->queryBalloon();
  ASSERT_TRUE(balloon.ok());
  EXPECT_EQ(*balloon, 536870912u);
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, BalloonAndGuestStatsUseTheirQmpCommands) {
  FakeQmpServer server;
  server.expectReturn("balloon", {{"value", 268435456}}, json::object());
  server.expectReturn("qom-set",
                      {{"path", "/machine/peripheral/balloon0"},
                       {"property", "guest-stats-polling-interval"},
                       {"value", 2}},
                      json::object());
  server.expectReturn("qom-get",
                      {{"path", "/machine/peripheral/balloon0"}, {"property", "guest-stats"}},
                      {{"stats", {{"stat-available-memory", 42}}}, {"last-update", 5}});
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->balloon(268435456).ok());
  EXPECT_TRUE(client->setGuestStatsInterval("/machine/peripheral/balloon0", 2).ok());
  auto g = client->guestMemoryStats("/machine/peripheral/balloon0");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->availableBytes, 42);
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, BlockSetIoThrottleSendsEveryLimitQemuRequires) {
  FakeQmpServer server;
  server.expectReturn("block_set_io_throttle",
                      {{"id", "/machine/peripheral/disk-root/virtio-backend"},
                       {"bps", 0},
                       {"bps_rd", 0},
                       {"bps_wr", 1048576},
                       {"iops", 0},
                       {"iops_rd", 200},
                       {"iops_wr", 0},
                       {"group", "disk-root"}},
                      json::object());
  server.expectReturn("block_set_io_throttle",
                      {{"id", "/machine/peripheral/disk-data/virtio-backend"},
                       {"bps", 0},
                       {"bps_rd", 0},
                       {"bps_wr", 1048576},
                       {"bps_wr_max", 8388608},
                       {"bps_wr_max_length", 3},
                       {"iops", 0},
                       {"iops_rd", 0},
                       {"iops_wr", 0},
                       {"group", "group-shared"}},
                      json::object());
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  DiskLimits limits;
  limits.writeBps = 1048576;
  limits.readIops = 200;
  EXPECT_TRUE(
      client
          ->blockSetIoThrottle("/machine/peripheral/disk-root/virtio-backend", limits, "disk-root")
          .ok());
  DiskLimits burst;
  burst.writeBps = 1048576;
  burst.writeBpsMax = 8388608;
  burst.burstSeconds = 3;
  EXPECT_TRUE(client
                  ->blockSetIoThrottle("/machine/peripheral/disk-data/virtio-backend", burst,
                                       "group-shared")
                  .ok());
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, QueryBalloonWithoutABalloonDeviceIsAConflict) {
  FakeQmpServer server;
  server.expectError("query-balloon", json(), "DeviceNotActive",
                     "No balloon device has been activated");
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto balloon = client->queryBalloon();
  ASSERT_FALSE(balloon.ok());
  EXPECT_EQ(balloon.error().code, Errc::conflict);
  EXPECT_EQ(balloon.error().message, "QMP query-balloon: No balloon device has been activated");
}

TEST(QmpClient, RunJobPollsUntilConcludedAndDismisses) {
  FakeQmpServer server;
  json args = {{"tag", "s1"}, {"vmstate", "drive-root"}, {"devices", {"drive-root"}}};
  json withId = args;
  withId["job-id"] = "save-s1";
  server.expectReturn("snapshot-save", withId, json::object());
  server.expectReturn(
      "query-jobs", json(),
      json::array({{{"id", "save-s1"}, {"type", "snapshot-save"}, {"status", "running"}}}));
  server.expectReturn(
      "query-jobs", json(),
      json::array({{{"id", "save-s1"}, {"type", "snapshot-save"}, {"status", "concluded"}}}));
  server.expectReturn("job-dismiss", json{{"id", "save-s1"}}, json::object());
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto s = client->runJob("snapshot-save", args, "save-s1", 10s);
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, AFailedJobReportsItsErrorAfterDismissing) {
  FakeQmpServer server;
  server.expectReturn("snapshot-load", json{{"tag", "x"}, {"job-id", "load-x"}}, json::object());
  server.expectReturn(
      "query-jobs", json(),
      json::array({{{"id", "other"}, {"status", "running"}},
                   {{"id", "load-x"},
                    {"status", "concluded"},
                    {"error", "Snapshot 'x' does not exist in one or more devices"}}}));
  server.expectReturn("job-dismiss", json{{"id", "load-x"}}, json::object());
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto s = client->runJob("snapshot-load", json{{"tag", "x"}}, "load-x", 10s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "QMP snapshot-load: Snapshot 'x' does not exist in one or more devices");
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpReplies, QueryJobsNeedsIdAndStatus) {
  auto jobs = parseQueryJobs(json::array({{{"id", "a"}, {"status", "pending"}}}));
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].status, "pending");
  EXPECT_EQ((*jobs)[0].error, "");
  EXPECT_FALSE(parseQueryJobs(json::array({{{"id", "a"}}})));
  EXPECT_FALSE(parseQueryJobs(json::object()));
}

TEST(QmpClient, QuitSucceedsWhenQemuExitsBeforeReplying) {
  FakeQmpServer server;
  ScriptedCommand quit;
  quit.command = "quit";
  quit.eventsBefore = {
      FakeQmpServer::event("SHUTDOWN", {{"guest", false}, {"reason", "host-qmp-quit"}})};
  quit.hangUpAfter = true;
  server.expect(quit);
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto status = client->quit();
  EXPECT_TRUE(status.ok()) << status.error().message;
  EXPECT_FALSE(client->connected());
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, MalformedReplyIsAnInternalErrorNotACrash) {
  FakeQmpServer server;
  server.expectReturn("query-status", json(), "running");
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto status = client->queryStatus();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::internal);
}

TEST(QmpReplies, QomListReadsNamesAndTypes) {
  auto props = parseQomList(json::parse(
      R"([{"name": "type", "type": "string"}, {"name": "child[0]", "type": "link<virtio-net-pci>"}])"));
  ASSERT_TRUE(props.ok()) << props.error().message;
  ASSERT_EQ(props->size(), 2u);
  EXPECT_EQ((*props)[1].name, "child[0]");
  EXPECT_EQ((*props)[1].type, "link<virtio-net-pci>");
  EXPECT_FALSE(parseQomList(json::object()).ok());
  EXPECT_FALSE(parseQomList(json::parse(R"([{"name": "x"}])")).ok());
}

// --- NIC hot-plug commands ---

NicDevice testNic() {
  return nicDevice({"0250440a1b2c", "pdabcdt0a1b2c3d", "02:50:44:0a:1b:2c", {}}, "hp2");
}

json deviceDeleted(const std::string& id) {
  return FakeQmpServer::event("DEVICE_DELETED",
                              {{"device", id}, {"path", "/machine/peripheral/" + id}});
}

TEST(QmpClient, HotplugSendsNetdevAddAndDeviceAddWithTheBuilderProperties) {
  FakeQmpServer server;
  server.expectReturn("netdev_add",
                      {{"type", "tap"},
                       {"id", "net-0250440a1b2c"},
                       {"ifname", "pdabcdt0a1b2c3d"},
                       {"script", "no"},
                       {"downscript", "no"}},
                      json::object());
  server.expectReturn("device_add",
                      {{"driver", "virtio-net-pci"},
                       {"netdev", "net-0250440a1b2c"},
                       {"mac", "02:50:44:0a:1b:2c"},
                       {"id", "nic-0250440a1b2c"},
                       {"romfile", ""},
                       {"bus", "hp2"}},
                      json::object());
  server.expectReturn("qom-list", {{"path", "/machine/peripheral/hp2/hp2"}},
                      json::array({{{"name", "type"}, {"type", "string"}}}));
  server.expectReturn("netdev_del", {{"id", "net-0250440a1b2c"}}, json::object());
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto nic = testNic();
  EXPECT_TRUE(client->netdevAdd(nic.netdev).ok());
  EXPECT_TRUE(client->deviceAdd(nic.device).ok());
  auto bus = client->qomList("/machine/peripheral/hp2/hp2");
  ASSERT_TRUE(bus.ok()) << bus.error().message;
  EXPECT_EQ(bus->size(), 1u);
  EXPECT_TRUE(client->netdevDel("net-0250440a1b2c").ok());
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, DeviceAddRejectedByQemuIsAConflictWithItsReason) {
  FakeQmpServer server;
  server.expectError("device_add", testNic().device.toQmp(), "GenericError",
                     "Bus 'hp2' does not support hotplugging");
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto s = client->deviceAdd(testNic().device);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::conflict);
  EXPECT_THAT(s.error().message, HasSubstr("does not support hotplugging"));
}

TEST(QmpClient, DeviceDelWaitsForTheDeviceDeletedEventOfThatDevice) {
  FakeQmpServer server;
  ScriptedCommand del;
  del.command = "device_del";
  del.args = {{"id", "nic-1"}};
  del.reply = json{{"return", json::object()}};
  // The backend's event has no "device"; another device's event is not ours.
  del.eventsAfter = {FakeQmpServer::event("DEVICE_DELETED",
                                          {{"path", "/machine/peripheral/nic-1/virtio-backend"}}),
                     deviceDeleted("nic-2")};
  server.expect(del);
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  std::thread guest([&] {
    std::this_thread::sleep_for(300ms);
    server.emitEvent("DEVICE_DELETED",
                     {{"device", "nic-1"}, {"path", "/machine/peripheral/nic-1"}});
  });
  auto start = std::chrono::steady_clock::now();
  auto s = client->deviceDel("nic-1", 5s);
  auto took = std::chrono::steady_clock::now() - start;
  guest.join();
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_GE(took, 250ms) << "returned before the guest released the device";
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpClient, DeviceDelSeesAnEventSentBeforeItsReply) {
  FakeQmpServer server;
  ScriptedCommand del;
  del.command = "device_del";
  del.args = {{"id", "nic-1"}};
  del.eventsBefore = {deviceDeleted("nic-1")};
  del.reply = json{{"return", json::object()}};
  server.expect(del);
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto s = client->deviceDel("nic-1", 5s);
  EXPECT_TRUE(s.ok()) << s.error().message;
}

TEST(QmpClient, DeviceDelTimesOutWhenTheGuestDoesNotRelease) {
  FakeQmpServer server;
  ScriptedCommand del;
  del.command = "device_del";
  del.args = {{"id", "nic-1"}};
  del.reply = json{{"return", json::object()}};
  del.eventsAfter = {deviceDeleted("nic-9")};
  server.expect(del);
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto s = client->deviceDel("nic-1", 400ms);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::timeout);
  EXPECT_THAT(s.error().message, HasSubstr("nic-1"));
}

TEST(QmpClient, DeviceDelOfAnUnknownDeviceFailsAtOnce) {
  FakeQmpServer server;
  server.expectError("device_del", {{"id", "nic-1"}}, "DeviceNotFound", "Device 'nic-1' not found");
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto start = std::chrono::steady_clock::now();
  auto s = client->deviceDel("nic-1", 5s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::conflict);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(QmpClient, DeviceDelEndsWhenQemuGoesAway) {
  FakeQmpServer server;
  ScriptedCommand del;
  del.command = "device_del";
  del.args = {{"id", "nic-1"}};
  del.reply = json{{"return", json::object()}};
  del.hangUpAfter = true;
  server.expect(del);
  auto client = connectClient(server);
  ASSERT_TRUE(client);
  auto start = std::chrono::steady_clock::now();
  auto s = client->deviceDel("nic-1", 10s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

// --- against a real QEMU ---

std::string findInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

class RealQemu : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = findInPath("qemu-system-x86_64");
    if (binary_.empty())
      GTEST_SKIP() << "qemu-system-x86_64 is not in PATH: the real-QEMU QMP test did NOT run";
    dir_ = (std::filesystem::temp_directory_path() / "paddock-qemu-XXXXXX").string();
    ASSERT_TRUE(::mkdtemp(dir_.data()));
    socket_ = dir_ + "/qmp.sock";
    std::vector<std::string> args = {
        binary_,       "-machine", "none", "-accel", "tcg",
        "-nodefaults", "-display", "none", "-qmp",   "unix:" + socket_ + ",server=on,wait=off"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(::posix_spawn(&pid_, binary_.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  }

  void TearDown() override {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!socket_.empty()) ::unlink(socket_.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  // True if QEMU exits on its own within `timeout`.
  bool waitForExit(std::chrono::milliseconds timeout) {
    for (auto end = std::chrono::steady_clock::now() + timeout;
         std::chrono::steady_clock::now() < end; std::this_thread::sleep_for(20ms)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return reaped_ = true;
    }
    return false;
  }

  std::string binary_;
  std::string dir_;
  std::string socket_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

TEST_F(RealQemu, StatusVersionAndQuitEndWithAHangUp) {
  std::mutex mutex;
  std::condition_variable changed;
  int hangUps = 0;
  std::vector<std::string> events;
  QmpCallbacks callbacks;
  callbacks.onEvent = [&](const Event& e) {
    std::lock_guard lock(mutex);
    events.push_back(e.name);
  };
  callbacks.onHangUp = [&] {
    std::lock_guard lock(mutex);
    ++hangUps;
    changed.notify_all();
  };

  // Started with wait=off and without -S, so QEMU runs and the socket appears after a moment.
  auto client = QmpClient::connect(socket_, 20s, callbacks);
  ASSERT_TRUE(client.ok()) << client.error().message;

  auto status = (*client)->queryStatus();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(status->running);
  EXPECT_EQ(status->status, "running");

  auto version = (*client)->queryVersion();
  ASSERT_TRUE(version.ok()) << version.error().message;
  int major = -1, minor = -1, micro = -1;
  EXPECT_EQ(std::sscanf(version->c_str(), "%d.%d.%d", &major, &minor, &micro), 3) << *version;
  EXPECT_GE(major, 1) << *version;

  auto cpus = (*client)->queryCpusFast();
  ASSERT_TRUE(cpus.ok()) << cpus.error().message;
  EXPECT_TRUE(cpus->empty());  // -machine none has no CPUs

  auto balloon = (*client)->queryBalloon();
  ASSERT_FALSE(balloon.ok());
  EXPECT_EQ(balloon.error().code, Errc::conflict);

  ASSERT_TRUE((*client)->quit().ok());
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return hangUps > 0; }))
        << "no hang-up after quit";
    EXPECT_EQ(hangUps, 1);
    EXPECT_THAT(events, ::testing::Contains("SHUTDOWN"));
  }
  EXPECT_TRUE(waitForExit(10s)) << "QEMU still running after quit";
}

}  // namespace
}  // namespace paddock::qmp
