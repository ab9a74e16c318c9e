// The downtime limit Paddock gives QEMU pass by pass: low first, doubled per pass, never above
// the operator's cap.
#include <gtest/gtest.h>

#include "engine/live_migration.h"

namespace paddock {
namespace {

TEST(LiveMigrationDowntime, StartsLowAndDoublesPerPassUpToTheCap) {
  EXPECT_EQ(downtimeLimitForPass(300, 1), 20u);
  EXPECT_EQ(downtimeLimitForPass(300, 2), 20u);
  EXPECT_EQ(downtimeLimitForPass(300, 3), 40u);
  EXPECT_EQ(downtimeLimitForPass(300, 4), 80u);
  EXPECT_EQ(downtimeLimitForPass(300, 5), 160u);
  EXPECT_EQ(downtimeLimitForPass(300, 6), 300u);
  EXPECT_EQ(downtimeLimitForPass(300, 1000), 300u);
}

TEST(LiveMigrationDowntime, ACapBelowTheFirstLimitIsKept) {
  EXPECT_EQ(downtimeLimitForPass(5, 1), 5u);
  EXPECT_EQ(downtimeLimitForPass(5, 9), 5u);
  EXPECT_EQ(downtimeLimitForPass(60'000, 100), 60'000u);
  // Before QEMU has counted a pass (0) the first limit holds.
  EXPECT_EQ(downtimeLimitForPass(300, 0), 20u);
}

}  // namespace
}  // namespace paddock
