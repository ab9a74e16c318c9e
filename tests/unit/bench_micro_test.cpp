#include "bench/micro.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include <gtest/gtest.h>

namespace paddock::bench {
namespace {

// Small runs on this host: each gives a positive, finite time, and the costs rank as they must
// on any Linux, by orders of magnitude (a process or a context switch costs more than a system
// call; fork and fork+exec are not compared: a handful of runs under load can swap them).
TEST(BenchMicro, EveryMicroBenchmarkMeasuresAPositiveTimeAndTheyRank) {
  std::map<std::string, double> us;
  for (const auto& b : microBenchmarks()) {
    auto r = b.run(std::max(1, b.defaultIterations / 100));
    ASSERT_TRUE(r.ok()) << b.name << ": " << r.error().message;
    EXPECT_TRUE(std::isfinite(*r) && *r > 0) << b.name << " = " << *r;
    us[b.name] = *r;
  }
  EXPECT_EQ(us.size(), 6u);
  EXPECT_GT(us["fork_exit_us"], us["null_syscall_us"]);
  EXPECT_GT(us["context_switch_us"], us["null_syscall_us"]);
}

TEST(BenchMicro, ZeroIterationsIsRefused) {
  for (const auto& b : microBenchmarks()) EXPECT_FALSE(b.run(0).ok()) << b.name;
}

}  // namespace
}  // namespace paddock::bench
