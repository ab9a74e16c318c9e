// Resource control on real guests: CPU caps, shares, dedicated CPUs, the balloon, and bad input.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "http/http_client.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"
#include "integration/proc_helpers.h"
#include "services/network/host_names.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class Resources : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: resource control needs root (cgroups)";
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
      GTEST_SKIP() << "SKIPPED: these tests pin VMs to CPU 1 and need two CPUs";
    d_ = std::make_unique<TestDaemon>();
  }

  pid_t startBusy(const std::string& name) {
    auto& d = *d_;
    d.createVm(name, {{"memory_mib", 128}});
    d.startVm(name);
    std::string out;
    EXPECT_EQ(guestRun(d, name, "(while :; do :; done) & true", &out), 0) << out;
    return d.vm(name)["runtime"].value("pid", 0);
  }

  std::unique_ptr<TestDaemon> d_;
};

TEST_F(Resources, ACpuLimitCapsABusyVmLiveAndStaysOverARestart) {
  auto& d = *d_;
  pid_t pid = startBusy("capped");
  ASSERT_GT(pid, 0);
  EXPECT_GT(cpuPercent({pid}, 3s)[0], 50) << "the guest's busy loop should use a CPU";
  auto set = d.cli({"vm", "set", "capped", "--cpu-limit", "0.25"});
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_NE(set.out.find("cpu_limit 0.25"), std::string::npos) << set.out;
  double capped = cpuPercent({pid}, 4s)[0];
  EXPECT_LT(capped, 30) << "a 25 % cap";
  EXPECT_GT(capped, 10);
  // Persisted, and applied again on the next start.
  EXPECT_EQ(d.vm("capped")["resources"]["cpu_limit"], 0.25);
  ASSERT_EQ(d.cli({"vm", "stop", "capped"}).code, 0);
  pid = startBusy("capped2");  // a second VM is uncapped
  EXPECT_GT(cpuPercent({pid}, 2s)[0], 50);
  d.startVm("capped");
  std::string out;
  ASSERT_EQ(guestRun(d, "capped", "(while :; do :; done) & true", &out), 0) << out;
  pid_t again = d.vm("capped")["runtime"].value("pid", 0);
  EXPECT_LT(cpuPercent({again}, 4s)[0], 30);
  // Removing the cap lets it run free again.
  ASSERT_EQ(d.cli({"vm", "set", "capped", "--cpu-limit", "0"}).code, 0);
  EXPECT_GT(cpuPercent({again}, 3s)[0], 35);
}

TEST_F(Resources, SharesTwoToOneOnOneCpuSplitItTwoToOne) {
  auto& d = *d_;
  pid_t heavy = startBusy("heavy");
  pid_t light = startBusy("light");
  ASSERT_EQ(d.cli({"vm", "set", "heavy", "--cpus", "1", "--cpu-shares", "2000"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "set", "light", "--cpus", "1", "--cpu-shares", "1000"}).code, 0);
  std::this_thread::sleep_for(1s);
  auto use = cpuPercent({heavy, light}, 8s);
  ASSERT_GT(use[1], 5) << "light got no CPU at all";
  double ratio = use[0] / use[1];
  EXPECT_GT(ratio, 1.6) << use[0] << " % vs " << use[1] << " %";
  EXPECT_LT(ratio, 2.4) << use[0] << " % vs " << use[1] << " %";
  EXPECT_LT(use[0] + use[1], 115) << "both are confined to CPU 1";
}

