// Live migration between two real paddockd: a guest that keeps writing numbered records to its
// disk while its disk is mirrored and its memory sent arrives with every record, its writer
// still running; a target that dies or a cancel leaves the guest running on the source and
// nothing on the target.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <regex>

#include "common/files.h"
#include "integration/guest_records.h"
#include "integration/harness.h"
#include "integration/migration_pair.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

// 32 MiB of non-zero pages (the disk's 0x6b at 64 MiB) rewritten in a loop, in the background.
constexpr const char* kDirtier =
    "( while :; do dd if=/dev/vda of=/tmp/dirty bs=1M skip=64 count=32 conv=notrunc 2>/dev/null; "
    "done ) >/dev/null 2>&1 & true";

class LiveMigration : public MigrationPair {
 protected:
  // Starts a live migration through the API and waits until it sends memory.
  std::string startMigration(const std::string& vm, int bandwidthMib) {
    auto op = a_->api().call("POST", "/v1/vms/" + vm + "/actions/migrate",
                             {{"to", "b"}, {"live", true}, {"bandwidth_mib", bandwidthMib}});
    EXPECT_TRUE(op.ok()) << (op.ok() ? "" : op.error().message);
    std::string path = "/v1/operations/" + std::to_string(op.ok() ? op->value("id", 0) : 0);
    EXPECT_TRUE(waitFor(
        [&] {
          auto o = a_->api().call("GET", path);
          return o.ok() && o->value("message", "").find("memory:") != std::string::npos;
        },
        60s))
        << "the migration did not reach its memory phase";
    return path;
  }
  std::string waitOperation(const std::string& path) {
    std::string status;
    waitFor(
        [&] {
          auto o = a_->api().call("GET", path);
          status = o.ok() ? o->value("status", "") : "";
          return status != "running" && status != "pending" && !status.empty();
        },
        90s);
    return status;
  }
  // The guest runs on the source as before; the target has nothing of it.
  void expectOnlyOnTheSource(const std::string& vm, int countBefore) {
    EXPECT_EQ(a_->vm(vm)["state"], "running");
    EXPECT_GT(guestCount(*a_, vm), countBefore) << "the writer goes on on the source";
    ASSERT_TRUE(waitFor([&] { return noIncoming(*b_); }, 30s));
    EXPECT_EQ(b_->cli({"vm", "show", vm}).code, 3);
    EXPECT_FALSE(fs::exists(b_->stateDir() + "/run/" + vm)) << "the arriving QEMU's run dir";
  }
};

