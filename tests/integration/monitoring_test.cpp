// The collector against a real guest: live values, history that survives a daemon restart, the
// Prometheus endpoint, the CLI views, and bad input.
#include <unistd.h>

#include <cmath>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "common/files.h"
#include "http/http_client.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Checks `text` against the Prometheus text exposition format 0.0.4 and returns the problems
// ("" if none): every line a comment (# HELP / # TYPE name ...) or `name{labels} value`, names and
// label names of the allowed characters, label values quoted with only \\ \" \n escapes, values
// Go floats, HELP/TYPE before the family's samples and each family in one block.
std::string expositionProblems(const std::string& text) {
  static const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex type(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? ([^ ]+)$)");
  std::string problems;
  std::set<std::string> typed, done;
  std::string current;
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    std::smatch m;
    auto problem = [&](const std::string& what) {
      problems += "line " + std::to_string(n) + ": " + what + ": " + line + "\n";
    };
    if (std::regex_match(line, m, help)) continue;
    if (std::regex_match(line, m, type)) {
      if (!typed.insert(m[1]).second) problem("TYPE twice");
      if (!current.empty()) done.insert(current);
      current = m[1];
      continue;
    }
    if (!std::regex_match(line, m, sample)) {
      problem("not a sample");
      continue;
    }
    std::string name = m[1], value = m[7];
    if (name != current || done.count(name)) problem("sample outside its family's block");
    if (value != "NaN" && value != "+Inf" && value != "-Inf") {
      try {
        size_t used = 0;
        std::stod(value, &used);
        if (used != value.size()) problem("bad value");
      } catch (const std::exception&) {
        problem("bad value");
      }
    }
  }
  if (!text.empty() && text.back() != '\n') problems += "no final newline\n";
  return problems;
}

TEST(MetricsFormat, TheCheckerRefusesBrokenExpositions) {
  EXPECT_EQ(expositionProblems("# HELP a_b x\n# TYPE a_b gauge\na_b{vm=\"x\\\"y\"} 1.5\n"), "");
  EXPECT_NE(expositionProblems("a_b 1\n"), "");  // no TYPE first
  EXPECT_NE(expositionProblems("# TYPE a gauge\na{vm=x} 1\n"), "");
  EXPECT_NE(expositionProblems("# TYPE a gauge\na 1x\n"), "");
  EXPECT_NE(expositionProblems("# TYPE a gauge\n# TYPE b gauge\na 1\n"), "");
}

double live(const json& snap, const std::string& vm, const std::string& metric) {
  const json& v = snap["vms"][vm];
  return v.contains(metric) && v[metric].is_number() ? v[metric].get<double>() : NAN;
}

