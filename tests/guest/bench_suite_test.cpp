// `paddock bench run`, the xen-2004 suite's quick profile end to end: 2 trials of every workload
// natively and in a Paddock VM of the debian image, the reports it writes, and a failed workload
// reported as failed.
#include <expat.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/subprocess.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

// `paddock bench ARGS`, in the daemon's network namespace unless `hostNetns` (runs without
// networks; `ip netns exec` mounts a sysfs of its own, without the cgroup file systems, so native
// runs there get no memory limit).
CommandOutput bench(TestDaemon& d, std::vector<std::string> args, std::chrono::minutes timeout,
                    bool hostNetns = false) {
  args.insert(args.begin(), {PADDOCK_BIN, "--host", d.socket(), "bench"});
  if (!hostNetns) args.insert(args.begin(), {"ip", "netns", "exec", d.netns()});
  auto out = runCommand(args, timeout);
  EXPECT_TRUE(out) << (out ? "" : out.error().message);
  return out ? *out : CommandOutput{};
}

nlohmann::json rawJson(const std::string& dir) {
  auto text = readFile(dir + "/raw.json");
  EXPECT_TRUE(text) << dir;
  return text ? nlohmann::json::parse(*text) : nlohmann::json();
}

bool wellFormedXml(const std::string& text) {
  XML_Parser p = XML_ParserCreate(nullptr);
  bool ok = XML_Parse(p, text.data(), static_cast<int>(text.size()), 1) == XML_STATUS_OK;
  XML_ParserFree(p);
  return ok;
}

const std::set<std::string> kMetrics = {
    "cpu_7z_seconds",  "build_seconds",     "osdb_ir_tps",   "osdb_oltp_tps", "dbench_mb_per_s",
    "null_syscall_us", "context_switch_us", "fork_exit_us",  "fork_exec_us",  "mmap_us",
    "page_fault_us",   "ttcp_tx_mbit_s",    "ttcp_rx_mbit_s"};

// paddockd in a network namespace of its own: ttcp's networks, bridges and iperf3 servers, and
// everything else a run makes, stay in there.
class BenchSuite : public NetnsDaemonTest {};

// What a ttcp run may leave behind: iperf3 servers, the paddock target's network (and its
// bridge), the peer's bridge and TAP.
void expectNoNetworkLeft(TestDaemon& d) {
  EXPECT_EQ(d.cli({"--json", "network", "list"}).json().size(), 0u);
  auto links = d.inNetns({"ip", "-o", "link", "show"});
  EXPECT_EQ(links.out.find("pbb"), std::string::npos) << links.out;
  EXPECT_EQ(links.out.find("pbt"), std::string::npos) << links.out;
  EXPECT_TRUE(paddockLinks(d).empty()) << links.out;
  // Other tests may run iperf3 at the same time, in their own namespaces.
  auto ns = [](const std::string& pid) {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/" + pid + "/ns/net", ec).string();
  };
  auto iperf = runCommand({"pgrep", "-x", "iperf3"});
  ASSERT_TRUE(iperf);
  std::istringstream pids(iperf->out);
  for (std::string pid; pids >> pid;)
    EXPECT_NE(ns(pid), ns(std::to_string(d.pid()))) << "iperf3 " << pid << " outlived the run";
}

