// paddock-bench: the repeated-research benchmark suite ("Xen and the Art of Repeated Research").
//
//   paddock-bench run [--suite xen-2004] [--profile quick|full] [--trials N]
//                     [--targets native,paddock] [-o DIR] [--vcpus N] [--memory SIZE] ...
//   paddock-bench compare DIR_A DIR_B
//
// `run` runs every workload on every target, trial by trial in interleaved order, and writes
// DIR/raw.json (every run: its samples or its failure, and the environment), DIR/results.md,
// DIR/results.csv and DIR/ratios.svg (+ .png). A failed run is recorded as failed; the exit status
// is 1 when any run failed. `paddock bench ...` runs this program.
#include <sys/utsname.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "bench/report.h"
#include "bench/schedule.h"
#include "bench/tools/bench_targets.h"
#include "cli/chart_png.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/units.h"

namespace paddock::bench {
namespace {

const std::vector<std::string> kXen2004 = {"cpu",    "build", "osdb-ir", "osdb-oltp",
                                           "dbench", "micro", "ttcp",    "web"};

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string firstLine(const std::string& path, const std::string& key) {
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key, 0) == 0) {
      auto colon = line.find(':');
      std::string v = colon == std::string::npos ? line : line.substr(colon + 1);
      return v.substr(v.find_first_not_of(" \t") == std::string::npos ? v.size()
                                                                      : v.find_first_not_of(" \t"));
    }
  return "";
}

std::string loadAverage() {
  auto l = readFile("/proc/loadavg");
  if (!l) return "";
  std::istringstream in(*l);
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

[[noreturn]] void fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "paddock-bench: error: %s\n", msg.c_str());
  std::exit(code);
}

volatile std::sig_atomic_t interrupted = 0;

struct RunOptions {
  std::string suite = "xen-2004";
  std::string profile = "quick";
  int trials = 5;
  std::string targets = "native,paddock";
  std::string workloads;
  std::string out = "results";
  std::string host, tokenFile;
  std::string image = "debian";
  int vcpus = 1;
  std::string memory = "1G", disk = "4G";
  std::string workloadsDir = PADDOCK_WORKLOADS_DIR;
  int timeoutS = 1800;
  std::string webGuests;
};

