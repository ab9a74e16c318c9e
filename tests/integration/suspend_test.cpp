// Suspend and resume against a real paddockd and a real guest: the running state goes to a file,
// QEMU ends, and the guest continues from it, across a daemon restart.
#include <thread>

#include <gtest/gtest.h>

#include "common/files.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

// The guest's uptime in seconds and its counter, read from its console; -1 when unreadable.
// Each call asks for a new tag computed in the guest, so the console's replay of earlier output
// (and the echo of the command itself) never matches.
std::pair<double, int> uptimeAndCounter(TestDaemon& d, const std::string& vm) {
  static int calls = 0;
  int n = ++calls;
  auto r = d.cli({"vm", "console", vm},
                 "echo q$((" + std::to_string(n) +
                     "+1000))=$(cut -d' ' -f1 /proc/uptime)=$(cat /tmp/count 2>/dev/null)=\n");
  std::string tag = "q" + std::to_string(n + 1000) + "=";
  auto at = r.out.rfind(tag);
  if (at == std::string::npos) return {-1, -1};
  auto mid = r.out.find('=', at + tag.size());
  auto end = mid == std::string::npos ? mid : r.out.find('=', mid + 1);
  if (end == std::string::npos) return {-1, -1};
  double up = -1;
  int count = -1;
  try {
    up = std::stod(r.out.substr(at + tag.size(), mid - at - tag.size()));
    count = std::stoi(r.out.substr(mid + 1, end - mid - 1));
  } catch (...) {
  }
  return {up, count};
}

TEST(Suspend, StateSurvivesADaemonRestartAndTheGuestContinues) {
  TestDaemon d;
  d.createVm("sus", {{"memory_mib", 192}});
  d.startVm("sus");
  d.cli({"vm", "console", "sus"},
        "(i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 1; done) &\n");
  ASSERT_TRUE(waitFor([&] { return uptimeAndCounter(d, "sus").second >= 2; }, 20s));
  pid_t qemu = d.vm("sus")["runtime"]["pid"].get<pid_t>();
  auto [upBefore, countBefore] = uptimeAndCounter(d, "sus");

  auto suspended = d.cli({"--json", "vm", "suspend", "sus"});
  ASSERT_EQ(suspended.code, 0) << suspended.err;
  EXPECT_EQ(suspended.json()["state"], "suspended");
  EXPECT_TRUE(waitFor([&] { return !processAlive(qemu); }, 10s)) << "QEMU still runs";
  std::string state = d.stateDir() + "/disks/sus/suspend.state";
  EXPECT_TRUE(pathExists(state));
  EXPECT_EQ(d.cli({"vm", "edit", "sus", "--memory", "256M"}).code, 4)
      << "hardware must not change under a saved state";
  EXPECT_EQ(d.cli({"vm", "snapshot", "create", "sus", "x"}).code, 4);

  // Across a daemon restart: still suspended, and resume continues the same guest.
  d.stop();
  d.start();
  EXPECT_EQ(d.vm("sus")["state"], "suspended");
  auto resumed = d.cli({"--json", "vm", "resume", "sus"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(resumed.json()["state"], "running");
  EXPECT_FALSE(pathExists(state)) << "the saved state is consumed by the resume";
  auto [up, count] = uptimeAndCounter(d, "sus");
  ASSERT_GE(count, countBefore) << "the guest lost its processes: it booted afresh";
  // Guest time stood still while suspended: uptime goes on from where it was, it did not restart.
  EXPECT_GE(up, upBefore);
  EXPECT_LT(up, upBefore + 10) << "guest time ran on while suspended";
  EXPECT_TRUE(waitFor([&] { return uptimeAndCounter(d, "sus").second > count; }, 10s));

  // A second suspend, then stop: the saved state is discarded and the next start boots.
  ASSERT_EQ(d.cli({"vm", "suspend", "sus"}).code, 0);
  auto discarded = d.cli({"--json", "vm", "stop", "sus"});
  ASSERT_EQ(discarded.code, 0) << discarded.err;
  EXPECT_EQ(discarded.json()["state"], "stopped");
  EXPECT_FALSE(pathExists(state));
  EXPECT_EQ(d.cli({"vm", "suspend", "sus"}).code, 4) << "a stopped VM cannot be suspended";
  d.startVm("sus");
  EXPECT_EQ(uptimeAndCounter(d, "sus").second, -1) << "a fresh boot has no counter";
  d.forceStopAll();
}

// paddockd killed while a suspend writes the state: after the restart no half-written file is
// left, and the guest goes on from wherever the suspend got to (suspended, or paused in its QEMU).
TEST(Suspend, KillingTheDaemonMidSuspendLosesNothing) {
  TestDaemon d;
  d.createVm("cut", {{"memory_mib", 384}});
  d.startVm("cut");
  d.cli({"vm", "console", "cut"},
        "dd if=/dev/urandom of=/tmp/fill bs=1M count=96 2>/dev/null; "
        "(i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 1; done) &\n");
  ASSERT_TRUE(waitFor([&] { return uptimeAndCounter(d, "cut").second >= 2; }, 60s));
  int before = uptimeAndCounter(d, "cut").second;
  auto op = d.api().call("POST", "/v1/vms/cut/actions/suspend", nlohmann::json::object());
  ASSERT_TRUE(op) << op.error().message;
  std::this_thread::sleep_for(150ms);
  d.kill9();
  d.start();
  std::string state = d.vm("cut").value("state", "");
  std::printf("after the kill: %s\n", state.c_str());
  EXPECT_TRUE(state == "suspended" || state == "paused" || state == "running") << state;
  EXPECT_FALSE(pathExists(d.stateDir() + "/disks/cut/suspend.state.partial"));
  if (state != "running") {
    ASSERT_EQ(d.cli({"vm", "resume", "cut"}).code, 0);
  }
  EXPECT_EQ(d.vm("cut")["state"], "running");
  int after = uptimeAndCounter(d, "cut").second;
  EXPECT_GE(after, before) << "the guest lost its processes";
  EXPECT_TRUE(waitFor([&] { return uptimeAndCounter(d, "cut").second > after; }, 10s));
  d.forceStopAll();
}

}  // namespace
}  // namespace paddock::test
