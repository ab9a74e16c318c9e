#include "bench/stats.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace paddock::bench {
namespace {

TEST(BenchStats, SummarizesKnownSamples) {
  // Mean 5, squares 16+4+4+0+0+1+9+16 = 50 → sample variance 50/7.
  std::vector<double> v = {2, 4, 4, 5, 5, 6, 8, 9};
  auto s = summarize(v);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->n, 8u);
  EXPECT_DOUBLE_EQ(s->mean, 43.0 / 8);
  EXPECT_DOUBLE_EQ(s->median, 5);
  EXPECT_DOUBLE_EQ(s->min, 2);
  EXPECT_DOUBLE_EQ(s->max, 9);
  double mean = 43.0 / 8, squares = 0;
  for (double x : v) squares += (x - mean) * (x - mean);
  EXPECT_NEAR(s->stddev, std::sqrt(squares / 7), 1e-12);

  auto odd = summarize(std::vector<double>{3, 1, 2});
  ASSERT_TRUE(odd.ok());
  EXPECT_DOUBLE_EQ(odd->median, 2);
  EXPECT_DOUBLE_EQ(odd->stddev, 1);  // mean 2, squares 1+1+0 over 2

  auto one = summarize(std::vector<double>{7.5});
  ASSERT_TRUE(one.ok());
  EXPECT_DOUBLE_EQ(one->stddev, 0);
  EXPECT_DOUBLE_EQ(one->median, 7.5);
}

TEST(BenchStats, AFailedSampleOrNoSampleIsAnErrorNotAZero) {
  EXPECT_FALSE(summarize(std::vector<double>{}).ok());
  auto nan = summarize(std::vector<double>{1, std::numeric_limits<double>::quiet_NaN()});
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.error().code, Errc::invalid_argument);
  EXPECT_FALSE(summarize(std::vector<double>{std::numeric_limits<double>::infinity()}).ok());
}

TEST(BenchStats, RatioIsTheFractionOfTheBaselineKeptForRatesAndTimes) {
  Summary native{5, 100, 10, 100, 90, 110};
  Summary guest{5, 80, 4, 80, 75, 85};
  auto rate = performanceRatio(guest, native, Better::higher);
  ASSERT_TRUE(rate.ok());
  EXPECT_DOUBLE_EQ(rate->value, 0.8);
  // 0.8 × √(0.05² + 0.1²)
  EXPECT_NEAR(rate->stddev, 0.8 * std::sqrt(0.05 * 0.05 + 0.1 * 0.1), 1e-12);
  // Seconds: the guest taking 125 s where native takes 100 s keeps 80 % of native speed.
  Summary nativeTime{5, 100, 0, 100, 100, 100};
  Summary guestTime{5, 125, 0, 125, 125, 125};
  auto time = performanceRatio(guestTime, nativeTime, Better::lower);
  ASSERT_TRUE(time.ok());
  EXPECT_DOUBLE_EQ(time->value, 0.8);
  EXPECT_DOUBLE_EQ(time->stddev, 0);
  EXPECT_FALSE(performanceRatio(Summary{1, 0, 0, 0, 0, 0}, native, Better::higher).ok());
}

}  // namespace
}  // namespace paddock::bench