int runSuite(const RunOptions& o) {
  if (o.suite != "xen-2004") fail("--suite: the only suite is xen-2004", 2);
  if (o.profile != "quick" && o.profile != "full") fail("--profile must be quick or full", 2);
  if (o.trials < 1 || o.trials > 100) fail("--trials must be 1..100", 2);
  if (o.vcpus < 1) fail("--vcpus must be at least 1", 2);
  auto memory = parseSizeMib(o.memory);
  if (!memory || *memory < 256) fail("--memory must be a size of at least 256M, e.g. 1G", 2);
  auto disk = parseSizeMib(o.disk);
  if (!disk) fail("--disk must be a size, e.g. 4G", 2);
  auto targets = splitList(o.targets);
  std::set<std::string> seen;
  for (const auto& t : targets) {
    if (t != "native" && t != "paddock" && t != "qemu-peer")
      fail("--targets: unknown target '" + t + "' (native, paddock, qemu-peer)", 2);
    if (!seen.insert(t).second) fail("--targets: '" + t + "' is listed twice", 2);
  }
  if (targets.empty()) fail("--targets: name at least one target", 2);
  auto workloads = o.workloads.empty() ? kXen2004 : splitList(o.workloads);
  for (const auto& w : workloads)
    if (std::find(kXen2004.begin(), kXen2004.end(), w) == kXen2004.end())
      fail(fmt::format("--workloads: unknown workload '{}' ({})", w, fmt::join(kXen2004, ", ")), 2);
  if (!pathExists(o.workloadsDir + "/xen-2004.sh"))
    fail("--workloads-dir: no xen-2004.sh in " + o.workloadsDir, 2);

  TargetShape shape;
  shape.vcpus = o.vcpus;
  shape.memoryMib = static_cast<int>(*memory);
  shape.diskMib = static_cast<int>(*disk);
  shape.profile = o.profile;
  shape.workloadsDir = o.workloadsDir;
  auto has = [&](const char* w) {
    return std::find(workloads.begin(), workloads.end(), w) != workloads.end();
  };
  shape.network = has("ttcp") || has("web");
  for (const auto& g : splitList(o.webGuests)) {
    int n = 0;
    auto [end, ec] = std::from_chars(g.data(), g.data() + g.size(), n);
    if (ec != std::errc() || end != g.data() + g.size() || n < 1 || n > 64 ||
        (!shape.webGuests.empty() && n <= shape.webGuests.back()))
      fail("--web-guests: a rising list of guest counts of 1..64, e.g. 1,2,4,8,16", 2);
    shape.webGuests.push_back(n);
  }
  if (auto s = makeDirs(o.out, 0755); !s) fail(s.error().message);
  std::unique_ptr<PaddockClient> client;
  nlohmann::json host = nlohmann::json::object();
  if (seen.count("paddock") || seen.count("qemu-peer")) {
    auto opts = resolveClientOptions(o.host, o.tokenFile);
    if (!opts) fail(opts.error().message, 5);
    auto c = PaddockClient::connect(*opts);
    if (!c) fail(c.error().message, 5);
    client = std::move(*c);
    auto h = client->call("GET", "/v1/host");
    if (!h) fail("paddockd: " + h.error().message, 5);
    host = *h;
  }
  std::map<std::string, std::unique_ptr<BenchTarget>> run;
  auto cleanupAll = [&] {
    for (auto& [n, t] : run) t->cleanup();
  };
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });

  struct utsname u {};
  uname(&u);
  nlohmann::json env = {{"suite", o.suite},
                        {"profile", o.profile},
                        {"trials", o.trials},
                        {"date", formatTimeMs(nowMs())},
                        {"cpu_model", firstLine("/proc/cpuinfo", "model name")},
                        {"host_cpus", sysconf(_SC_NPROCESSORS_ONLN)},
                        {"host_kernel", u.release},
                        {"vcpus", o.vcpus},
                        {"memory_mib", *memory},
                        {"load_before", loadAverage()}};
  if (!host.empty()) {
    env["accelerator"] = host.value("accelerator", "");
    env["qemu"] = host.value("qemu", "");
    env["paddock_version"] = host.value("paddock_version", "");
  }
  for (const auto& t : targets) {
    std::unique_ptr<BenchTarget> target = t == "native" ? nativeTarget(shape)
                                          : t == "paddock"
                                              ? paddockTarget(shape, *client, o.image)
                                              : qemuPeerTarget(shape, *client, o.image);
    std::fprintf(stderr, "paddock-bench: preparing %s\n", t.c_str());
    if (auto s = target->prepare(); !s) {
      target->cleanup();
      cleanupAll();
      fail(fmt::format("preparing target {}: {}", t, s.error().message));
    }
    run[t] = std::move(target);
  }
  auto schedule = interleave(o.trials, workloads, targets);
  std::erase_if(schedule, [&](const ScheduledRun& s) { return !run[s.target]->runs(s.workload); });
  std::vector<RunRecord> records;
  int failures = 0;
  for (size_t i = 0; i < schedule.size() && !interrupted; ++i) {
    const auto& s = schedule[i];
    std::fprintf(stderr, "paddock-bench: [%zu/%zu] trial %d: %s on %s ... ", i + 1, schedule.size(),
                 s.trial + 1, s.workload.c_str(), s.target.c_str());
    auto t0 = std::chrono::steady_clock::now();
    auto out = run[s.target]->run(s.workload, std::chrono::seconds(o.timeoutS));
    RunRecord r{s.target, s.workload, s.trial, false, "", {}, 0};
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (out) {
      if (auto parsed = parseResults(*out)) {
        r.ok = true;
        r.samples = std::move(*parsed);
      } else {
        r.error = parsed.error().message;
      }
    } else {
      r.error = out.error().message;
    }
    if (r.ok)
      std::fprintf(stderr, "%.1f s\n", r.seconds);
    else
      std::fprintf(stderr, "FAILED: %s\n", r.error.c_str());
    failures += r.ok ? 0 : 1;
    records.push_back(std::move(r));
  }
  env["load_after"] = loadAverage();
  // What the targets were once the runs had made them (the web test's guests, say).
  for (const auto& t : targets) env["target_" + t] = run[t]->describe();
  cleanupAll();
  if (interrupted) env["interrupted"] = true;

  nlohmann::json raw = {
      {"environment", env}, {"targets", targets}, {"runs", nlohmann::json::array()}};
  for (const auto& r : records) raw["runs"].push_back(toJson(r));
  auto rows = summarizeRuns(records, targets);
  std::string title = fmt::format("xen-2004 ({} profile, {} trials, {}), fraction of native",
                                  o.profile, o.trials, env.value("accelerator", "native only"));
  std::string svg = svgRatioChart(rows, targets, title);
  for (auto [file, text] : std::vector<std::pair<std::string, std::string>>{
           {"raw.json", raw.dump(2) + "\n"},
           {"results.md", markdownReport(rows, targets, env)},
           {"results.csv", csvReport(rows)},
           {"ratios.svg", svg}})
    if (auto s = writeFileAtomic(o.out + "/" + file, text); !s) fail(s.error().message);
  if (auto png = cli::rasterizeSvg(svg, 1200, 700))
    (void)writeFileAtomic(o.out + "/ratios.png", *png);
  std::printf("%s", markdownReport(rows, targets, env).c_str());
  std::fprintf(stderr,
               "paddock-bench: %zu runs, %d failed; wrote %s/{raw.json,results.md,"
               "results.csv,ratios.svg,ratios.png}\n",
               records.size(), failures, o.out.c_str());
  if (interrupted) return 130;
  return failures ? 1 : 0;
}

