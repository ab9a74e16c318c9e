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

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/subprocess.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

CommandOutput bench(TestDaemon& d, std::vector<std::string> args, std::chrono::minutes timeout) {
  args.insert(args.begin(), {PADDOCK_BIN, "--host", d.socket(), "bench"});
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

const std::set<std::string> kMetrics = {"cpu_7z_seconds",    "build_seconds",   "osdb_ir_tps",
                                        "osdb_oltp_tps",     "dbench_mb_per_s", "null_syscall_us",
                                        "context_switch_us", "fork_exit_us",    "fork_exec_us",
                                        "mmap_us",           "page_fault_us"};

TEST(BenchSuite, TheQuickProfileMeasuresEveryWorkloadNativelyAndInAPaddockGuest) {
  TestDaemon d;
  std::string dir = d.stateDir() + "/results";
  auto out = bench(d,
                   {"run", "--suite", "xen-2004", "--profile", "quick", "--trials", "2",
                    "--targets", "native,paddock", "-o", dir},
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

  // 2 trials x 6 workloads x 2 targets, each with its samples, interleaved.
  ASSERT_EQ(raw["runs"].size(), 24u);
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
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 1 + 2 * 11) << *csv;
  auto svg = readFile(dir + "/ratios.svg");
  ASSERT_TRUE(svg);
  EXPECT_TRUE(wellFormedXml(*svg));
  auto png = readFile(dir + "/ratios.png");
  ASSERT_TRUE(png);
  EXPECT_EQ(png->substr(1, 3), "PNG");

  // The benchmark's VM is gone, and `compare` reads the results back.
  EXPECT_EQ(d.cli({"--json", "vm", "list"}).json().size(), 0u);
  auto cmp = bench(d, {"compare", dir, dir}, 1min);
  EXPECT_EQ(cmp.exitCode, 0) << cmp.err;
  EXPECT_NE(cmp.out.find("| osdb-ir | osdb_ir_tps | paddock |"), std::string::npos) << cmp.out;
  EXPECT_NE(cmp.out.find("+0.0 %"), std::string::npos) << cmp.out;
}

// The hand-started peer: the same image in a QEMU paddock-bench starts itself; the report then
// has Paddock's ratio to it, and neither the VM nor the peer's QEMU outlives the run.
TEST(BenchSuite, AHandStartedQemuPeerRunsTheSameImageBesidePaddock) {
  TestDaemon d;
  std::string dir = d.stateDir() + "/results";
  auto out = bench(
      d,
      {"run", "--targets", "paddock,qemu-peer", "--workloads", "micro", "--trials", "1", "-o", dir},
      20min);
  ASSERT_EQ(out.exitCode, 0) << out.err.substr(out.err.size() > 3000 ? out.err.size() - 3000 : 0);
  auto raw = rawJson(dir);
  ASSERT_EQ(raw["runs"].size(), 2u);
  for (const auto& r : raw["runs"]) EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
  const auto& peer = raw["environment"]["target_qemu-peer"];
  EXPECT_EQ(peer["accelerator"], raw["environment"]["accelerator"]);
  EXPECT_GT(peer["boot_to_ready_s"].get<double>(), 0);
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
TEST(BenchSuite, AFailedWorkloadIsReportedAsFailedNotAsZero) {
  TestDaemon d;
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
                   5min);
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
                                       {"run", "--suite", "spec"}}) {
    auto r = bench(d, bad, 1min);
    EXPECT_EQ(r.exitCode, 2) << bad[1] << " " << bad[2] << ": " << r.err;
    EXPECT_NE(r.err.find("paddock-bench: error: " + bad[1]), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace paddock::test
