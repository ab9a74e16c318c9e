// Snapshots against a real paddockd, real qemu-img and real guests: disk-only and with memory,
// taken running and stopped, reverted, deleted out of the middle of the tree.
#include <algorithm>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "common/subprocess.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

// The guest's counter (a shell loop in RAM, +1 a second), read from its console; -1 if unreadable.
// guestRun reads only what the command prints (no replay of earlier console output).
int counter(TestDaemon& d, const std::string& vm) {
  std::string out;
  if (guestRun(d, vm, "echo count=$(cat /tmp/count)=", &out) != 0) return -1;
  std::smatch m;
  std::regex value("count=([0-9]+)=");
  int found = -1;
  for (auto it = out.cbegin(); std::regex_search(it, out.cend(), m, value); it = m[0].second)
    found = std::stoi(m[1].str());
  return found;
}

std::string state(TestDaemon& d, const std::string& vm) {
  return d.vm(vm).value("state", "");
}

TEST(Snapshots, DiskSnapshotsRevertTheDataAndDeletingTheMiddleKeepsTheRest) {
  TestDaemon d;
  d.createVm("snap", {{"memory_mib", 128}});
  d.startVm("snap");
  guestWriteDiskHead(d, "snap", "FIRST-STATE-", "1");
  auto first = d.cli({"--json", "vm", "snapshot", "create", "snap", "first", "--description",
                      "before the change"});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(first.json()["vm_state"], "running");
  EXPECT_EQ(first.json()["memory"], false);
  guestWriteDiskHead(d, "snap", "SECOND-STATE", "2");
  ASSERT_EQ(d.cli({"vm", "snapshot", "create", "snap", "second"}).code, 0);
  guestWriteDiskHead(d, "snap", "THIRD-STATE-", "3");

  // Reverting to a disk-only snapshot powers the running VM off; the data is back.
  auto reverted = d.cli({"--json", "vm", "snapshot", "revert", "snap", "first"});
  ASSERT_EQ(reverted.code, 0) << reverted.err;
  EXPECT_EQ(reverted.json()["powered_off"], true);
  EXPECT_EQ(state(d, "snap"), "stopped");
  d.startVm("snap");
  EXPECT_NE(guestDiskHead(d, "snap").find("FIRST-STATE-1"), std::string::npos);

  // Taken while stopped, the child of the current one ("first").
  ASSERT_EQ(d.cli({"vm", "stop", "snap"}).code, 0);
  auto cold = d.cli({"--json", "vm", "snapshot", "create", "snap", "cold"});
  ASSERT_EQ(cold.code, 0) << cold.err;
  EXPECT_EQ(cold.json()["vm_state"], "stopped");
  EXPECT_EQ(cold.json()["parent"], "first");
  auto tree = d.cli({"--json", "vm", "snapshot", "list", "snap"}).json();
  ASSERT_EQ(tree["snapshots"].size(), 3u);
  EXPECT_EQ(tree["current"], "cold");
  EXPECT_EQ(tree["snapshots"][0]["name"], "first");
  EXPECT_EQ(tree["snapshots"][0]["children"], (nlohmann::json{"second", "cold"}));

  // Delete "first", the parent of both: its children move up and still hold their data.
  ASSERT_EQ(d.cli({"vm", "snapshot", "delete", "snap", "first"}).code, 0);
  tree = d.cli({"--json", "vm", "snapshot", "list", "snap"}).json();
  ASSERT_EQ(tree["snapshots"].size(), 2u);
  for (const auto& s : tree["snapshots"]) EXPECT_EQ(s["parent"], "") << s.dump();
  ASSERT_EQ(d.cli({"vm", "snapshot", "revert", "snap", "second"}).code, 0);
  d.startVm("snap");
  EXPECT_NE(guestDiskHead(d, "snap").find("SECOND-STATE2"), std::string::npos);
  ASSERT_EQ(d.cli({"vm", "stop", "snap"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "snapshot", "revert", "snap", "cold"}).code, 0);
  d.startVm("snap");
  EXPECT_NE(guestDiskHead(d, "snap").find("FIRST-STATE-1"), std::string::npos);
  d.forceStopAll();
}

TEST(Snapshots, AMemorySnapshotContinuesTheGuestFromWhereItWas) {
  TestDaemon d;
  d.createVm("mem", {{"memory_mib", 128}});
  d.startVm("mem");
  auto loop = d.cli({"vm", "console", "mem"},
                    "(i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 1; done) &\n");
  ASSERT_TRUE(waitFor([&] { return counter(d, "mem") >= 2; }, 20s));
  auto taken = d.cli({"--json", "vm", "snapshot", "create", "mem", "live", "--memory"});
  ASSERT_EQ(taken.code, 0) << taken.err;
  int atSnapshot = counter(d, "mem");
  ASSERT_GE(atSnapshot, 2);
  ASSERT_TRUE(waitFor([&] { return counter(d, "mem") >= atSnapshot + 5; }, 30s));

  // Running: back to the saved point, and the loop goes on from there.
  ASSERT_EQ(d.cli({"vm", "snapshot", "revert", "mem", "live"}).code, 0);
  EXPECT_EQ(state(d, "mem"), "running");
  int after = counter(d, "mem");
  EXPECT_GE(after, atSnapshot - 1);
  EXPECT_LT(after, atSnapshot + 4) << "the counter did not go back to the snapshot";
  EXPECT_TRUE(waitFor([&] { return counter(d, "mem") > after; }, 10s)) << "the loop is not running";

  // Stopped: reverting starts the VM from the saved memory instead of booting it.
  ASSERT_EQ(d.cli({"vm", "stop", "mem"}).code, 0);
  auto cold = d.cli({"--json", "vm", "snapshot", "revert", "mem", "live"});
  ASSERT_EQ(cold.code, 0) << cold.err;
  EXPECT_EQ(state(d, "mem"), "running");
  after = counter(d, "mem");
  EXPECT_GE(after, atSnapshot - 1) << "the guest booted afresh instead of resuming";
  EXPECT_LT(after, atSnapshot + 4);
  d.forceStopAll();
}