// Per metric and target: the means of two result sets and the change from A to B.
int compare(const std::string& a, const std::string& b) {
  auto load = [](const std::string& dir) {
    auto text = readFile(dir + "/raw.json");
    if (!text) fail(dir + ": " + text.error().message, 3);
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.contains("runs"))
      fail(dir + "/raw.json is not a paddock-bench result");
    std::vector<RunRecord> runs;
    for (const auto& r : j["runs"]) {
      auto rec = runRecordFromJson(r);
      if (!rec) fail(dir + "/raw.json: " + rec.error().message);
      runs.push_back(std::move(*rec));
    }
    std::vector<std::string> targets = j.value("targets", std::vector<std::string>{});
    return summarizeRuns(runs, targets);
  };
  auto ra = load(a), rb = load(b);
  std::printf(
      "| workload | metric | target | A mean | B mean | B vs A |\n|---|---|---|---:|---:|---:|\n");
  for (const auto& x : ra)
    for (const auto& y : rb) {
      if (x.metric != y.metric) continue;
      for (const auto& cx : x.cells)
        for (const auto& cy : y.cells) {
          if (cx.target != cy.target) continue;
          std::string change = "-";
          if (cx.summary && cy.summary)
            if (auto r = performanceRatio(*cy.summary, *cx.summary, x.better))
              change = fmt::format("{:+.1f} %", (r->value - 1) * 100);
          auto mean = [](const TargetCell& c) {
            return c.summary ? fmt::format("{:.4g}", c.summary->mean)
                             : fmt::format("FAILED {} of {}", c.failed, c.runs);
          };
          std::printf("| %s | %s | %s | %s | %s | %s |\n", x.workload.c_str(), x.metric.c_str(),
                      cx.target.c_str(), mean(cx).c_str(), mean(cy).c_str(), change.c_str());
        }
    }
  std::printf(
      "\n\"B vs A\": the change in performance (+: B is better), for rates and times alike.\n");
  return 0;
}

}  // namespace
}  // namespace paddock::bench

int main(int argc, char** argv) {
  using namespace paddock::bench;
  CLI::App app{"paddock-bench: what virtualization costs, measured the repeated-research way"};
  app.require_subcommand(1);
  RunOptions o;
  auto* run = app.add_subcommand("run", "run a suite on native and Paddock targets");
  run->add_option("--suite", o.suite, "suite to run [xen-2004]");
  run->add_option("--profile", o.profile, "quick (minutes, CI) or full (real hardware)");
  run->add_option("--trials", o.trials, "trials per workload and target [5]");
  run->add_option("--targets", o.targets,
                  "comma-separated: native, paddock, qemu-peer [native,paddock]");
  run->add_option("--workloads", o.workloads, "comma-separated subset of the suite [all]");
  run->add_option("-o,--output", o.out, "result folder [results]");
  run->add_option("--host", o.host, "paddockd to use (as for paddock --host)");
  run->add_option("--token-file", o.tokenFile, "token for a TCP --host");
  run->add_option("--image", o.image, "guest image of the paddock target [debian]");
  run->add_option("--vcpus", o.vcpus, "vCPUs of the guest, and CPUs of the native run [1]");
  run->add_option("--memory", o.memory, "memory of the guest and the native run's limit [1G]");
  run->add_option("--disk", o.disk, "the guest's root disk [4G]");
  run->add_option("--workloads-dir", o.workloadsDir, "the host's copy of the workload scripts");
  run->add_option("--timeout", o.timeoutS, "seconds one workload run may take [1800]");
  run->add_option("--web-guests", o.webGuests,
                  "the web test's numbers of guests [quick: 1,2; full: 1,2,4,8,16]");
  std::string a, b;
  auto* cmp = app.add_subcommand("compare", "compare two result folders");
  cmp->add_option("A", a, "first result folder")->required();
  cmp->add_option("B", b, "second result folder")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "paddock-bench: error: %s (see paddock-bench --help)\n", e.what());
    return 2;
  }
  if (*run) return runSuite(o);
  return compare(a, b);
}
