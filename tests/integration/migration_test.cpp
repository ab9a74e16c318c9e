// Cold and suspended migration between two real paddockd (TCP on 127.0.0.1, bearer tokens).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/files.h"
#include "common/subprocess.h"
#include "integration/harness.h"
#include "integration/migration_pair.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

class Migration : public MigrationPair {};

TEST_F(Migration, AStoppedVmMovesWithItsDiskAndSnapshotsAndRunsThere) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  a.createVm("m1", {{"memory_mib", 128}});
  a.startVm("m1");
  guestWriteDiskHead(a, "m1", "MIG-MARK-", "0001");
  ASSERT_EQ(a.cli({"vm", "shutdown", "m1", "--timeout", "60s"}).code, 0);
  ASSERT_EQ(a.cli({"vm", "snapshot", "create", "m1", "before"}).code, 0);
  qemuIoWrite(diskOf(a, "m1"), "write -P 0xcd 16M 9M");  // three 4 MiB pieces, one partial
  std::string sum = sha256(diskOf(a, "m1"));

  // Refused before anything moves: unknown peer, live for a stopped VM.
  auto unknown = a.cli({"vm", "migrate", "m1", "--to", "nope"});
  EXPECT_EQ(unknown.code, 3) << unknown.err;
  EXPECT_NE(unknown.err.find("nope"), std::string::npos) << unknown.err;
  auto live = a.cli({"vm", "migrate", "m1", "--to", "b", "--live"});
  EXPECT_EQ(live.code, 4) << live.err;
  EXPECT_NE(live.err.find("only a running or paused VM migrates live"), std::string::npos)
      << live.err;

  auto moved = a.cli({"--json", "vm", "migrate", "m1", "--to", "b"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  EXPECT_EQ(moved.json()["state"], "stopped");
  EXPECT_LT(moved.json()["bytes_sent"].get<std::uint64_t>(), 64ull << 20) << "holes not sent";

  EXPECT_EQ(a.cli({"vm", "show", "m1"}).code, 3) << "the source copy is gone";
  EXPECT_FALSE(fs::exists(a.stateDir() + "/disks/m1"));
  EXPECT_EQ(sha256(diskOf(b, "m1")), sum);
  EXPECT_TRUE(noIncoming(b));
  auto snaps = b.cli({"--json", "vm", "snapshot", "list", "m1"});
  ASSERT_EQ(snaps.code, 0) << snaps.err;
  EXPECT_NE(snaps.out.find("\"before\""), std::string::npos) << snaps.out;
  EXPECT_NE(b.vm("m1")["runtime"].value("reason", "").find("migrated from"), std::string::npos);

  b.startVm("m1");
  EXPECT_NE(guestDiskHead(b, "m1").find("MIG-MARK-0001"), std::string::npos);
  auto events = a.cli({"--json", "events", "--no-follow"});
  EXPECT_NE(events.out.find("vm.migrated"), std::string::npos);
}

TEST_F(Migration, ALinkedCloneBringsItsTemplateAndASuspendedVmResumesThere) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  a.createVm("base", {{"memory_mib", 128}});
  ASSERT_EQ(a.cli({"template", "create", "t1", "--from", "base"}).code, 0);
  ASSERT_EQ(a.cli({"vm", "create", "c1", "--template", "t1"}).code, 0);
  a.startVm("c1");
  guestWriteDiskHead(a, "c1", "CLONE-MARK-", "0002");
  auto suspended = a.cli({"vm", "suspend", "c1"});
  ASSERT_EQ(suspended.code, 0) << suspended.err;

  auto moved = a.cli({"--json", "vm", "migrate", "c1", "--to", "b"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  EXPECT_EQ(moved.json()["state"], "suspended");
  EXPECT_EQ(b.vm("c1")["state"], "suspended");
  auto templates = b.cli({"--json", "template", "list"});
  EXPECT_NE(templates.out.find("\"t1\""), std::string::npos) << templates.out;
  EXPECT_EQ(a.cli({"vm", "show", "c1"}).code, 3);
  EXPECT_EQ(a.cli({"template", "show", "t1"}).code, 0) << "the source keeps its template";

  auto resumed = b.cli({"vm", "resume", "c1"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(b.vm("c1")["state"], "running");
  std::string head = guestDiskHead(b, "c1", 15);
  EXPECT_NE(head.find("CLONE-MARK-0002"), std::string::npos) << head;
  EXPECT_TRUE(noIncoming(b));
}

TEST_F(Migration, ATargetThatRefusesOrDiesLeavesTheVmOnTheSourceAndNothingOnTheTarget) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  a.createVm("m3", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 512}}}}});
  qemuIoWrite(diskOf(a, "m3"), "write -P 0x5a 0 480M");
  std::string sum = sha256(diskOf(a, "m3"));

  // The target checks before anything is copied: the name is taken there.
  b.createVm("m3", {{"memory_mib", 128}});
  auto taken = a.cli({"vm", "migrate", "m3", "--to", "b"});
  EXPECT_NE(taken.code, 0);
  EXPECT_NE(taken.err.find("already exists"), std::string::npos) << taken.err;
  ASSERT_EQ(b.cli({"vm", "delete", "m3"}).code, 0);

  // The target's paddockd killed mid-copy: the VM stays, its disk untouched; the target's
  // restart removes the partial copy.
  auto op = a.api().call("POST", "/v1/vms/m3/actions/migrate", {{"to", "b"}});
  ASSERT_TRUE(op.ok()) << op.error().message;
  std::string opPath = "/v1/operations/" + std::to_string(op->value("id", 0));
  bool copying = waitFor(
      [&] {
        auto o = a.api().call("GET", opPath);
        return o.ok() && o->value("message", "").find("copying") != std::string::npos;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(copying);
  b.kill9();
  ASSERT_TRUE(waitFor(
      [&] {
        auto o = a.api().call("GET", opPath);
        return o.ok() && o->value("status", "") == "failed";
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(a.vm("m3")["state"], "stopped");
  EXPECT_EQ(sha256(diskOf(a, "m3")), sum);
  b.start();
  EXPECT_TRUE(noIncoming(b));
  EXPECT_EQ(b.cli({"vm", "show", "m3"}).code, 3);

  // Cancelled mid-copy: the same, and the target forgets it at once (the restarted target
  // listens on a new port: registered again).
  ASSERT_EQ(a.cli({"host", "remove", "b"}).code, 0);
  addPeer();
  op = a.api().call("POST", "/v1/vms/m3/actions/migrate", {{"to", "b"}});
  ASSERT_TRUE(op.ok()) << op.error().message;
  opPath = "/v1/operations/" + std::to_string(op->value("id", 0));
  ASSERT_TRUE(waitFor(
      [&] {
        auto o = a.api().call("GET", opPath);
        return o.ok() && o->value("message", "").find("copying") != std::string::npos;
      },
      std::chrono::seconds(30)));
  ASSERT_TRUE(a.api().call("DELETE", opPath).ok());
  ASSERT_TRUE(waitFor(
      [&] {
        auto o = a.api().call("GET", opPath);
        return o.ok() && o->value("status", "") == "cancelled";
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(a.vm("m3")["state"], "stopped");
  EXPECT_EQ(sha256(diskOf(a, "m3")), sum);
  EXPECT_TRUE(noIncoming(b));
  EXPECT_EQ(b.cli({"vm", "show", "m3"}).code, 3);
}

}  // namespace
}  // namespace paddock::test