TEST(Snapshots, BadRequestsChangeNothing) {
  TestDaemon d;
  d.createVm("a");
  d.createVm("b");
  ASSERT_EQ(d.cli({"vm", "snapshot", "create", "a", "s1"}).code, 0);
  auto other = d.cli({"vm", "snapshot", "revert", "b", "s1"});
  EXPECT_EQ(other.code, 3) << "a snapshot of another VM";
  EXPECT_NE(other.err.find("VM 'b' has no snapshot 's1'"), std::string::npos) << other.err;
  EXPECT_EQ(d.cli({"vm", "snapshot", "create", "a", "s1"}).code, 4);
  auto memory = d.cli({"vm", "snapshot", "create", "a", "m", "--memory"});
  EXPECT_EQ(memory.code, 4);
  EXPECT_NE(memory.err.find("needs a running VM"), std::string::npos) << memory.err;
  auto badName = d.api().call("POST", "/v1/vms/a/snapshots", {{"name", "Bad Name"}});
  ASSERT_FALSE(badName);
  EXPECT_EQ(badName.error().field, "name");
  auto badMemory = d.api().call("POST", "/v1/vms/a/snapshots", {{"name", "x"}, {"memory", "yes"}});
  ASSERT_FALSE(badMemory);
  EXPECT_EQ(badMemory.error().field, "memory");
  EXPECT_EQ(d.cli({"vm", "snapshot", "list", "nope"}).code, 3);
  auto tree = d.cli({"--json", "vm", "snapshot", "list", "a"}).json();
  EXPECT_EQ(tree["snapshots"].size(), 1u);
  EXPECT_EQ(d.cli({"--json", "vm", "snapshot", "list", "b"}).json()["snapshots"].size(), 0u);
  // Deleting the VM takes its snapshot records along.
  ASSERT_EQ(d.cli({"vm", "delete", "a"}).code, 0);
  d.createVm("a");
  EXPECT_EQ(d.cli({"--json", "vm", "snapshot", "list", "a"}).json()["snapshots"].size(), 0u);
}

// Internal snapshot tags of a disk, read while QEMU may have it open.
std::vector<std::string> diskTags(const std::string& path) {
  auto out = runCommand({"qemu-img", "info", "-U", "--output=json", path});
  std::vector<std::string> tags;
  if (!out || out->exitCode != 0) return {"unreadable"};
  auto j = nlohmann::json::parse(out->out, nullptr, false);
  for (const auto& t : j.value("snapshots", nlohmann::json::array()))
    tags.push_back(t.value("name", ""));
  return tags;
}

// paddockd killed while a memory snapshot is being saved (QEMU carries on): after the restart the
// snapshot either has a record and is in the disk, or neither — never a hidden one. The VM runs.
TEST(Snapshots, KillingTheDaemonMidSnapshotLeavesNoSnapshotWithoutARecord) {
  TestDaemon d;
  d.createVm("k", {{"memory_mib", 384}});
  d.startVm("k");
  // Incompressible memory, so the save takes a moment.
  std::string out;
  ASSERT_EQ(
      guestRun(d, "k", "dd if=/dev/urandom of=/tmp/fill bs=1M count=96 2>/dev/null; echo ok", &out),
      0)
      << out;
  auto op = d.api().call("POST", "/v1/vms/k/snapshots", {{"name", "cut"}, {"memory", true}});
  ASSERT_TRUE(op) << op.error().message;
  std::this_thread::sleep_for(150ms);
  d.kill9();
  d.start();
  std::string disk = d.stateDir() + "/disks/k/root.qcow2";
  auto tree = d.cli({"--json", "vm", "snapshot", "list", "k"}).json();
  bool recorded = tree["snapshots"].size() == 1;
  auto tags = diskTags(disk);
  bool inDisk = std::find(tags.begin(), tags.end(), "cut") != tags.end();
  auto log = readFile(d.stateDir() + ".log");
  bool cleaned = log && log->find("removed snapshot cut of VM k") != std::string::npos;
  std::printf("after the kill: record %s, internal snapshot %s, cleaned at start %s\n",
              recorded ? "yes" : "no", inDisk ? "yes" : "no", cleaned ? "yes" : "no");
  EXPECT_EQ(recorded, inDisk) << "record and disk disagree";
  EXPECT_EQ(d.vm("k")["state"], "running");
  // And the name can be used (again) normally.
  if (!recorded) {
    ASSERT_EQ(d.cli({"vm", "snapshot", "create", "k", "cut"}).code, 0);
    EXPECT_EQ(diskTags(disk), (std::vector<std::string>{"cut"}));
  }
  d.forceStopAll();
}

}  // namespace
}  // namespace paddock::test