TEST_F(LiveMigration, ARunningGuestArrivesWithEveryWriteMadeDuringTheCopyAndBack) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  a.createVm("l1", {{"memory_mib", 256}, {"disks", {{{"name", "root"}, {"size_mib", 512}}}}});
  qemuIoWrite(diskOf(a, "l1"), "write -P 0x6b 64M 96M");  // data for the mirror to copy
  a.startVm("l1");
  ASSERT_EQ(guestRun(a, "l1", kWriter), 0);
  ASSERT_TRUE(waitFor([&] { return guestCount(a, "l1") > 5; }, 30s));

  // Refused, nothing changed: bad options, post-copy, cold for a running VM.
  auto garbage = a.cli({"vm", "migrate", "l1", "--to", "b", "--live", "--max-downtime", "soon"});
  EXPECT_EQ(garbage.code, 1) << garbage.err;
  EXPECT_NE(garbage.err.find("--max-downtime"), std::string::npos) << garbage.err;
  auto post =
      a.api().call("POST", "/v1/vms/l1/actions/migrate", {{"to", "b"}, {"post_copy", true}});
  ASSERT_FALSE(post.ok());
  EXPECT_EQ(post.error().field, "live") << "post-copy without live";
  auto cold = a.cli({"vm", "migrate", "l1", "--to", "b"});
  EXPECT_EQ(cold.code, 4) << cold.err;
  EXPECT_EQ(a.vm("l1")["state"], "running");

  pid_t sourcePid = qemuPid(a, "l1");
  ASSERT_GT(sourcePid, 0);
  int before = guestCount(a, "l1");
  auto moved = a.cli({"--json", "vm", "migrate", "l1", "--to", "b", "--live"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  EXPECT_EQ(moved.json()["state"], "running");
  EXPECT_TRUE(moved.json()["live"].get<bool>());
  EXPECT_GE(moved.json()["downtime_ms"].get<std::int64_t>(), 0);
  // The limit QEMU switched at is one of Paddock's steps below the default cap of 300 ms.
  auto limit = moved.json()["downtime_limit_ms"].get<std::uint64_t>();
  EXPECT_TRUE(limit == 20 || limit == 40 || limit == 80 || limit == 160 || limit == 300) << limit;
  EXPECT_GE(moved.json()["disk_bytes"].get<std::uint64_t>(), 512ull << 20);
  std::cout << "live migration: " << moved.json().dump() << "\n";

  EXPECT_EQ(a.cli({"vm", "show", "l1"}).code, 3) << "the source copy is gone";
  EXPECT_TRUE(waitFor([&] { return !processAlive(sourcePid); }, 10s)) << "source QEMU ended";
  EXPECT_FALSE(fs::exists(a.stateDir() + "/disks/l1"));
  EXPECT_EQ(b.vm("l1")["state"], "running");
  EXPECT_NE(b.vm("l1")["runtime"].value("reason", "").find("migrated live"), std::string::npos);
  EXPECT_TRUE(noIncoming(b));
  // The guest's memory came along (its counter and its writer), and it keeps writing there.
  int there = guestCount(b, "l1");
  EXPECT_GE(there, before);
  EXPECT_TRUE(waitFor([&] { return guestCount(b, "l1") > there; }, 20s));

  // And back again; then every record written on both hosts is on the disk.
  auto added = b.cli({"host", "add", "a", "--address", "127.0.0.1:" + std::to_string(a.tcpPort()),
                      "--token-file", a.tokenFile()});
  ASSERT_EQ(added.code, 0) << added.err;
  auto back =
      b.cli({"--json", "vm", "migrate", "l1", "--to", "a", "--live", "--max-downtime", "100ms"});
  ASSERT_EQ(back.code, 0) << back.err;
  EXPECT_LE(back.json()["downtime_limit_ms"].get<std::uint64_t>(), 100u) << "above the cap";
  EXPECT_EQ(a.vm("l1")["state"], "running");
  EXPECT_EQ(b.cli({"vm", "show", "l1"}).code, 3);
  Records records = checkRecords(a, "l1");
  EXPECT_GT(records.written, there);
  EXPECT_EQ(records.bad, 0) << "records lost on the way";
  std::string out;
  ASSERT_EQ(
      guestRun(a, "l1", "dd if=/dev/vda bs=1M skip=100 count=1 2>/dev/null | head -c 6", &out), 0);
  EXPECT_NE(out.find("kkkkkk"), std::string::npos)
      << "the data written before the start (0x6b at 64..160 MiB) is there too: " << out;
  auto events = a.cli({"--json", "events", "--no-follow"});
  EXPECT_NE(events.out.find("vm.migrated"), std::string::npos);
}

TEST_F(LiveMigration, ADeadTargetOrACancelLeavesTheGuestRunningOnTheSourceAndTheTargetClean) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  a.createVm("l2", {{"memory_mib", 256}});
  a.startVm("l2");
  ASSERT_EQ(guestRun(a, "l2", kWriter), 0);
  ASSERT_TRUE(waitFor([&] { return guestCount(a, "l2") > 0; }, 30s));

  // The target's arriving QEMU killed mid-memory (8 MiB/s keeps it there for seconds).
  std::string op = startMigration("l2", 8);
  pid_t arriving = qemuPid(b, "l2");
  ASSERT_GT(arriving, 0);
  ASSERT_EQ(::kill(arriving, SIGKILL), 0);
  EXPECT_EQ(waitOperation(op), "failed");
  expectOnlyOnTheSource("l2", 0);

  // Cancelled mid-memory.
  int count = guestCount(a, "l2");
  op = startMigration("l2", 8);
  ASSERT_TRUE(a.api().call("DELETE", op).ok());
  EXPECT_EQ(waitOperation(op), "cancelled");
  expectOnlyOnTheSource("l2", count);

  // The target's paddockd killed mid-memory: the source notices (no heartbeat) and keeps the
  // guest; the target's restart ends the QEMU it left.
  count = guestCount(a, "l2");
  op = startMigration("l2", 4);
  arriving = qemuPid(b, "l2");
  b.kill9();
  EXPECT_EQ(waitOperation(op), "failed");
  b.start();
  expectOnlyOnTheSource("l2", count);
  EXPECT_TRUE(waitFor([&] { return !processAlive(arriving); }, 10s));
}