TEST_F(BenchSuite, TheQuickProfileMeasuresEveryWorkloadNativelyAndInAPaddockGuest) {
  TestDaemon& d = *d_;
  std::string dir = d.stateDir() + "/results";
  // Every workload but web, which has a test of its own (ctest's 10 minutes would not hold both).
  auto out = bench(
      d,
      {"run", "--suite", "xen-2004", "--profile", "quick", "--trials", "2", "--targets",
       "native,paddock", "--workloads", "cpu,build,osdb-ir,osdb-oltp,dbench,micro,ttcp", "-o", dir},
      40min);
  ASSERT_EQ(out.exitCode, 0) << out.err.substr(out.err.size() > 3000 ? out.err.size() - 3000 : 0);
  auto raw = rawJson(dir);
  const auto& env = raw["environment"];
  EXPECT_TRUE(env["accelerator"] == "tcg" || env["accelerator"] == "kvm") << env.dump();
  EXPECT_FALSE(env["cpu_model"].get<std::string>().empty());
  EXPECT_FALSE(env["host_kernel"].get<std::string>().empty());
  EXPECT_FALSE(env["load_before"].get<std::string>().empty());
  EXPECT_FALSE(env["load_after"].get<std::string>().empty());
  EXPECT_EQ(env["target_paddock"]["vcpus"], 1);
  EXPECT_EQ(env["target_paddock"]["accelerator"], env["accelerator"]);

  // 2 trials x 7 workloads x 2 targets, each with its samples, interleaved.
  ASSERT_EQ(raw["runs"].size(), 28u);
  std::map<std::string, std::map<std::string, int>> samples;  // target -> metric -> count
  for (const auto& r : raw["runs"]) {
    EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
    for (const auto& s : r["samples"]) {
      EXPECT_GT(s["value"].get<double>(), 0) << r.dump();
      ++samples[r["target"]][s["metric"]];
    }
  }
  for (const std::string t : {"native", "paddock"}) {
    std::set<std::string> metrics;
    for (const auto& [m, n] : samples[t]) {
      metrics.insert(m);
      EXPECT_EQ(n, 2) << t << " " << m;
    }
    EXPECT_EQ(metrics, kMetrics) << t;
  }
  EXPECT_NE(raw["runs"][0]["target"], raw["runs"][2]["target"]) << "the order does not rotate";

  // The reports: a table with a ratio per metric, CSV, and a chart in SVG and PNG.
  auto md = readFile(dir + "/results.md");
  ASSERT_TRUE(md);
  EXPECT_NE(md->find("- accelerator: "), std::string::npos);
  EXPECT_NE(md->find("| paddock × native |"), std::string::npos) << *md;
  EXPECT_EQ(md->find("FAILED"), std::string::npos) << *md;
  auto csv = readFile(dir + "/results.csv");
  ASSERT_TRUE(csv);
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 1 + 2 * 13) << *csv;
  auto svg = readFile(dir + "/ratios.svg");
  ASSERT_TRUE(svg);
  EXPECT_TRUE(wellFormedXml(*svg));
  auto png = readFile(dir + "/ratios.png");
  ASSERT_TRUE(png);
  EXPECT_EQ(png->substr(1, 3), "PNG");

  // The guest's ttcp went through its own network to the host's iperf3 server on its gateway.
  EXPECT_NE(env["target_paddock"]["network"].get<std::string>().find("internal network bench-"),
            std::string::npos)
      << env.dump();
  EXPECT_NE(env["target_native"]["network"].get<std::string>().find("127.0.0.1:"),
            std::string::npos)
      << env.dump();

  // The benchmark's VM and network are gone, and `compare` reads the results back.
  EXPECT_EQ(d.cli({"--json", "vm", "list"}).json().size(), 0u);
  expectNoNetworkLeft(d);
  auto cmp = bench(d, {"compare", dir, dir}, 1min);
  EXPECT_EQ(cmp.exitCode, 0) << cmp.err;
  EXPECT_NE(cmp.out.find("| osdb-ir | osdb_ir_tps | paddock |"), std::string::npos) << cmp.out;
  EXPECT_NE(cmp.out.find("+0.0 %"), std::string::npos) << cmp.out;
}

