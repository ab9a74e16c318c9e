#include "engine/qemu/qmp_stats_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/qemu/qmp_raw_reply.h"
#include "fakes/fake_qmp_server.h"

namespace paddock::qmp {
namespace {

using fakes::FakeQmpServer;
using fakes::ScriptedCommand;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

StatsMonitor::Clock::time_point in(std::chrono::milliseconds ms) {
  return StatsMonitor::Clock::now() + ms;
}

json blockstats(std::uint64_t readBytes) {
  return json::array({{{"qdev", "/machine/peripheral/disk-root/virtio-backend"},
                       {"node-name", "drive-root"},
                       {"stats", {{"rd_bytes", readBytes}, {"wr_bytes", 7}}}}});
}

TEST(StatsMonitor, TakesTheReplyToItsQueryPastTheGreetingHandshakeAndEvents) {
  FakeQmpServer server;
  ScriptedCommand step;
  step.command = "query-blockstats";
  step.eventsBefore = {FakeQmpServer::event("BALLOON_CHANGE", {{"actual", 1}}),
                       FakeQmpServer::event("BLOCK_IO_ERROR", {{"error", "x"}})};
  step.reply = json{{"return", blockstats(4096)}};
  server.expect(step);
  server.expectReturn("query-blockstats", json::object(), blockstats(8192));

  StatsMonitor monitor(server.socketPath());
  for (std::uint64_t want : {4096u, 8192u}) {
    ASSERT_TRUE(monitor.ask("query-blockstats").ok());
    auto line = monitor.take(in(5s));
    ASSERT_TRUE(line.ok()) << line.error().message;
    auto disks = parseBlockstatsReply(*line);
    ASSERT_TRUE(disks.ok());
    ASSERT_EQ(disks->size(), 1u);
    EXPECT_EQ((*disks)[0].disk, "root");
    EXPECT_EQ((*disks)[0].readBytes, want);
  }
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(StatsMonitor, AnErrorReplyIsAConflictAndTheConnectionGoesOn) {
  FakeQmpServer server;
  server.expectError("query-blockstats", json::object(), "GenericError", "not now");
  server.expectReturn("query-blockstats", json::object(), blockstats(1));
  StatsMonitor monitor(server.socketPath());
  ASSERT_TRUE(monitor.ask("query-blockstats").ok());
  auto failed = monitor.take(in(5s));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, Errc::conflict);
  EXPECT_THAT(failed.error().message, HasSubstr("not now"));
  ASSERT_TRUE(monitor.ask("query-blockstats").ok());
  EXPECT_TRUE(monitor.take(in(5s)).ok());
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(StatsMonitor, NoReplyInTimeReconnectsSoALateReplyIsNeverTakenForTheNext) {
  FakeQmpServer server;
  ScriptedCommand silent;
  silent.command = "query-blockstats";
  silent.deferReply = true;
  silent.reply = json{{"return", blockstats(111)}};
  server.expect(silent);
  server.expectReturn("query-blockstats", json::object(), blockstats(222));
  StatsMonitor monitor(server.socketPath());
  ASSERT_TRUE(monitor.ask("query-blockstats").ok());
  auto before = StatsMonitor::Clock::now();
  auto late = monitor.take(in(100ms));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::timeout);
  EXPECT_GE(StatsMonitor::Clock::now() - before, 100ms);
  server.releaseDeferredReplies();  // to a connection already closed

  ASSERT_TRUE(monitor.ask("query-blockstats").ok());
  auto line = monitor.take(in(5s));
  ASSERT_TRUE(line.ok()) << line.error().message;
  EXPECT_EQ((*parseBlockstatsReply(*line))[0].readBytes, 222u);
}

TEST(StatsMonitor, AMissingSocketIsNotFoundAndAHangUpIsUnavailable) {
  StatsMonitor absent("/nonexistent/paddock/stats.sock");
  auto s = absent.ask("query-blockstats");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::not_found);

  FakeQmpServer server;
  ScriptedCommand dying;
  dying.command = "query-blockstats";
  dying.hangUpAfter = true;  // no reply: hang up instead
  server.expect(dying);
  StatsMonitor monitor(server.socketPath());
  ASSERT_TRUE(monitor.ask("query-blockstats").ok());
  auto gone = monitor.take(in(5s));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, Errc::unavailable);
}

}  // namespace
}  // namespace paddock::qmp