TEST(Monitoring, ACpuBusyGuestShowsInLiveValuesHistoryMetricsAndTheCli) {
  TestDaemon d({"--stats-interval", "1s"});
  d.createVm("busy", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 64}}}}});
  d.createVm("idle", {{"memory_mib", 128}});
  d.startVm("busy");
  d.startVm("idle");
  std::string out;
  // Busy vCPU in the background; and a disk write to see the disk counters move.
  ASSERT_EQ(guestRun(d, "busy",
                     "(while :; do :; done) & dd if=/dev/zero of=/dev/vda bs=64k count=64 "
                     "conv=fsync 2>/dev/null",
                     &out),
            0)
      << out;
  json snap;
  ASSERT_TRUE(waitFor(
      [&] {
        snap = d.api().call("GET", "/v1/stats/live").value();
        // The vCPU thread is one of QEMU's threads: both must show the busy loop in one sample
        // (one sample on a contended host can fall just short of it).
        const json& vcpu = snap["vms"]["busy"]["vcpu_percent"];
        return live(snap, "busy", "cpu_percent") > 50 && vcpu.contains("0") &&
               vcpu["0"].get<double>() > 50 && live(snap, "idle", "cpu_percent") < 30;
      },
      30s))
      << snap.dump();
  EXPECT_EQ(live(snap, "busy", "memory_configured_bytes"), 128.0 * 1024 * 1024);
  EXPECT_GT(live(snap, "busy", "memory_rss_bytes"), 16.0 * 1024 * 1024);
  ASSERT_TRUE(waitFor(
      [&] {
        snap = d.api().call("GET", "/v1/stats/live").value();
        return live(snap, "busy", "memory_guest_available_bytes") > 0;
      },
      20s))
      << "no guest memory statistics from the balloon driver: " << snap.dump();
  EXPECT_LT(live(snap, "busy", "memory_guest_available_bytes"), 128.0 * 1024 * 1024);
  EXPECT_TRUE(snap["host"].contains("host_memory_available_bytes"));

  // History: the disk write shows in the root disk's series.
  json stats;
  ASSERT_TRUE(waitFor(
      [&] {
        stats = d.api()
                    .call("GET", "/v1/vms/busy/stats?since=5m&metric=disk_write_bytes_per_second")
                    .value();
        for (const auto& s : stats["series"])
          for (const auto& p : s["points"])
            if (s["labels"] == "disk=root" && p[1].get<double>() > 0) return true;
        return false;
      },
      20s))
      << stats.dump();
  EXPECT_EQ(stats["step_ms"], 0);

  // Prometheus.
  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  auto metrics = raw.request("GET", "/metrics", "");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(expositionProblems(metrics->body), "") << metrics->body;
  EXPECT_NE(metrics->body.find("paddock_vm_cpu_percent{vm=\"busy\"} "), std::string::npos);
  EXPECT_NE(metrics->body.find("paddock_vm_disk_write_bytes_per_second{vm=\"busy\",disk=\"root\"}"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("paddock_host_cpu_percent "), std::string::npos);
  // And Prometheus's own parser (python3-prometheus-client, Debian's) reads every family.
  std::string exposition = d.stateDir() + "/metrics.txt";
  ASSERT_TRUE(writeFileAtomic(exposition, metrics->body, 0644).ok());
  auto parsed = runCommand(
      {"/usr/bin/python3", "-c",
       "import sys\n"
       "from prometheus_client.parser import text_string_to_metric_families as parse\n"
       "fams = {f.name: f for f in parse(open(sys.argv[1]).read())}\n"
       "vm = [s for s in fams['paddock_vm_cpu_percent'].samples if s.labels.get('vm') == 'busy']\n"
       "print('families', len(fams), 'busy_cpu', vm[0].value if vm else 'missing')\n",
       exposition});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->exitCode, 0) << parsed->err;
  EXPECT_NE(parsed->out.find("families "), std::string::npos) << parsed->out;
  EXPECT_EQ(parsed->out.find("missing"), std::string::npos) << parsed->out;

  // The CLI: a table, CSV, a chart and top.
  auto table = d.cli({"vm", "stats", "busy", "--since", "5m"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("cpu_percent"), std::string::npos) << table.out;
  auto csv = d.cli({"vm", "stats", "busy", "--metric", "cpu_percent", "--csv"});
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("metric,labels,unit,ts_ms,value\ncpu_percent,,percent,", 0), 0u)
      << csv.out;
  std::string svg = d.stateDir() + "/cpu.svg";
  auto chart =
      d.cli({"vm", "chart", "busy", "--metric", "cpu_percent", "--since", "5m", "-o", svg});
  ASSERT_EQ(chart.code, 0) << chart.err;
  auto drawn = readFile(svg);
  ASSERT_TRUE(drawn.ok());
  EXPECT_NE(drawn->find("<polyline"), std::string::npos);
  std::string png = d.stateDir() + "/cpu.png";
  auto pngChart = d.cli({"vm", "chart", "busy", "--since", "5m", "-o", png});
  ASSERT_EQ(pngChart.code, 0) << pngChart.err;
  auto pngBytes = readFile(png);
  ASSERT_TRUE(pngBytes.ok());
  EXPECT_EQ(pngBytes->rfind("\x89PNG\r\n\x1a\n", 0), 0u);
  std::string jpg = d.stateDir() + "/cpu.jpg";
  auto jpgChart = d.cli({"vm", "chart", "busy", "-o", jpg});
  EXPECT_EQ(jpgChart.code, 2);
  EXPECT_NE(jpgChart.err.find("'.jpg'"), std::string::npos) << jpgChart.err;
  EXPECT_FALSE(pathExists(jpg));
  EXPECT_FALSE(pathExists(jpg + ".tmp"));
  auto top = d.cli({"top", "--once"});
  ASSERT_EQ(top.code, 0) << top.err;
  EXPECT_LT(top.out.find("busy"), top.out.find("idle")) << "sorted by CPU: " << top.out;

  // Bad input names the field and changes nothing.
  for (auto [path, field] : {std::pair{"/v1/vms/busy/stats?since=yesterday", "since"},
                             std::pair{"/v1/vms/busy/stats?metric=cpu", "metric"},
                             std::pair{"/v1/vms/busy/stats?resolution=2m", "resolution"},
                             std::pair{"/v1/host/stats?metric=cpu_percent", "metric"}}) {
    auto r = raw.request("GET", path, "");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 400) << path << " " << r->body;
    EXPECT_NE(r->body.find(std::string("\"field\":\"") + field + "\""), std::string::npos)
        << r->body;
  }
  EXPECT_EQ(raw.request("GET", "/v1/vms/ghost/stats", "")->status, 404);
  auto garbage = d.cli({"vm", "stats", "busy", "--since", "soon"});
  EXPECT_NE(garbage.code, 0);
  EXPECT_NE(garbage.err.find("'soon' is not a duration"), std::string::npos) << garbage.err;

  // History survives a daemon restart.
  json history = d.api().call("GET", "/v1/vms/busy/stats?since=10m&metric=cpu_percent").value();
  size_t before = 0;
  for (const auto& s : history["series"]) before += s["points"].size();
  ASSERT_GT(before, 3u) << history.dump();
  d.stop();
  d.start();
  auto after = d.api().call("GET", "/v1/vms/busy/stats?since=10m&metric=cpu_percent").value();
  ASSERT_EQ(after["series"].size(), 1u);
  EXPECT_GE(after["series"][0]["points"].size(), before);
}