// Post-copy: a guest that dirties memory faster than a capped link sends it switches over after
// one pass and fetches the rest from the source while it runs there; nothing is lost.
TEST_F(LiveMigration, PostCopySwitchesABusyGuestOverAndLosesNoWrite) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  a.createVm("p1", {{"memory_mib", 256}, {"disks", {{{"name", "root"}, {"size_mib", 256}}}}});
  qemuIoWrite(diskOf(a, "p1"), "write -P 0x6b 64M 64M");
  a.createVm("p2", {{"memory_mib", 128}});
  a.startVm("p1");
  a.startVm("p2");
  ASSERT_EQ(a.cli({"vm", "pause", "p2"}).code, 0);
  auto paused = a.cli({"vm", "migrate", "p2", "--to", "b", "--live", "--post-copy"});
  EXPECT_EQ(paused.code, 4) << paused.err;
  EXPECT_NE(paused.err.find("post-copy switches a running guest"), std::string::npos) << paused.err;

  ASSERT_EQ(guestRun(a, "p1", kWriter), 0);
  // 32 MiB of non-zero pages rewritten every second: more than a 16 MiB/s link carries.
  ASSERT_EQ(guestRun(a, "p1", kDirtier), 0);
  ASSERT_TRUE(waitFor([&] { return guestCount(a, "p1") > 5; }, 30s));
  int before = guestCount(a, "p1");
  auto moved = a.cli({"--json", "vm", "migrate", "p1", "--to", "b", "--live", "--post-copy",
                      "--bandwidth", "16M"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  std::cout << "post-copy migration: " << moved.json().dump() << "\n";
  EXPECT_TRUE(moved.json()["post_copy"].get<bool>()) << "it switched before memory was sent";
  EXPECT_EQ(b.vm("p1")["state"], "running");
  EXPECT_EQ(a.cli({"vm", "show", "p1"}).code, 3);
  EXPECT_TRUE(noIncoming(b));
  int there = guestCount(b, "p1");
  EXPECT_GT(there, before);
  EXPECT_TRUE(waitFor([&] { return guestCount(b, "p1") > there; }, 20s)) << "it goes on writing";
  EXPECT_EQ(checkRecords(b, "p1").bad, 0) << "records lost in a post-copy migration";

  // Back, and the target's QEMU killed after the switch: there is no way back for the guest
  // (memory split between the hosts), so it stays paused on the source with an error that says
  // so, and the dead target is cleaned up.
  auto added = b.cli({"host", "add", "a", "--address", "127.0.0.1:" + std::to_string(a.tcpPort()),
                      "--token-file", a.tokenFile()});
  ASSERT_EQ(added.code, 0) << added.err;
  ASSERT_EQ(guestRun(b, "p1", kDirtier), 0);
  auto op = b.api().call("POST", "/v1/vms/p1/actions/migrate",
                         {{"to", "a"}, {"live", true}, {"post_copy", true}, {"bandwidth_mib", 8}});
  ASSERT_TRUE(op.ok()) << op.error().message;
  std::string path = "/v1/operations/" + std::to_string(op->value("id", 0));
  ASSERT_TRUE(waitFor(
      [&] {
        auto o = b.api().call("GET", path);
        return o.ok() && o->value("message", "").find("post-copy:") != std::string::npos;
      },
      120s))
      << "no post-copy switch";
  pid_t arriving = qemuPid(a, "p1");
  ASSERT_GT(arriving, 0);
  ASSERT_EQ(::kill(arriving, SIGKILL), 0);
  std::string status, out;
  ASSERT_TRUE(waitFor(
      [&] {
        auto o = b.api().call("GET", path);
        status = o.ok() ? o->value("status", "") : "";
        if (status == "failed") out = o->dump();
        return status == "failed" || status == "succeeded";
      },
      60s));
  EXPECT_EQ(status, "failed");
  EXPECT_NE(out.find("post-copy broke after the switch"), std::string::npos) << out;
  EXPECT_EQ(b.vm("p1")["state"], "paused") << "never resumed with half its memory elsewhere";
  EXPECT_TRUE(waitFor([&] { return noIncoming(a); }, 30s));
  EXPECT_EQ(a.cli({"vm", "show", "p1"}).code, 3);
  EXPECT_FALSE(fs::exists(a.stateDir() + "/run/p1"));
}

// Maintenance: every running and paused VM leaves, a stopped one stays; then one guest goes back
// and forth ten times with its writer running and no record lost.
// The migration port an arriving QEMU listens on (its -incoming tcp:HOST:PORT), or 0.
int incomingPort(pid_t qemu) {
  auto cmdline = readFile("/proc/" + std::to_string(qemu) + "/cmdline");
  if (!cmdline) return 0;
  std::smatch m;
  std::string text = *cmdline;
  std::replace(text.begin(), text.end(), '\0', ' ');
  if (!std::regex_search(text, m, std::regex(R"(-incoming tcp:[^ ]*:([0-9]+))"))) return 0;
  return std::stoi(m[1]);
}

TEST_F(LiveMigration, APostCopyStreamCutAfterTheSwitchIsSentAgainAndLosesNoWrite) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  a.createVm("r1", {{"memory_mib", 256}, {"disks", {{{"name", "root"}, {"size_mib", 256}}}}});
  a.startVm("r1");
  ASSERT_EQ(guestRun(a, "r1", kWriter), 0);
  ASSERT_EQ(guestRun(a, "r1", kDirtier), 0);
  ASSERT_TRUE(waitFor([&] { return guestCount(a, "r1") > 5; }, 30s));
  int before = guestCount(a, "r1");
  auto op = a.api().call("POST", "/v1/vms/r1/actions/migrate",
                         {{"to", "b"}, {"live", true}, {"post_copy", true}, {"bandwidth_mib", 8}});
  ASSERT_TRUE(op.ok()) << op.error().message;
  std::string path = "/v1/operations/" + std::to_string(op->value("id", 0));
  // The MiB of memory the target still lacks, once the guest runs there; -1 before.
  auto leftToFetch = [&] {
    auto o = a.api().call("GET", path);
    std::smatch m;
    std::string message = o.ok() ? o->value("message", "") : "";
    if (!std::regex_search(message, m, std::regex(R"(post-copy: .* ([0-9.]+) MiB)"))) return -1.0;
    return std::stod(m[1]);
  };
  double atSwitch = -1;
  ASSERT_TRUE(waitFor([&] { return (atSwitch = leftToFetch()) >= 0; }, 120s))
      << "no post-copy switch";
  // QEMU can resume a post-copy stream only once the guest runs on the target (before that, the
  // target is still loading device state and a break ends it): wait until pages flow.
  ASSERT_TRUE(waitFor([&] { return leftToFetch() < atSwitch - 8; }, 30s)) << atSwitch;
  // Cut the stream as a dropped link would: both ends of its TCP connection reset.
  int port = incomingPort(qemuPid(b, "r1"));
  ASSERT_GT(port, 0);
  auto cut = runCommand(
      {"ss", "-tK", "state", "established",
       "( dport = :" + std::to_string(port) + " or sport = :" + std::to_string(port) + " )"},
      10s);
  ASSERT_TRUE(cut && cut->exitCode == 0) << (cut ? cut->err : cut.error().message);
  ASSERT_NE(cut->out.find(":" + std::to_string(port)), std::string::npos)
      << "no connection was cut:\n"
      << cut->out;
  std::string status;
  nlohmann::json done;
  ASSERT_TRUE(waitFor(
      [&] {
        auto o = a.api().call("GET", path);
        status = o.ok() ? o->value("status", "") : "";
        if (o.ok()) done = *o;
        return status == "failed" || status == "succeeded";
      },
      180s));
  ASSERT_EQ(status, "succeeded") << done.dump();
  std::cout << "post-copy migration with a cut: " << done["result"].dump() << "\n";
  EXPECT_GE(done["result"].value("post_copy_recoveries", 0), 1) << done.dump();
  EXPECT_TRUE(done["result"].value("post_copy", false));
  EXPECT_EQ(b.vm("r1")["state"], "running");
  EXPECT_EQ(a.cli({"vm", "show", "r1"}).code, 3);
  EXPECT_TRUE(noIncoming(b));
  int there = guestCount(b, "r1");
  EXPECT_GT(there, before);
  EXPECT_TRUE(waitFor([&] { return guestCount(b, "r1") > there; }, 20s)) << "it goes on writing";
  EXPECT_EQ(checkRecords(b, "r1").bad, 0) << "records lost across the cut";
  auto events = b.cli({"--json", "events", "--no-follow"});
  EXPECT_NE(events.out.find("vm.migration.recovering"), std::string::npos);
}