// The web-hosting test of the quick profile: natively one nginx, in Paddock 1 and then 2 guests of
// their own, all driven at once by the load generator with the Table 2 mix.
TEST_F(BenchSuite, TheWebHostingTestServesTheTable2MixFromOneAndTwoGuests) {
  TestDaemon& d = *d_;
  std::string dir = d.stateDir() + "/results";
  auto out = bench(d,
                   {"run", "--profile", "quick", "--trials", "2", "--targets", "native,paddock",
                    "--workloads", "web", "-o", dir},
                   20min);
  ASSERT_EQ(out.exitCode, 0) << out.err.substr(out.err.size() > 3000 ? out.err.size() - 3000 : 0);
  auto raw = rawJson(dir);
  ASSERT_EQ(raw["runs"].size(), 4u);
  std::map<std::string, std::map<std::string, int>> samples;  // target -> metric -> count
  for (const auto& r : raw["runs"]) {
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    for (const auto& s : r["samples"]) {
      ++samples[r["target"]][s["metric"]];
      double v = s["value"];
      if (s["unit"] == "%") {
        EXPECT_GE(v, 0) << r.dump();
        EXPECT_LE(v, 100) << r.dump();
      } else {
        EXPECT_EQ(s["unit"], "req/s");
        EXPECT_GT(v, 0) << r.dump();
      }
    }
  }
  using Counts = std::map<std::string, int>;
  EXPECT_EQ(samples["native"], (Counts{{"web_1g_req_per_s", 2}, {"web_1g_within_300ms", 2}}));
  EXPECT_EQ(samples["paddock"], (Counts{{"web_1g_req_per_s", 2},
                                        {"web_1g_within_300ms", 2},
                                        {"web_2g_req_per_s", 2},
                                        {"web_2g_within_300ms", 2}}));
  EXPECT_EQ(raw["environment"]["target_paddock"]["web_guests"], 2);
  auto md = readFile(dir + "/results.md");
  ASSERT_TRUE(md);
  EXPECT_NE(md->find("| web | web_2g_req_per_s | req/s (higher is better) | not run |"),
            std::string::npos)
      << *md;

  // The guests, their network and the native nginx are gone.
  EXPECT_EQ(d.cli({"--json", "vm", "list"}).json().size(), 0u);
  expectNoNetworkLeft(d);
  auto nginx = runCommand({"pgrep", "-f", "nginx -c /var/tmp/paddock-bench-native-"});
  ASSERT_TRUE(nginx);
  EXPECT_NE(nginx->exitCode, 0) << "the native nginx outlived the run: " << nginx->out;
}

// The hand-started peer: the same image in a QEMU paddock-bench starts itself; the report then
// has Paddock's ratio to it, and neither the VM nor the peer's QEMU outlives the run.
TEST_F(BenchSuite, AHandStartedQemuPeerRunsTheSameImageBesidePaddock) {
  TestDaemon& d = *d_;
  std::string dir = d.stateDir() + "/results";
  auto out = bench(d,
                   {"run", "--targets", "paddock,qemu-peer", "--workloads", "micro,ttcp",
                    "--trials", "1", "-o", dir},
                   20min);
  ASSERT_EQ(out.exitCode, 0) << out.err.substr(out.err.size() > 3000 ? out.err.size() - 3000 : 0);
  auto raw = rawJson(dir);
  ASSERT_EQ(raw["runs"].size(), 4u);
  std::set<std::string> ttcp;
  for (const auto& r : raw["runs"]) {
    EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
    if (r["workload"] == "ttcp")
      for (const auto& s : r["samples"])
        ttcp.insert(r["target"].get<std::string>() + " " + s["metric"].get<std::string>());
  }
  EXPECT_EQ(ttcp, (std::set<std::string>{"paddock ttcp_rx_mbit_s", "paddock ttcp_tx_mbit_s",
                                         "qemu-peer ttcp_rx_mbit_s", "qemu-peer ttcp_tx_mbit_s"}));
  const auto& peer = raw["environment"]["target_qemu-peer"];
  EXPECT_EQ(peer["accelerator"], raw["environment"]["accelerator"]);
  EXPECT_GT(peer["boot_to_ready_s"].get<double>(), 0);
  EXPECT_NE(peer["network"].get<std::string>().find("on bridge pbb"), std::string::npos)
      << peer.dump();
  expectNoNetworkLeft(d);
  auto md = readFile(dir + "/results.md");
  ASSERT_TRUE(md);
  EXPECT_NE(md->find("| paddock ÷ qemu-peer |"), std::string::npos) << *md;
  EXPECT_NE(md->find("| micro | fork_exec_us |"), std::string::npos) << *md;
  EXPECT_EQ(d.cli({"--json", "vm", "list"}).json().size(), 0u);
  auto left = runCommand({"pgrep", "-f", "qemu-system-x86_64 -name qemu-peer"});
  ASSERT_TRUE(left);
  EXPECT_NE(left->exitCode, 0) << "the peer QEMU outlived the run: " << left->out;
}

