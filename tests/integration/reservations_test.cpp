// Reservations with admission control, locked and unshared memory, and the overcommit manager,
// on real guests.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

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

std::uint64_t hostMemoryMib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  in >> key >> kb;
  return kb / 1024;
}

class Reservations : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: CPU reservations need root (cgroups)";
    if (sysconf(_SC_NPROCESSORS_ONLN) != 2)
      GTEST_SKIP() << "SKIPPED: the CPU numbers below are for a two-CPU host";
  }

  // PATCHes resources and returns the HTTP status and body.
  std::pair<int, std::string> patch(TestDaemon& d, const std::string& vm, const json& resources) {
    http::Client raw(http::Endpoint::unixSocket(d.socket()));
    auto r = raw.request("PATCH", "/v1/vms/" + vm, json{{"resources", resources}}.dump());
    if (!r.ok()) return {0, r.error().message};
    return {r->status, r->body};
  }
};

TEST_F(Reservations, CpuReservationsBeyondTheHostAreRefusedAndHonouredUnderContention) {
  TestDaemon d;
  d.createVm("big", {{"vcpus", 2}, {"memory_mib", 128}, {"resources", {{"cpu_reservation", 1.5}}}});
  d.createVm("small", {{"memory_mib", 128}, {"resources", {{"cpu_reservation", 1}}}});
  d.createVm("plain", {{"memory_mib", 128}});
  d.startVm("big");
  // 1.5 + 1 of 2 CPUs: refused, and nothing runs.
  auto refused = d.cli({"vm", "start", "small"});
  EXPECT_EQ(refused.code, 4) << refused.err;  // conflict
  EXPECT_NE(refused.err.find("cannot reserve 1 CPUs for VM 'small': 1.5 of the host's 2 CPUs "
                             "are reserved by running VMs (by big)"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(d.vm("small")["state"], "stopped");
  EXPECT_EQ(d.vm("small")["runtime"].value("pid", 0), 0);
  // A running VM cannot raise its reservation past the host either, and keeps what it had.
  d.startVm("plain");
  auto [status, body] = patch(d, "plain", {{"cpu_reservation", 1}});
  EXPECT_EQ(status, 409) << body;
  EXPECT_NE(body.find("\"field\":\"resources.cpu_reservation\""), std::string::npos) << body;
  EXPECT_EQ(d.vm("plain")["resources"]["cpu_reservation"], 0.0);

  // Under contention the reservation holds: big's two busy vCPUs get at least 1.5 of the two
  // CPUs against plain's one busy vCPU (equal weights would split them 1:1).
  std::string out;
  ASSERT_EQ(guestRun(d, "big", "(while :; do :; done) & (while :; do :; done) & true", &out), 0)
      << out;
  ASSERT_EQ(guestRun(d, "plain", "(while :; do :; done) & true", &out), 0) << out;
  pid_t big = d.vm("big")["runtime"].value("pid", 0);
  pid_t plain = d.vm("plain")["runtime"].value("pid", 0);
  bool v2 = pathExists("/sys/fs/cgroup/cgroup.controllers");
  std::string root = std::string(v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu") + "/paddock-" +
                     HostNames(d.stateDir()).prefix();
  // w / (w + 1000) ≥ 0.75 → w = 3000, in v1's scale 3072 (v2: 300).
  auto weight = readFile(root + "/big/" + (v2 ? "cpu.weight" : "cpu.shares"));
  ASSERT_TRUE(weight.ok()) << "big has no cgroup";
  EXPECT_EQ(std::stoi(*weight), v2 ? 300 : 3072);
  EXPECT_TRUE(pathExists(root + "/plain")) << "plain must be weighed against big: it needs a group";
  auto use = cpuPercent({big, plain}, 8s);
  double bigShare = use[0] / (use[0] + use[1]);
  std::printf("reserved VM %.0f %% of a CPU, the other %.0f %%: share %.2f\n", use[0], use[1],
              bigShare);
  EXPECT_GT(bigShare, 0.66) << use[0] << " % vs " << use[1] << " %";

  // Stopping big gives its reservation back.
  ASSERT_EQ(d.cli({"vm", "stop", "big"}).code, 0);
  d.startVm("small");
  EXPECT_EQ(d.vm("small")["state"], "running");
}

TEST_F(Reservations, MemoryReservationsBeyondTheHostAreRefused) {
  TestDaemon d;
  // Two VMs that each reserve a little more than half of what the host can reserve.
  std::uint64_t half = (hostMemoryMib() - 1024) / 2 + 64;
  json reserve = {{"memory_mib", half}, {"resources", {{"memory_reservation_mib", half}}}};
  d.createVm("first", reserve);
  d.createVm("second", reserve);
  d.startVm("first", false);
  auto refused = d.cli({"vm", "start", "second"});
  EXPECT_EQ(refused.code, 4) << refused.err;
  EXPECT_NE(refused.err.find("cannot reserve " + std::to_string(half) + "M for VM 'second'"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(d.vm("second")["state"], "stopped");
  // A balloon may not take reserved memory.
  auto [status, body] = patch(d, "first", {{"memory_reservation_mib", half}, {"balloon_mib", 64}});
  EXPECT_EQ(status, 400) << body;
  EXPECT_NE(body.find("\"field\":\"resources.balloon_mib\""), std::string::npos) << body;
  // Lowering the running VM's reservation makes room.
  auto [lowered, why] = patch(d, "first", {{"memory_reservation_mib", 64}});
  EXPECT_EQ(lowered, 200) << why;
  d.startVm("second", false);
  EXPECT_NE(d.vm("second")["runtime"].value("pid", 0), 0);
}

TEST_F(Reservations, LockedMemoryIsResidentAndUnsharedMemoryIsKeptFromKsm) {
  TestDaemon d;
  d.createVm("locked", {{"memory_mib", 128}, {"resources", {{"memory_lock", true}}}});
  d.createVm("private", {{"memory_mib", 128}, {"resources", {{"page_sharing", false}}}});
  d.startVm("locked");
  d.startVm("private");
  pid_t locked = d.vm("locked")["runtime"].value("pid", 0);
  // All guest memory is locked in host RAM from the start.
  std::string lck = statusField("/proc/" + std::to_string(locked) + "/status", "VmLck");
  ASSERT_FALSE(lck.empty());
  EXPECT_GE(std::stoul(lck), 128u * 1024) << lck;
  pid_t priv = d.vm("private")["runtime"].value("pid", 0);
  auto cmdline = readFile("/proc/" + std::to_string(priv) + "/cmdline");
  ASSERT_TRUE(cmdline.ok());
  EXPECT_NE(cmdline->find("mem-merge=off"), std::string::npos);
  // Both take effect when QEMU starts: refused on a running VM, naming the field.
  auto [status, body] = patch(d, "locked", {{"memory_lock", false}});
  EXPECT_EQ(status, 409) << body;
  EXPECT_NE(body.find("\"field\":\"resources.memory_lock\""), std::string::npos) << body;
  EXPECT_TRUE(d.vm("locked")["resources"].value("memory_lock", false));
  auto cli = d.cli({"vm", "set", "private", "--page-sharing", "on"});
  EXPECT_NE(cli.code, 0);
  EXPECT_NE(cli.err.find("page_sharing takes effect when QEMU starts"), std::string::npos)
      << cli.err;
}

double liveMib(TestDaemon& d, const std::string& vm, const std::string& metric) {
  auto snap = d.api().call("GET", "/v1/stats/live");
  if (!snap.ok()) return -1;
  const json& v = (*snap)["vms"][vm];
  return v.contains(metric) && v[metric].is_number() ? v[metric].get<double>() / (1 << 20) : -1;
}

TEST(Overcommit, HostMemoryPressureBalloonsTheIdleGuestButNotReservedMemoryAndRelief) {
  TestDaemon d({"--stats-interval", "1s"});
  d.createVm("idle", {{"memory_mib", 256}});
  d.createVm("kept", {{"memory_mib", 256}, {"resources", {{"memory_reservation_mib", 224}}}});
  d.startVm("idle");
  d.startVm("kept");
  // Guests report their memory through the balloon driver a moment after boot.
  ASSERT_TRUE(waitFor([&] { return liveMib(d, "idle", "memory_guest_available_bytes") > 0; }, 20s));

  // The test knob: watermarks above the host's memory make the manager see pressure.
  auto squeeze = d.cli({"host", "overcommit", "on", "--low", "4000G", "--high", "8000G"});
  ASSERT_EQ(squeeze.code, 0) << squeeze.err;
  double idle = 0;
  EXPECT_TRUE(waitFor(
      [&] {
        idle = liveMib(d, "idle", "memory_balloon_bytes");
        return idle > 0 && idle <= 160;
      },
      30s))
      << "idle kept " << idle << "M";
  double kept = liveMib(d, "kept", "memory_balloon_bytes");
  EXPECT_GE(kept, 224) << "the reservation was reclaimed";
  auto status = d.cli({"--json", "host", "overcommit"}).json();
  EXPECT_GT(status["vms"]["idle"].value("reclaimed_mib", 0), 64) << status.dump();
  EXPECT_FALSE(status["vms"].contains("kept") &&
               status["vms"]["kept"].value("target_mib", 256) < 224)
      << status.dump();
  // The guest still works, with less memory.
  std::string out;
  EXPECT_EQ(guestRun(d, "idle", "grep MemTotal /proc/meminfo", &out), 0) << out;

  // Relief: low watermarks give everything back.
  ASSERT_EQ(d.cli({"host", "overcommit", "--low", "1M", "--high", "2M"}).code, 0);
  EXPECT_TRUE(waitFor([&] { return liveMib(d, "idle", "memory_balloon_bytes") >= 255; }, 30s))
      << liveMib(d, "idle", "memory_balloon_bytes");
  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  auto events = raw.request("GET", "/v1/events?follow=false");
  ASSERT_TRUE(events.ok());
  for (const char* action : {"\"action\":\"reclaim\"", "\"action\":\"return\""})
    EXPECT_NE(events->body.find(action), std::string::npos) << action << " event missing";

  // Bad settings change nothing.
  for (auto [body, field] :
       {std::pair{json{{"low_mib", 100}, {"high_mib", 50}}, "high_mib"},
        std::pair{json{{"low_mib", -1}}, "low_mib"}, std::pair{json{{"enabled", "yes"}}, "enabled"},
        std::pair{json{{"watermark", 1}}, "watermark"}}) {
    auto r = raw.request("PUT", "/v1/host/overcommit", body.dump());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find(std::string("\"field\":\"") + field + "\""), std::string::npos)
        << r->body;
  }
  auto after = d.api().call("GET", "/v1/host/overcommit");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["low_mib"], 1);
  // Kept across a restart.
  d.stop();
  d.start();
  EXPECT_EQ(d.api().call("GET", "/v1/host/overcommit").value()["high_mib"], 2);
}

}  // namespace
}  // namespace paddock::test