TEST_F(LiveMigration, AnEvacuatedHostSendsEveryLiveVmAwayAndAGuestSurvivesTenRoundTrips) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  for (const char* vm : {"e1", "e2", "e3", "e4"}) a.createVm(vm, {{"memory_mib", 128}});
  for (const char* vm : {"e1", "e2", "e3"}) a.startVm(vm);
  ASSERT_EQ(a.cli({"vm", "pause", "e3"}).code, 0);
  ASSERT_EQ(guestRun(a, "e1", kWriter), 0);
  ASSERT_TRUE(waitFor([&] { return guestCount(a, "e1") > 0; }, 30s));

  // Refused, nothing moved: another host's name, an unknown peer, a bad option.
  auto other = a.cli({"host", "evacuate", "not-this-host", "--to", "b"});
  EXPECT_EQ(other.code, 1) << other.err;
  EXPECT_NE(other.err.find("is not this host"), std::string::npos) << other.err;
  EXPECT_EQ(a.cli({"host", "evacuate", "local", "--to", "nowhere"}).code, 3);
  auto bad = a.api().call("POST", "/v1/host/actions/evacuate", {{"to", "b"}, {"live", true}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "live");
  auto zero =
      a.api().call("POST", "/v1/host/actions/evacuate", {{"to", "b"}, {"max_downtime_ms", 0}});
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().field, "max_downtime_ms");
  EXPECT_EQ(b.cli({"vm", "show", "e1"}).code, 3);

  auto evacuated = a.cli({"--json", "host", "evacuate", "local", "--to", "b"});
  ASSERT_EQ(evacuated.code, 0) << evacuated.err;
  EXPECT_EQ(evacuated.json()["moved"].size(), 3u) << evacuated.out;
  EXPECT_EQ(b.vm("e1")["state"], "running");
  EXPECT_EQ(b.vm("e2")["state"], "running");
  EXPECT_EQ(b.vm("e3")["state"], "paused") << "a paused VM arrives paused";
  for (const char* vm : {"e1", "e2", "e3"}) EXPECT_EQ(a.cli({"vm", "show", vm}).code, 3) << vm;
  EXPECT_EQ(a.vm("e4")["state"], "stopped") << "a stopped VM stays";
  EXPECT_EQ(b.cli({"vm", "show", "e4"}).code, 3);
  EXPECT_TRUE(noIncoming(b));

  auto added = b.cli({"host", "add", "a", "--address", "127.0.0.1:" + std::to_string(a.tcpPort()),
                      "--token-file", a.tokenFile()});
  ASSERT_EQ(added.code, 0) << added.err;
  TestDaemon* from = &b;
  TestDaemon* to = &a;
  int last = guestCount(b, "e1");
  for (int trip = 0; trip < 10; ++trip) {
    for (int leg = 0; leg < 2; ++leg) {
      auto moved = from->cli({"vm", "migrate", "e1", "--to", to == &a ? "a" : "b", "--live"});
      ASSERT_EQ(moved.code, 0) << "round trip " << trip << ": " << moved.err;
      std::swap(from, to);
    }
    ASSERT_EQ(b.vm("e1")["state"], "running");
    ASSERT_EQ(kernelTrouble(b, "e1"), "") << "round trip " << trip << ": the guest's kernel";
    int now = guestCount(b, "e1");
    ASSERT_GE(now, last) << "round trip " << trip << ": the guest's memory came back";
    last = now;
  }
  EXPECT_TRUE(waitFor([&] { return guestCount(b, "e1") > last; }, 20s)) << "it still writes";
  EXPECT_EQ(checkRecords(b, "e1").bad, 0) << "records lost in 20 migrations";
  EXPECT_TRUE(noIncoming(a));
  EXPECT_TRUE(noIncoming(b));
  EXPECT_FALSE(fs::exists(a.stateDir() + "/run/e1"));
}