// A QEMU started by a paddockd from before the collector's own monitor has no stats.sock: its disk
// counters come through its main monitor, and nothing of its sampling is lost.
TEST(Monitoring, AVmWithoutTheCollectorsMonitorIsSampledThroughItsMainOne) {
  TestDaemon d({"--stats-interval", "1s"});
  d.createVm("old", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 64}}}}});
  d.startVm("old");
  std::string statsSocket = d.stateDir() + "/run/old/stats.sock";
  ASSERT_TRUE(pathExists(statsSocket));
  d.stop();
  ASSERT_EQ(::unlink(statsSocket.c_str()), 0);  // QEMU still runs; no one can connect by path
  d.start();
  std::string out;
  ASSERT_EQ(guestRun(d, "old",
                     "(while :; do dd if=/dev/zero of=/dev/vda bs=64k count=16 conv=fsync "
                     "2>/dev/null; sleep 0.2; done) >/dev/null 2>&1 & true",
                     &out),
            0)
      << out;
  json snap;
  EXPECT_TRUE(waitFor(
      [&] {
        snap = d.api().call("GET", "/v1/stats/live").value();
        const json& w = snap["vms"]["old"]["disk_write_bytes_per_second"];
        return w.contains("root") && w["root"].get<double>() > 0 &&
               live(snap, "old", "cpu_percent") >= 0;
      },
      30s))
      << snap.dump();
}

// KSM is host-wide: the test puts back whatever the machine had.
TEST(Monitoring, KsmMergesTheMemoryOfVmsFromOneImageAndOffUnmergesIt) {
  if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: KSM settings need root";
  auto run = readFile("/sys/kernel/mm/ksm/run");
  if (!run) GTEST_SKIP() << "SKIPPED: this kernel has no KSM (/sys/kernel/mm/ksm)";
  TestDaemon d({"--stats-interval", "1s"});
  json before = d.api().call("GET", "/v1/host/ksm").value();
  struct Restore {
    TestDaemon& d;
    json settings;
    ~Restore() {
      (void)d.api().call("PUT", "/v1/host/ksm",
                         {{"run", settings["run"]},
                          {"pages_to_scan", settings["pages_to_scan"]},
                          {"sleep_millisecs", settings["sleep_millisecs"]}});
    }
  } restore{d, before};
  for (const char* name : {"k1", "k2", "k3", "k4"}) d.createVm(name, {{"memory_mib", 128}});
  ASSERT_EQ(d.cli({"vm", "start", "--wait-ready", "k1", "k2", "k3", "k4"}).code, 0);
  auto on = d.cli({"host", "ksm", "on", "--pages-to-scan", "2000", "--sleep-ms", "10"});
  ASSERT_EQ(on.code, 0) << on.err;
  EXPECT_NE(on.out.find("KSM on"), std::string::npos) << on.out;
  json snap;
  ASSERT_TRUE(waitFor(
      [&] {
        snap = d.api().call("GET", "/v1/stats/live").value();
        for (const char* name : {"k1", "k2", "k3", "k4"})
          if (!(live(snap, name, "memory_ksm_bytes") > 0)) return false;
        return snap["host"].value("host_ksm_saved_bytes", 0.0) > 0;
      },
      90s))
      << snap.dump();
  auto shown = d.cli({"host", "ksm"});
  EXPECT_NE(shown.out.find("saving"), std::string::npos) << shown.out;
  auto off = d.api().call("PUT", "/v1/host/ksm", {{"run", false}});
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE((*off)["run"].get<bool>());
  EXPECT_EQ((*off)["pages_sharing"], 0) << off->dump();
  // Bad values change nothing.
  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  auto bad = raw.request("PUT", "/v1/host/ksm", json{{"run", true}, {"pages_to_scan", 0}}.dump());
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("\"field\":\"pages_to_scan\""), std::string::npos) << bad->body;
  EXPECT_FALSE(d.api().call("GET", "/v1/host/ksm").value()["run"].get<bool>());
}

}  // namespace
}  // namespace paddock::test
