// paddockd can die or restart at any time without touching the guests.
#include <signal.h>

#include <gtest/gtest.h>

#include "common/files.h"
#include "common/subprocess.h"

#include <thread>
#include "integration/harness.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

TEST(DaemonRestart, KillNineLeavesVmsRunningAndARestartAdoptsThem) {
  TestDaemon d;
  d.createVm("keeper");
  d.createVm("goner");
  d.createVm("idle");
  d.startVm("keeper");
  d.startVm("goner");
  pid_t keeper = d.vm("keeper")["runtime"]["pid"].get<pid_t>();
  pid_t goner = d.vm("goner")["runtime"]["pid"].get<pid_t>();

  d.kill9();
  EXPECT_TRUE(processAlive(keeper));
  EXPECT_TRUE(processAlive(goner));
  // While the daemon is down one guest dies: the restart must notice.
  kill(goner, SIGKILL);
  ASSERT_TRUE(waitFor([&] { return !processAlive(goner); }, 5s));
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(processAlive(keeper)) << "a dead paddockd took its VM with it";

  d.start();
  auto vm = d.vm("keeper");
  EXPECT_EQ(vm["state"], "running");
  EXPECT_EQ(vm["runtime"]["pid"].get<pid_t>(), keeper);
  EXPECT_EQ(d.vm("goner")["state"], "crashed");
  EXPECT_NE(d.vm("goner")["runtime"]["reason"].get<std::string>().find("vanished"),
            std::string::npos);
  EXPECT_EQ(d.vm("idle")["state"], "stopped");
  EXPECT_FALSE(pathExists(d.stateDir() + "/run/goner/qmp.sock"));

  // The adopted VM is fully controllable: QMP works, the console works, it shuts down cleanly.
  ASSERT_EQ(d.cli({"vm", "pause", "keeper"}).code, 0);
  EXPECT_EQ(d.vm("keeper")["state"], "paused");
  ASSERT_EQ(d.cli({"vm", "resume", "keeper"}).code, 0);
  auto echo = d.cli({"vm", "console", "keeper"}, "echo adopted-$((40+2))\n");
  EXPECT_NE(echo.out.find("adopted-42"), std::string::npos) << echo.out;
  auto down = d.cli({"--json", "vm", "shutdown", "keeper"});
  ASSERT_EQ(down.code, 0) << down.err;
  EXPECT_EQ(down.json()["runtime"]["reason"], "guest powered off");
  EXPECT_TRUE(waitFor([&] { return !processAlive(keeper); }, 5s));
}

TEST(DaemonRestart, GracefulStopLeavesVmsRunning) {
  TestDaemon d;
  d.createVm("stays");
  d.startVm("stays");
  pid_t pid = d.vm("stays")["runtime"]["pid"].get<pid_t>();
  d.stop();
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(processAlive(pid));
  d.start();
  EXPECT_EQ(d.vm("stays")["state"], "running");
  EXPECT_EQ(d.vm("stays")["runtime"]["pid"].get<pid_t>(), pid);
}

TEST(DaemonRestart, ASecondDaemonOnTheSameStateDirIsRefused) {
  TestDaemon d;
  auto r = d.cli({"host", "info"});
  ASSERT_EQ(r.code, 0);
  auto second = runCommand({PADDOCKD_BIN, "--state-dir", d.stateDir()}, std::chrono::seconds(10));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->exitCode, 1);
  EXPECT_NE(second->err.find("another paddockd already uses"), std::string::npos) << second->err;
}

}  // namespace
}  // namespace paddock::test
