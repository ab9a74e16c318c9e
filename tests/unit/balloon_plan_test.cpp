#include "services/resources/balloon_plan.h"

#include <gtest/gtest.h>

namespace paddock {
namespace {

OvercommitPolicy policy() {
  OvercommitPolicy p;
  p.lowMib = 1000;
  p.highMib = 2000;
  return p;
}

BalloonView vm(const std::string& name, std::uint64_t idle, std::uint64_t reserved = 0) {
  return {name, 1024, reserved, 1024, 1024, idle + OvercommitPolicy{}.guestKeepMib};
}

TEST(BalloonPlan, BetweenTheWatermarksNothingMoves) {
  EXPECT_TRUE(planBalloons(policy(), 1500, {vm("a", 500)}).empty());
  auto taken = vm("a", 500);
  taken.currentMib = 512;
  EXPECT_TRUE(planBalloons(policy(), 1500, {taken}).empty());
}

TEST(BalloonPlan, UnderPressureTheIdlestGuestGivesFirstAndNoMoreThanAStep) {
  auto d = planBalloons(policy(), 900, {vm("busy", 50), vm("idle", 800), vm("mid", 300)});
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d[0].vm, "idle");
  EXPECT_EQ(d[0].fromMib, 1024u);
  EXPECT_EQ(d[0].toMib, 1024u - 256u);  // a quarter of its memory per round
  EXPECT_NE(d[0].reason.find("900M available"), std::string::npos) << d[0].reason;
  // 1100M are needed to reach the high watermark: the others give what they can spare.
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[1].vm, "mid");
  EXPECT_EQ(d[1].toMib, 1024u - 256u);
  EXPECT_EQ(d[2].vm, "busy");
  EXPECT_EQ(d[2].toMib, 1024u - 50u);  // only its idle memory
}

TEST(BalloonPlan, ReclaimStopsWhenEnoughIsFound) {
  auto p = policy();
  p.stepFraction = 1;
  auto d = planBalloons(p, 900, {vm("a", 800), vm("b", 800), vm("c", 800)});
  ASSERT_EQ(d.size(), 2u);  // 1100M are needed to reach the high watermark: c keeps its memory
  EXPECT_EQ(d[0].fromMib - d[0].toMib, 800u);
  EXPECT_EQ(d[1].fromMib - d[1].toMib, 300u);
}

TEST(BalloonPlan, ReservationsAndTheFloorAreNeverReclaimed) {
  auto reserved = vm("r", 900, 900);
  reserved.currentMib = 950;
  auto d = planBalloons(policy(), 100, {reserved});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].toMib, 900u);
  reserved.currentMib = 900;
  EXPECT_TRUE(planBalloons(policy(), 100, {reserved}).empty());
  auto small = vm("s", 900);
  small.currentMib = 70;
  auto f = planBalloons(policy(), 100, {small});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].toMib, 64u);
}

TEST(BalloonPlan, AGuestThatReportsNothingIsLeftAlone) {
  auto silent = vm("q", 0);
  silent.guestAvailableMib.reset();
  EXPECT_TRUE(planBalloons(policy(), 100, {silent}).empty());
}

TEST(BalloonPlan, AVmWhoseFiguresPredateTheLastChangeIsNotReclaimedFromAgainButGetsMemoryBack) {
  auto changed = vm("changed", 800);
  changed.currentMib = 768;
  changed.settled = false;
  auto d = planBalloons(policy(), 900, {changed, vm("other", 100)});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].vm, "other");
  d = planBalloons(policy(), 2500, {changed});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_GT(d[0].toMib, 768u);
}

TEST(BalloonPlan, AboveTheHighWatermarkMemoryGoesBackUpToTheOwnersTarget) {
  auto a = vm("a", 10);
  a.currentMib = 512;
  auto b = vm("b", 10);
  b.ownerMib = 800;  // the owner's own balloon target stays
  b.currentMib = 700;
  auto d = planBalloons(policy(), 2100, {b, a});
  // 100M spare: the VM that lost most gets it first.
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].vm, "a");
  EXPECT_EQ(d[0].toMib, 612u);
  auto plenty = planBalloons(policy(), 10000, {b, a});
  ASSERT_EQ(plenty.size(), 2u);
  EXPECT_EQ(plenty[0].toMib, 768u);  // a step of 256M
  EXPECT_EQ(plenty[1].vm, "b");
  EXPECT_EQ(plenty[1].toMib, 800u);
}

TEST(BalloonPlan, DisabledItOnlyGivesBack) {
  auto p = policy();
  p.enabled = false;
  EXPECT_TRUE(planBalloons(p, 100, {vm("a", 800)}).empty());
  auto a = vm("a", 10);
  a.currentMib = 1000;
  auto d = planBalloons(p, 100, {a});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].toMib, 1024u);
}

}  // namespace
}  // namespace paddock
