#include "services/resources/reservation_weights.h"

#include <gtest/gtest.h>

namespace paddock {
namespace {

double fraction(const std::map<std::string, int>& w, const std::string& vm) {
  double total = 0;
  for (const auto& [name, weight] : w) total += weight;
  return w.at(vm) / total;
}

TEST(ReservationWeights, WithoutReservationsEveryVmKeepsItsShares) {
  auto w = reservationWeights({{"a", 0, 0}, {"b", 2000, 0}}, 2);
  EXPECT_EQ(w.at("a"), 1000);
  EXPECT_EQ(w.at("b"), 2000);
}

TEST(ReservationWeights, AReservingVmGetsAtLeastItsFractionOfTheHost) {
  // Half of a 2-CPU host is 25 %: against three default VMs a weight of 1000 would give 25 %
  // exactly, against five it needs more.
  std::vector<WeightRequest> vms = {{"r", 0, 0.5}};
  for (int i = 0; i < 5; ++i) vms.push_back({"o" + std::to_string(i), 0, 0});
  auto w = reservationWeights(vms, 2);
  EXPECT_GE(fraction(w, "r"), 0.25);
  EXPECT_LT(fraction(w, "r"), 0.26);  // raised just enough
  EXPECT_EQ(w.at("o0"), 1000);
}

TEST(ReservationWeights, SharesAboveTheReservationAreNeverLowered) {
  auto w = reservationWeights({{"r", 50000, 0.1}, {"o", 0, 0}}, 2);
  EXPECT_EQ(w.at("r"), 50000);
}

TEST(ReservationWeights, SeveralReservationsAreHonouredTogether) {
  std::vector<WeightRequest> vms = {
      {"a", 0, 0.8}, {"b", 0, 0.6}, {"c", 10, 0.2}, {"d", 0, 0}, {"e", 4000, 0}};
  auto w = reservationWeights(vms, 2);
  EXPECT_GE(fraction(w, "a"), 0.4);
  EXPECT_GE(fraction(w, "b"), 0.3);
  EXPECT_GE(fraction(w, "c"), 0.1);
}

TEST(ReservationWeights, AFullyReservedHostLeavesOthersTheSmallestShare) {
  auto w = reservationWeights({{"a", 0, 1}, {"b", 0, 1}, {"o", 0, 0}}, 2);
  EXPECT_GT(fraction(w, "a"), 0.45);
  EXPECT_GT(fraction(w, "b"), 0.45);
  EXPECT_LE(w.at("a"), 100000);
}

}  // namespace
}  // namespace paddock
