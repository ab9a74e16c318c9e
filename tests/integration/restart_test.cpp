// paddockd can die or restart at any time without touching the guests.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "common/files.h"
#include "common/subprocess.h"
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

// A pid that no process has: a child that has exited and been reaped.
pid_t deadPid() {
  auto pid = spawnDetached({"true"}, "/dev/null");
  if (!pid) return 0;
  waitpid(*pid, nullptr, 0);
  return *pid;
}

// The file's content, or "" if it cannot be read.
std::string fileText(const std::string& path) {
  auto text = readFile(path);
  return text ? *text : "";
}

// Writes `content` to `path`, making the directories on the way.
void plant(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  EXPECT_TRUE(writeFileAtomic(path, content).ok()) << path;
}

TEST(DaemonRestart, StartCleansRunDirsOfVmsThatAreGoneAndKeepsTheOthers) {
  TestDaemon d;
  d.createVm("alive");
  d.createVm("resting");
  d.startVm("alive");
  pid_t alive = d.vm("alive")["runtime"]["pid"].get<pid_t>();
  d.stop();

  std::string run = d.stateDir() + "/run";
  // A deleted VM's leftovers, with a pidfile of a process long gone.
  plant(run + "/ghost/qemu.pid", std::to_string(deadPid()) + "\n");
  plant(run + "/ghost/console.log", "old output\n");
  plant(run + "/ghost/qmp.sock", "junk");
  plant(run + "/ghost/nested/junk", "junk");
  // A QEMU nobody owns (a stand-in with QEMU's name), in the run dir of a VM that is gone.
  auto orphan = spawnDetached({"bash", "-c", "exec -a qemu-system-x86_64 sleep 60"}, "/dev/null");
  ASSERT_TRUE(orphan.ok());
  ASSERT_TRUE(waitFor([&] { return processMatches(*orphan, "qemu-system-x86_64"); }, 5s));
  plant(run + "/orphan/qemu.pid", std::to_string(*orphan) + "\n");
  // A stopped VM's run dir with a stale pidfile and socket: the log stays, the rest goes.
  plant(run + "/resting/qemu.pid", std::to_string(deadPid()) + "\n");
  plant(run + "/resting/qmp.sock", "junk");
  plant(run + "/resting/console.log", "last boot\n");

  d.start();
  EXPECT_FALSE(pathExists(run + "/ghost"));
  EXPECT_FALSE(pathExists(run + "/orphan"));
  EXPECT_TRUE(waitFor([&] { return !processAlive(*orphan); }, 5s));
  waitpid(*orphan, nullptr, 0);
  EXPECT_EQ(fileText(run + "/resting/console.log"), "last boot\n");
  EXPECT_FALSE(pathExists(run + "/resting/qemu.pid"));
  EXPECT_FALSE(pathExists(run + "/resting/qmp.sock"));
  EXPECT_EQ(d.vm("resting")["state"], "stopped");
  // The running VM was adopted with its run dir intact.
  EXPECT_EQ(d.vm("alive")["state"], "running");
  EXPECT_EQ(d.vm("alive")["runtime"]["pid"].get<pid_t>(), alive);
  EXPECT_EQ(std::atol(fileText(run + "/alive/qemu.pid").c_str()), alive);
  EXPECT_TRUE(pathExists(run + "/alive/qmp.sock"));
  EXPECT_NE(fileText(run + "/alive/console.log").find("PADDOCK-READY"), std::string::npos);
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
