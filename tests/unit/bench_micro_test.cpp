// The xen-2004 micro-benchmarks (guest/debian/workloads/micro.c, built here as
// paddock-microbench): what a target prints, and that a failure is never a zero.
#include <cmath>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/subprocess.h"

namespace paddock {
namespace {

// Small runs on this host: each gives a positive, finite time, and the costs rank as they must
// on any Linux, by orders of magnitude (a process or a context switch costs more than a system
// call; fork and fork+exec are not compared: a handful of runs under load can swap them).
TEST(BenchMicro, EveryMicroBenchmarkMeasuresAPositiveTimeAndTheyRank) {
  auto out = runCommand({PADDOCK_MICROBENCH_BIN, "--scale", "0.01", "--json"});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->exitCode, 0) << out->out << out->err;
  auto j = nlohmann::json::parse(out->out);
  std::map<std::string, double> us;
  for (const auto& [name, r] : j.items()) {
    ASSERT_TRUE(r.contains("us")) << name << ": " << r.dump();
    double v = r["us"];
    EXPECT_TRUE(std::isfinite(v) && v > 0) << name << " = " << v;
    EXPECT_GE(r["iterations"].get<int>(), 1);
    us[name] = v;
  }
  EXPECT_EQ(us.size(), 6u);
  EXPECT_GT(us["fork_exit_us"], us["null_syscall_us"]);
  EXPECT_GT(us["context_switch_us"], us["null_syscall_us"]);
}

// The harness's format: one RESULT line per figure, nothing else on stdout.
TEST(BenchMicro, ResultLinesNameTheFigureItsUnitAndWhichWayIsBetter) {
  auto out =
      runCommand({PADDOCK_MICROBENCH_BIN, "--scale", "0.01", "--only", "mmap_us", "--result"});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->exitCode, 0) << out->err;
  EXPECT_EQ(out->out.rfind("RESULT mmap_us ", 0), 0u) << out->out;
  EXPECT_NE(out->out.find(" us lower\n"), std::string::npos) << out->out;
  EXPECT_EQ(std::count(out->out.begin(), out->out.end(), '\n'), 1) << out->out;
}

TEST(BenchMicro, BadArgumentsAreRefusedWithUsage) {
  for (std::vector<std::string> args : {std::vector<std::string>{"--scale", "0"},
                                        {"--scale", "x"},
                                        {"--only", "no_such"},
                                        {"--bogus"}}) {
    args.insert(args.begin(), PADDOCK_MICROBENCH_BIN);
    auto out = runCommand(args);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->exitCode, 2) << args[1];
    EXPECT_NE(out->err.find("usage: paddock-microbench"), std::string::npos) << out->err;
  }
}

// A workload that fails says so on stderr and exits non-zero: the harness then records a
// failure, never a zero sample.
TEST(BenchWorkloads, AnUnknownWorkloadOrProfileFailsLoudly) {
  std::string script = std::string(PADDOCK_WORKLOADS_DIR) + "/xen-2004.sh";
  auto unknown = runCommand({"bash", script, "nosuch", "quick", "/tmp/paddock-bench-unit"});
  ASSERT_TRUE(unknown);
  EXPECT_NE(unknown->exitCode, 0);
  EXPECT_EQ(unknown->out, "");
  EXPECT_NE(unknown->err.find("unknown workload"), std::string::npos) << unknown->err;
  auto profile = runCommand({"bash", script, "cpu", "huge", "/tmp/paddock-bench-unit"});
  ASSERT_TRUE(profile);
  EXPECT_NE(profile->exitCode, 0);
  EXPECT_EQ(profile->out.find("RESULT"), std::string::npos) << profile->out;
  auto list = runCommand({"bash", script, "list"});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->out, "cpu build osdb-ir osdb-oltp dbench micro ttcp\n");
}

}  // namespace
}  // namespace paddock