TEST_F(Resources, ADedicatedCpuRunsOnlyItsVmAndCannotBeDedicatedTwice) {
  auto& d = *d_;
  d.createVm("owner", {{"memory_mib", 128}});
  d.createVm("tenant", {{"memory_mib", 128}});
  ASSERT_EQ(d.cli({"vm", "set", "owner", "--cpus", "1", "--dedicate", "on"}).code, 0);
  d.startVm("owner");
  d.startVm("tenant");
  pid_t owner = d.vm("owner")["runtime"].value("pid", 0);
  pid_t tenant = d.vm("tenant")["runtime"].value("pid", 0);
  // The owner's vCPU thread runs on CPU 1 only; the other VM keeps off CPU 1.
  std::string tasks = "/proc/" + std::to_string(owner) + "/task/";
  bool pinned = false;
  auto threads = d.inNetns({"ls", tasks});
  std::istringstream in(threads.out);
  for (std::string tid; in >> tid;) {
    auto commText = readFile(tasks + tid + "/comm");
    std::string comm = commText ? *commText : "";
    if (comm.rfind("CPU ", 0) == 0) {
      EXPECT_EQ(statusField(tasks + tid + "/status", "Cpus_allowed_list"), "1") << comm;
      pinned = true;
    }
  }
  EXPECT_TRUE(pinned) << "no vCPU thread found in " << tasks;
  EXPECT_EQ(statusField("/proc/" + std::to_string(tenant) + "/status", "Cpus_allowed_list"), "0");

  ASSERT_EQ(d.cli({"vm", "create", "rival", "--memory", "128M"}).code, 0);
  auto rival = d.cli({"vm", "set", "rival", "--cpus", "1", "--dedicate", "on"});
  EXPECT_NE(rival.code, 0);
  EXPECT_NE(rival.err.find("CPU 1 is already dedicated to VM 'owner'"), std::string::npos)
      << rival.err;
  EXPECT_FALSE(d.vm("rival")["resources"].value("dedicate", true));

  // Stopped VMs lose their groups, and a daemon that stops with none left removes its root.
  bool v2 = pathExists("/sys/fs/cgroup/cgroup.controllers");
  std::string root = std::string(v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu") + "/paddock-" +
                     HostNames(d.stateDir()).prefix();
  EXPECT_TRUE(pathExists(root + "/owner"));
  d.forceStopAll();
  EXPECT_FALSE(pathExists(root + "/owner"));
  d.stop();
  EXPECT_FALSE(pathExists(root)) << "cgroup root left behind";
  d.start();
}

TEST_F(Resources, ABalloonTargetShrinksTheGuestsMemory) {
  auto& d = *d_;
  d.createVm("squeezed", {{"memory_mib", 256}});
  d.startVm("squeezed");
  auto memTotalKb = [&] {
    std::string out;
    guestRun(d, "squeezed", "grep MemTotal /proc/meminfo", &out);
    auto at = out.rfind("MemTotal:");
    return at == std::string::npos ? -1L : std::stol(out.substr(at + 9));
  };
  long before = memTotalKb();
  ASSERT_GT(before, 128 * 1024);
  auto set = d.cli({"vm", "set", "squeezed", "--balloon", "128M"});
  ASSERT_EQ(set.code, 0) << set.err;
  long after = before;
  ASSERT_TRUE(waitFor(
      [&] {
        after = memTotalKb();
        return after > 0 && after < 140 * 1024;
      },
      20s))
      << "MemTotal " << before << " kB → " << after << " kB";
  ASSERT_EQ(d.cli({"vm", "set", "squeezed", "--balloon", "off"}).code, 0);
  ASSERT_TRUE(waitFor([&] { return memTotalKb() > 200 * 1024; }, 20s));
}

TEST_F(Resources, ADiskWriteLimitHoldsTheGuestsWritesToIt) {
  auto& d = *d_;
  d.createVm("slowdisk", {{"memory_mib", 128}, {"disks", {{{"name", "data"}, {"size_mib", 64}}}}});
  d.startVm("slowdisk");
  // 4 MiB written through to the disk; the guest reports the seconds it took.
  auto writeSeconds = [&] {
    return guestSeconds(d, "slowdisk",
                        "dd if=/dev/zero of=/dev/vda bs=64k count=64 oflag=direct conv=fsync "
                        "2>/dev/null");
  };
  double free = writeSeconds();
  ASSERT_GT(free, 0);
  auto set = d.cli({"vm", "set", "slowdisk", "--disk-limit", "data:write_bps=1M"});
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(d.vm("slowdisk")["resources"]["disk_limits"]["data"]["write_bps"], 1048576);
  double limited = writeSeconds();
  // 4 MiB at no more than 1.2 MB/s takes at least 3.5 s.
  EXPECT_GE(limited, 4.0 * 1048576 / 1.2e6) << "unlimited " << free << " s";
  ASSERT_EQ(d.cli({"vm", "set", "slowdisk", "--disk-limit", "data:off"}).code, 0);
  EXPECT_LT(writeSeconds(), limited / 2);
  auto ghost = d.cli({"vm", "set", "slowdisk", "--disk-limit", "nope:write_bps=1M"});
  EXPECT_NE(ghost.code, 0);
  EXPECT_NE(ghost.err.find("has no disk 'nope'"), std::string::npos) << ghost.err;
}

TEST_F(Resources, DisksInOneGroupShareTheirBudgetAndABurstIsFastThenLimited) {
  auto& d = *d_;
  d.createVm(
      "grouped",
      {{"memory_mib", 128},
       {"disks", {{{"name", "one"}, {"size_mib", 64}}, {{"name", "two"}, {"size_mib", 64}}}}});
  d.startVm("grouped");
  // The guest writes `mib` MiB to each device at once and reports the seconds it took.
  auto writeSeconds = [&](const std::vector<std::string>& devices, int mib) {
    std::string cmd;
    for (const auto& dev : devices)
      cmd += fmt::format("dd if=/dev/zero of={} bs=64k count={} oflag=direct 2>/dev/null & ", dev,
                         mib * 16);
    return guestSeconds(d, "grouped", cmd + "wait");
  };
  auto set = d.cli({"vm", "set", "grouped", "--disk-limit", "one:write_bps=4M,group=pair",
                    "--disk-limit", "two:write_bps=4M,group=pair"});
  ASSERT_EQ(set.code, 0) << set.err;
  // 8 MiB to each disk: 16 MiB through one 4 MiB/s budget take about 4 s, through a budget each
  // about 2 s.
  double shared = writeSeconds({"/dev/vda", "/dev/vdb"}, 8);
  EXPECT_GE(shared, 3.0);
  // A disk that leaves the group gets a budget of its own again.
  ASSERT_EQ(d.cli({"vm", "set", "grouped", "--disk-limit", "two:off"}).code, 0);
  EXPECT_LT(writeSeconds({"/dev/vdb"}, 2), 1.5) << "two is still limited";

  // A burst of 8 MiB/s for up to 1 s (an 8 MiB budget that refills at 1 MiB/s): 4 MiB go by
  // at once; of 8 MiB more, about half has to wait for the 1 MiB/s limit.
  ASSERT_EQ(d.cli({"vm", "set", "grouped", "--disk-limit",
                   "one:write_bps=1M,write_bps_max=8M,burst_seconds=1,group="})
                .code,
            0);
  EXPECT_EQ(d.vm("grouped")["resources"]["disk_limits"]["one"]["write_bps_max"], 8388608);
  double burst = writeSeconds({"/dev/vda"}, 4);
  EXPECT_LT(burst, 2.0) << "the burst did not happen";
  double after = writeSeconds({"/dev/vda"}, 8);
  EXPECT_GT(after, 2.5) << "the burst went on past its budget (first 4 MiB: " << burst << " s)";

  // Groups hold one budget: different limits in one group are refused and change nothing.
  auto before = d.vm("grouped")["resources"];
  auto clash = d.cli({"vm", "set", "grouped", "--disk-limit", "one:write_bps=1M,group=g",
                      "--disk-limit", "two:write_bps=2M,group=g"});
  EXPECT_NE(clash.code, 0);
  EXPECT_NE(clash.err.find("share group 'g' but have different limits"), std::string::npos)
      << clash.err;
  EXPECT_EQ(d.vm("grouped")["resources"], before);
}

TEST_F(Resources, AnIoWeightLandsInTheVmsBfqWeightLive) {
  auto& d = *d_;
  bool v2 = pathExists("/sys/fs/cgroup/cgroup.controllers");
  std::string root = std::string(v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/blkio") + "/paddock-" +
                     HostNames(d.stateDir()).prefix();
  std::string file = v2 ? "io.bfq.weight" : "blkio.bfq.weight";
  d.createVm("prio", {{"memory_mib", 128}});
  d.startVm("prio");
  auto set = d.cli({"vm", "set", "prio", "--io-weight", "500"});
  if (set.code != 0 && set.err.find("BFQ") != std::string::npos)
    GTEST_SKIP() << "SKIPPED: this kernel has no BFQ I/O weights: " << set.err;
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(d.vm("prio")["resources"]["io_weight"], 500);
  auto weight = readFile(root + "/prio/" + file);
  ASSERT_TRUE(weight.ok()) << root;
  EXPECT_NE(weight->find("500"), std::string::npos) << *weight;
  // The QEMU process (and so its I/O threads) is in that group.
  pid_t pid = d.vm("prio")["runtime"].value("pid", 0);
  auto procs = readFile(root + "/prio/cgroup.procs");
  ASSERT_TRUE(procs.ok());
  EXPECT_NE(procs->find(std::to_string(pid)), std::string::npos) << *procs;
  ASSERT_EQ(d.cli({"vm", "set", "prio", "--io-weight", "0"}).code, 0);
  EXPECT_NE(readFile(root + "/prio/" + file)->find("100"), std::string::npos);
  auto bad = d.cli({"vm", "set", "prio", "--io-weight", "1001"});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("io_weight must be at most 1000"), std::string::npos) << bad.err;
}

TEST_F(Resources, BadValuesAreRefusedNamingTheFieldAndChangeNothing) {
  auto& d = *d_;
  d.createVm("plain", {{"memory_mib", 128}});
  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  auto before = d.vm("plain");
  for (auto [resources, status, field] :
       {std::tuple{json{{"cpu_shares", -5}}, 400, "resources.cpu_shares"},
        std::tuple{json{{"cpu_limit", 64}}, 400, "resources.cpu_limit"},
        std::tuple{json{{"cpus", {7}}}, 400, "resources.cpus"},
        std::tuple{json{{"dedicate", true}}, 400, "resources.dedicate"},
        std::tuple{json{{"balloon_mib", 512}}, 400, "resources.balloon_mib"},
        std::tuple{json{{"latency", "urgent"}}, 400, "resources.latency"},
        std::tuple{json{{"memory_limit_mib", 64}}, 400, "resources.memory_limit_mib"},
        std::tuple{json{{"cpu_reservation", 2}}, 400, "resources.cpu_reservation"},
        std::tuple{json{{"memory_reservation_mib", 4096}}, 400, "resources.memory_reservation_mib"},
        std::tuple{json{{"disk_limits", {{"nope", {{"write_bps", 1}}}}}}, 400,
                   "resources.disk_limits.nope"},
        std::tuple{json{{"nic_limits", {{"02:50:44:00:00:99", {{"rx_bps", 1}}}}}}, 400,
                   "resources.nic_limits.02:50:44:00:00:99"},
        std::tuple{json{{"bogus", 1}}, 400, "resources.bogus"}}) {
    auto r = raw.request("PATCH", "/v1/vms/plain", json{{"resources", resources}}.dump());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, status) << resources.dump() << " → " << r->body;
    EXPECT_NE(r->body.find(std::string("\"field\":\"") + field + "\""), std::string::npos)
        << r->body;
  }
  EXPECT_EQ(d.vm("plain"), before);
  auto cli = d.cli({"vm", "set", "plain", "--balloon", "lots"});
  EXPECT_NE(cli.code, 0);
  EXPECT_NE(cli.err.find("--balloon 'lots'"), std::string::npos) << cli.err;
}

}  // namespace
}  // namespace paddock::test