// QMP by hand on a VM's monitor while no paddockd holds it: migrate its whole state to nowhere
// ("exec:cat >/dev/null"), so QEMU ends in "postmigrate" as after a live migration whose
// paddockd died before it could end the source's QEMU. Prints QEMU's status at the end.
constexpr const char* kSendAway = R"(
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m: return m
def cmd(c, a=None):
    f.write(json.dumps({"execute": c, "arguments": a or {}}) + "\n"); f.flush(); return reply()
reply(); cmd("qmp_capabilities"); cmd("migrate", {"uri": "exec:cat >/dev/null"})
for _ in range(600):
    if cmd("query-migrate")["return"].get("status") in ("completed", "failed"): break
    time.sleep(0.05)
print("STATUS=" + cmd("query-status")["return"]["status"])
)";

// The source's paddockd dies after the target took the VM over and before it ended its own QEMU:
// restarted, it must not offer a guest that runs elsewhere to be resumed a second time here.
TEST_F(LiveMigration, AQemuThatSentItsStateAwayIsNeverResumedTwiceAndEndsWhenAPeerRunsIt) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  for (const char* vm : {"g1", "g2"}) {
    a.createVm(vm, {{"memory_mib", 128}});
    a.startVm(vm);
  }
  pid_t g1 = qemuPid(a, "g1");
  a.stop();  // the VMs keep running
  for (const char* vm : {"g1", "g2"}) {
    auto sent = runCommand({"python3", "-c", kSendAway, a.stateDir() + "/run/" + vm + "/qmp.sock"});
    ASSERT_TRUE(sent.ok() && sent->exitCode == 0) << (sent.ok() ? sent->err : "");
    ASSERT_NE(sent->out.find("STATUS=postmigrate"), std::string::npos) << sent->out;
  }
  a.start();
  for (const char* vm : {"g1", "g2"}) {
    EXPECT_EQ(a.vm(vm)["state"], "paused");
    EXPECT_NE(a.vm(vm)["runtime"].value("reason", "").find("sent to another host"),
              std::string::npos);
  }
  auto refused = a.cli({"vm", "resume", "g1"});
  EXPECT_EQ(refused.code, 4) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_EQ(a.vm("g1")["state"], "paused");

  // The operator checked: the guest runs nowhere else, so it continues here.
  auto forced = a.cli({"vm", "resume", "g2", "--force"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(a.vm("g2")["state"], "running");
  std::string out;
  EXPECT_EQ(guestRun(a, "g2", "echo alive", &out), 0) << out;

  // g1 runs on b (the same definition): at its next start a ends its copy; g2 stays.
  nlohmann::json spec = a.vm("g1");
  for (const char* runtimeOnly : {"state", "runtime", "created_at", "updated_at", "nic_stats"})
    spec.erase(runtimeOnly);
  auto made = b.api().call("POST", "/v1/vms", spec);
  ASSERT_TRUE(made.ok()) << made.error().message;
  b.startVm("g1");
  a.stop();
  a.start();
  EXPECT_TRUE(waitFor(
      [&] {
        return a.cli({"vm", "show", "g1"}).code == 3;
      },
      30s))
      << "a still has g1 while b runs it";
  EXPECT_TRUE(waitFor([&] { return !processAlive(g1); }, 10s)) << "its QEMU here ended";
  EXPECT_EQ(a.vm("g2")["state"], "running");
  EXPECT_EQ(b.vm("g1")["state"], "running");
}

// A guest that rewrites memory all the time, migrated with a capped link so that every move
// takes several memory passes, back and forth: it must arrive whole each time. Under TCG with a
// RAM size in 256 KiB multiples QEMU 7.2 lost writes here and the guest's kernel crashed within
// one to four moves (see qemuMemorySize).
TEST_F(LiveMigration, ABusyGuestArrivesWholeAfterMovesOfManyMemoryPasses) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  a.createVm("m1", {{"memory_mib", 128}});
  a.startVm("m1");
  ASSERT_EQ(guestRun(a, "m1", kWriter), 0);
  ASSERT_EQ(guestRun(a, "m1",
                     "( while :; do dd if=/dev/zero of=/tmp/dirty bs=1M count=24 conv=notrunc "
                     "2>/dev/null; done ) >/dev/null 2>&1 & true"),
            0);
  ASSERT_TRUE(waitFor([&] { return guestCount(a, "m1") > 0; }, 30s));
  auto added = b.cli({"host", "add", "a", "--address", "127.0.0.1:" + std::to_string(a.tcpPort()),
                      "--token-file", a.tokenFile()});
  ASSERT_EQ(added.code, 0) << added.err;
  TestDaemon* from = &a;
  TestDaemon* to = &b;
  int last = 0;
  std::uint64_t widestLimit = 0;
  for (int move = 0; move < 6; ++move) {
    auto moved = from->cli({"--json", "vm", "migrate", "m1", "--to", to == &a ? "a" : "b", "--live",
                            "--bandwidth", "64M"});
    ASSERT_EQ(moved.code, 0) << "move " << move << ": " << moved.err;
    widestLimit = std::max(widestLimit, moved.json()["downtime_limit_ms"].get<std::uint64_t>());
    std::swap(from, to);
    int now = guestCount(*from, "m1");
    ASSERT_EQ(kernelTrouble(*from, "m1"), "") << "move " << move << ": the guest's kernel";
    ASSERT_GT(now, last) << "move " << move << ": the guest answers and goes on writing";
    last = now;
  }
  EXPECT_GE(widestLimit, 40u) << "some move took three or more passes (the limit steps up)";
  EXPECT_EQ(checkRecords(*from, "m1").bad, 0);
}

}  // namespace
}  // namespace paddock::test
