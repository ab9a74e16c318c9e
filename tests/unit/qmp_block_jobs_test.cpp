// The QMP conversation of a backup, against canned replies: what is sent for an incremental
// backup of two disks, and that a failed copy removes the bitmap it made.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/qemu/qmp_block_jobs.h"
#include "fakes/fake_qmp_server.h"

namespace paddock {
namespace {

using fakes::FakeQmpServer;
using nlohmann::json;
using testing::IsEmpty;
using namespace std::chrono_literals;

std::unique_ptr<qmp::QmpClient> connect(FakeQmpServer& server) {
  auto client = qmp::QmpClient::connect(server.socketPath(), 5s);
  EXPECT_TRUE(client.ok()) << client.error().message;
  return client.ok() ? std::move(*client) : nullptr;
}

json target(const std::string& node, const std::string& path) {
  return {{"driver", "qcow2"},
          {"node-name", node},
          {"file", {{"driver", "file"}, {"filename", path}}},
          {"backing", nullptr}};
}

TEST(QmpBlockJobs, IncrementalBackupOfTwoDisksIsOneTransactionWhileThePausedGuestWaits) {
  FakeQmpServer server;
  server.expectReturn("query-jobs", json(), json::array());
  server.expectError("blockdev-del", {{"node-name", "pbk0"}}, "GenericError",
                     "Failed to find node with node-name='pbk0'");
  server.expectReturn("blockdev-add", target("pbk0", "/r/root.qcow2"), json::object());
  server.expectError("blockdev-del", {{"node-name", "pbk1"}}, "GenericError",
                     "Failed to find node with node-name='pbk1'");
  server.expectReturn("blockdev-add", target("pbk1", "/r/data.qcow2"), json::object());
  server.expectReturn("query-status", json(), {{"running", true}, {"status", "running"}});
  server.expectReturn("stop", json(), json::object());
  json actions = json::array();
  for (auto [i, disk] : {std::pair{0, "root"}, std::pair{1, "data"}}) {
    std::string node = std::string("drive-") + disk, job = "pbk" + std::to_string(i);
    actions.push_back({{"type", "block-dirty-bitmap-add"},
                       {"data", {{"node", node}, {"name", "new"}, {"persistent", true}}}});
    actions.push_back({{"type", "blockdev-backup"},
                       {"data",
                        {{"job-id", job},
                         {"device", node},
                         {"target", job},
                         {"sync", "bitmap"},
                         {"auto-dismiss", false},
                         {"speed", 1048576},
                         {"bitmap", "old"},
                         {"bitmap-mode", "never"}}}});
  }
  server.expectReturn("transaction", {{"actions", actions}}, json::object());
  server.expectReturn("cont", json(), json::object());
  server.expectReturn("query-jobs", json(),
                      json::array({{{"id", "pbk0"},
                                    {"status", "concluded"},
                                    {"current-progress", 10},
                                    {"total-progress", 10}},
                                   {{"id", "pbk1"},
                                    {"status", "concluded"},
                                    {"current-progress", 4},
                                    {"total-progress", 4}}}));
  server.expectReturn("job-dismiss", {{"id", "pbk0"}}, json::object());
  server.expectReturn("job-dismiss", {{"id", "pbk1"}}, json::object());
  server.expectReturn("blockdev-del", {{"node-name", "pbk0"}}, json::object());
  server.expectReturn("blockdev-del", {{"node-name", "pbk1"}}, json::object());
  auto client = connect(server);
  ASSERT_TRUE(client);
  QmpBlockJobs jobs(*client);
  BackupJob job{"b1",
                "new",
                {{"root", "/r/root.qcow2", "old"}, {"data", "/r/data.qcow2", "old"}},
                true,
                1048576};
  auto s = jobs.backup(job, {});
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpBlockJobs, AFailedCopyClosesTheTargetAndDropsTheNewBitmap) {
  FakeQmpServer server;
  server.expectReturn("query-jobs", json(), json::array());
  server.expectError("blockdev-del", {{"node-name", "pbk0"}}, "GenericError", "not found");
  server.expectReturn("blockdev-add", target("pbk0", "/r/root.qcow2"), json::object());
  json actions =
      json::array({{{"type", "block-dirty-bitmap-add"},
                    {"data", {{"node", "drive-root"}, {"name", "new"}, {"persistent", true}}}},
                   {{"type", "blockdev-backup"},
                    {"data",
                     {{"job-id", "pbk0"},
                      {"device", "drive-root"},
                      {"target", "pbk0"},
                      {"sync", "full"},
                      {"auto-dismiss", false}}}}});
  server.expectReturn("transaction", {{"actions", actions}}, json::object());
  server.expectReturn(
      "query-jobs", json(),
      json::array(
          {{{"id", "pbk0"}, {"status", "concluded"}, {"error", "No space left on device"}}}));
  server.expectReturn("job-dismiss", {{"id", "pbk0"}}, json::object());
  server.expectReturn("blockdev-del", {{"node-name", "pbk0"}}, json::object());
  server.expectReturn("block-dirty-bitmap-remove", {{"node", "drive-root"}, {"name", "new"}},
                      json::object());
  auto client = connect(server);
  ASSERT_TRUE(client);
  QmpBlockJobs jobs(*client);
  BackupJob job{"b2", "new", {{"root", "/r/root.qcow2", ""}}, false, 0};
  auto s = jobs.backup(job, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("No space left"), std::string::npos);
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpReplies, NodeBitmapsSkipTheAnonymousOnesOfRunningJobs) {
  auto b = qmp::parseNodeBitmaps(json::array(
      {{{"node-name", "drive-root"},
        {"dirty-bitmaps",
         json::array({{{"name", "paddock-backup:main:1"}, {"persistent", true}, {"count", 65536}},
                      {{"busy", true}, {"count", 134217728}}})}},
       {{"node-name", "file-root"}}}));
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].node, "drive-root");
  EXPECT_EQ((*b)[0].count, 65536u);
  EXPECT_TRUE((*b)[0].persistent);
  EXPECT_FALSE(qmp::parseNodeBitmaps(json::object()));
}

}  // namespace
}  // namespace paddock