// A workload that fails on a target is a failed run in raw.json and the report, and the exit
// status says so; nothing is counted as a zero.
TEST_F(BenchSuite, AFailedWorkloadIsReportedAsFailedNotAsZero) {
  TestDaemon& d = *d_;
  std::string work = d.stateDir() + "/workloads";
  std::filesystem::create_directories(work);
  std::string src = std::string(PADDOCK_SOURCE_DIR) + "/guest/debian/workloads";
  std::filesystem::copy_file(src + "/micro.c", work + "/micro.c");
  // The cpu workload of this copy dies the way a broken 7z would.
  auto script = readFile(src + "/xen-2004.sh");
  ASSERT_TRUE(script);
  std::string broken = *script;
  auto at = broken.find("7z a -bd");
  ASSERT_NE(at, std::string::npos);
  broken.insert(at, "false || die \"7z failed\"; ");
  ASSERT_TRUE(writeFileAtomic(work + "/xen-2004.sh", broken, 0755));

  std::string dir = d.stateDir() + "/results";
  auto out = bench(d,
                   {"run", "--targets", "native", "--trials", "2", "--workloads", "cpu,micro",
                    "--workloads-dir", work, "-o", dir},
                   5min, true);
  EXPECT_EQ(out.exitCode, 1) << out.err;
  EXPECT_NE(out.err.find("cpu on native ... FAILED: exit 1: xen-2004: cpu: 7z failed"),
            std::string::npos)
      << out.err;
  auto raw = rawJson(dir);
  int failed = 0, ok = 0;
  for (const auto& r : raw["runs"]) {
    if (r["workload"] == "cpu") {
      EXPECT_FALSE(r["ok"].get<bool>());
      EXPECT_TRUE(r["samples"].empty());
      EXPECT_NE(r["error"].get<std::string>().find("7z failed"), std::string::npos);
      ++failed;
    } else {
      EXPECT_TRUE(r["ok"].get<bool>());
      ++ok;
    }
  }
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(ok, 2);
  // The native runs had the guest's memory as their limit where this host has a memory cgroup
  // to write, and the group is gone afterwards.
  std::string limit = raw["environment"]["target_native"]["memory_limit"];
  bool cgroups = pathExists("/sys/fs/cgroup/cgroup.controllers") ||
                 pathExists("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  if (cgroups && geteuid() == 0) {
    EXPECT_EQ(limit.rfind("1024 MiB (/sys/fs/cgroup/", 0), 0u) << limit;
  } else {
    EXPECT_EQ(limit, "not applied: no writable memory cgroup");
  }
  auto leftover = limit.find('(') == std::string::npos
                      ? std::string()
                      : limit.substr(limit.find('(') + 1, limit.rfind('/') - limit.find('(') - 1);
  EXPECT_TRUE(leftover.empty() || !pathExists(leftover)) << leftover;

  auto md = readFile(dir + "/results.md");
  ASSERT_TRUE(md);
  EXPECT_NE(md->find("| cpu | (cpu) | - (higher is better) | **FAILED 2 of 2** |"),
            std::string::npos)
      << *md;

  // Bad input is refused before anything runs.
  for (std::vector<std::string> bad : {std::vector<std::string>{"run", "--targets", "native,bogus"},
                                       {"run", "--targets", "native,native"},
                                       {"run", "--targets", ""},
                                       {"run", "--trials", "0"},
                                       {"run", "--profile", "huge"},
                                       {"run", "--workloads", "cpu,web3"},
                                       {"run", "--memory", "12"},
                                       {"run", "--web-guests", "2,1"},
                                       {"run", "--web-guests", "0"},
                                       {"run", "--suite", "spec"}}) {
    auto r = bench(d, bad, 1min, true);
    EXPECT_EQ(r.exitCode, 2) << bad[1] << " " << bad[2] << ": " << r.err;
    EXPECT_NE(r.err.find("paddock-bench: error: " + bad[1]), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace paddock::test
