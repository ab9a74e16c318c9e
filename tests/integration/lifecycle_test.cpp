// Full VM lifecycle against a real paddockd and real QEMU guests.
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "common/files.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

std::string state(TestDaemon& d, const std::string& vm) {
  return d.vm(vm).value("state", "");
}

TEST(Lifecycle, CreateStartPauseRebootShutdownEditDelete) {
  TestDaemon d;
  auto created = d.cli({"--json", "vm", "create", "life", "--memory", "192M", "--disk", "root=64M",
                        "--description", "lifecycle test"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_EQ(created.json()["state"], "stopped");
  std::string disk = d.stateDir() + "/disks/life/root.qcow2";
  ASSERT_TRUE(pathExists(disk));

  auto started = d.cli({"--json", "vm", "start", "life", "--wait-ready"});
  ASSERT_EQ(started.code, 0) << started.err;
  auto vm = d.vm("life");
  EXPECT_EQ(vm["state"], "running");
  EXPECT_EQ(vm["runtime"]["accel"], "tcg");
  EXPECT_NE(vm["runtime"]["ready_line"].get<std::string>().find("hostname=life"),
            std::string::npos);
  pid_t pid = vm["runtime"]["pid"].get<pid_t>();
  EXPECT_TRUE(processAlive(pid));
  for (const char* f : {"qmp.sock", "console.sock", "qemu.pid"})
    EXPECT_TRUE(pathExists(d.stateDir() + "/run/life/" + f)) << f;

  ASSERT_EQ(d.cli({"vm", "pause", "life"}).code, 0);
  EXPECT_EQ(state(d, "life"), "paused");
  ASSERT_EQ(d.cli({"vm", "resume", "life"}).code, 0);
  EXPECT_EQ(state(d, "life"), "running");

  // A reset reboots the guest: it reports ready again, in the same QEMU process.
  ASSERT_EQ(d.cli({"vm", "reboot", "life"}).code, 0);
  ASSERT_TRUE(
      waitFor([&] { return d.vm("life")["runtime"]["ready_at_ms"].get<int64_t>() != 0; }, 60s));
  EXPECT_EQ(d.vm("life")["runtime"]["pid"].get<pid_t>(), pid);

  // Graceful: the guest powers itself off on the ACPI button, no force needed.
  auto down = d.cli({"--json", "vm", "shutdown", "life", "--timeout", "60s"});
  ASSERT_EQ(down.code, 0) << down.err;
  vm = d.vm("life");
  EXPECT_EQ(vm["state"], "stopped");
  EXPECT_EQ(vm["runtime"]["reason"], "guest powered off");
  EXPECT_TRUE(waitFor([&] { return !processAlive(pid); }, 5s));

  auto edited = d.cli({"--json", "vm", "edit", "life", "--vcpus", "2", "--memory", "256M", "--disk",
                       "root=128M", "--disk", "data=32M"});
  ASSERT_EQ(edited.code, 0) << edited.err;
  EXPECT_EQ(edited.json()["vcpus"], 2);
  EXPECT_EQ(edited.json()["memory_mib"], 256);
  EXPECT_TRUE(pathExists(d.stateDir() + "/disks/life/data.qcow2"));

  d.startVm("life");
  // The guest sees the new CPU count.
  auto out = d.cli({"vm", "console", "life"}, "nproc\n");
  EXPECT_NE(out.out.find("\n2\r"), std::string::npos) << out.out;
  auto stopped = d.cli({"--json", "vm", "stop", "life"});
  ASSERT_EQ(stopped.code, 0) << stopped.err;
  EXPECT_EQ(stopped.json()["state"], "stopped");
  EXPECT_EQ(stopped.json()["runtime"]["reason"], "forced off");

  ASSERT_EQ(d.cli({"vm", "delete", "life"}).code, 0);
  EXPECT_FALSE(pathExists(d.stateDir() + "/disks/life"));
  EXPECT_FALSE(pathExists(d.stateDir() + "/run/life"));
  EXPECT_EQ(d.cli({"vm", "show", "life"}).code, 3);
}

TEST(Lifecycle, FourVmsRunAtOnce) {
  TestDaemon d;
  std::vector<std::string> names = {"quad1", "quad2", "quad3", "quad4"};
  for (const auto& n : names) d.createVm(n, {{"memory_mib", 128}});
  std::vector<std::string> args = {"vm", "start", "--wait-ready"};
  args.insert(args.end(), names.begin(), names.end());
  auto r = d.cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<pid_t> pids;
  for (const auto& n : names) {
    auto vm = d.vm(n);
    EXPECT_EQ(vm["state"], "running") << n;
    EXPECT_NE(vm["runtime"]["ready_line"].get<std::string>().find("hostname=" + n),
              std::string::npos);
    pids.insert(vm["runtime"]["pid"].get<pid_t>());
  }
  EXPECT_EQ(pids.size(), 4u);
  auto list = d.cli({"vm", "list"});
  for (const auto& n : names) EXPECT_NE(list.out.find(n), std::string::npos);
}

TEST(Lifecycle, KilledQemuIsMarkedCrashedWithItsReasonAndAnEvent) {
  TestDaemon d;
  d.createVm("victim");
  d.startVm("victim");
  pid_t pid = d.vm("victim")["runtime"]["pid"].get<pid_t>();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitFor([&] { return state(d, "victim") == "crashed"; }, 10s));
  std::string reason = d.vm("victim")["runtime"]["reason"];
  EXPECT_NE(reason.find("killed by signal 9"), std::string::npos) << reason;
  bool sawEvent = false;
  auto s = d.api().followEvents(0, false, [&](const nlohmann::json& e) {
    if (e["type"] == "vm.state" && e["object"] == "vm/victim" && e["data"]["state"] == "crashed")
      sawEvent = true;
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(sawEvent);
  // A crashed VM can be started again.
  d.startVm("victim");
  EXPECT_EQ(state(d, "victim"), "running");
}

TEST(Lifecycle, ShutdownForcesOffAGuestThatIgnoresThePowerButton) {
  TestDaemon d;
  d.createVm("deaf");
  d.startVm("deaf");
  // Without acpid the guest ignores the ACPI power button.
  d.cli({"vm", "console", "deaf"}, "killall acpid; echo acpid-gone\n");
  auto r = d.cli({"--json", "vm", "shutdown", "deaf", "--timeout", "3s"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["state"], "stopped");
  std::string reason = r.json()["runtime"]["reason"];
  EXPECT_NE(reason.find("forced off after the guest ignored the power button"), std::string::npos)
      << reason;
}

}  // namespace
}  // namespace paddock::test
