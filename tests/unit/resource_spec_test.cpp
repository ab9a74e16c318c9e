#include "model/resource_spec.h"

#include <gtest/gtest.h>

#include "model/vm_spec.h"

namespace paddock {
namespace {

using nlohmann::json;

TEST(ResourceSpec, ParsesEveryFieldAndRoundTrips) {
  auto r = resourceSpecFromJson({{"cpu_shares", 2000},
                                 {"cpu_limit", 0.5},
                                 {"cpus", {1, 0}},
                                 {"dedicate", true},
                                 {"latency", "high"},
                                 {"memory_limit_mib", 512},
                                 {"balloon_mib", 64}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->cpuShares, 2000);
  EXPECT_EQ(r->cpus, (std::vector<int>{1, 0}));
  EXPECT_TRUE(r->latencyHigh);
  EXPECT_EQ(*resourceSpecFromJson(toJson(*r)), *r);
  EXPECT_TRUE(resourceSpecFromJson(json::object())->isDefault());
}

TEST(ResourceSpec, BadFieldsAreNamed) {
  for (auto [j, field] : {std::pair{json{{"cpu_shares", -1}}, "resources.cpu_shares"},
                          std::pair{json{{"cpu_shares", 100001}}, "resources.cpu_shares"},
                          std::pair{json{{"cpu_limit", "half"}}, "resources.cpu_limit"},
                          std::pair{json{{"cpus", {1, 1}}}, "resources.cpus"},
                          std::pair{json{{"cpus", {-1}}}, "resources.cpus"},
                          std::pair{json{{"latency", "low"}}, "resources.latency"},
                          std::pair{json{{"balloon_mib", 1.5}}, "resources.balloon_mib"},
                          std::pair{json{{"swap", 1}}, "resources.swap"}}) {
    auto r = resourceSpecFromJson(j);
    ASSERT_FALSE(r.ok()) << j.dump();
    EXPECT_EQ(r.error().field, field) << j.dump();
  }
}

TEST(ResourceSpec, ValuesAreCheckedAgainstTheVmAndTheHost) {
  ResourceSpec r;
  EXPECT_TRUE(validateResources(r, 1, 256, 2).ok());
  r.cpuLimit = 3;
  EXPECT_EQ(validateResources(r, 1, 256, 2).error().field, "resources.cpu_limit");
  r.cpuLimit = 0.001;
  EXPECT_EQ(validateResources(r, 1, 256, 2).error().field, "resources.cpu_limit");
  r = {};
  r.cpus = {2};
  EXPECT_EQ(validateResources(r, 1, 256, 2).error().field, "resources.cpus");
  r = {};
  r.dedicate = true;
  EXPECT_EQ(validateResources(r, 1, 256, 2).error().field, "resources.dedicate");
  r = {};
  r.balloonMib = 512;
  EXPECT_EQ(validateResources(r, 1, 256, 2).error().field, "resources.balloon_mib");
  r.balloonMib = 8;
  EXPECT_EQ(validateResources(r, 1, 256, 2).error().field, "resources.balloon_mib");
  r = {};
  r.memoryLimitMib = 128;
  EXPECT_EQ(validateResources(r, 1, 256, 2).error().field, "resources.memory_limit_mib");
}

TEST(ResourceSpec, ReservationsAreCheckedAgainstTheVm) {
  auto r = resourceSpecFromJson({{"cpu_reservation", 0.5},
                                 {"memory_reservation_mib", 128},
                                 {"memory_lock", false},
                                 {"page_sharing", false}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*resourceSpecFromJson(toJson(*r)), *r);
  EXPECT_TRUE(validateResources(*r, 1, 256, 2).ok());
  EXPECT_EQ(r->reservedMib(256), 128u);
  r->memoryLock = true;
  EXPECT_EQ(r->reservedMib(256), 256u);
  ResourceSpec bad;
  bad.cpuReservation = 1.5;  // one vCPU cannot use more than one host CPU
  EXPECT_EQ(validateResources(bad, 1, 256, 2).error().field, "resources.cpu_reservation");
  EXPECT_TRUE(validateResources(bad, 2, 256, 2).ok());
  bad.cpuLimit = 1;
  EXPECT_EQ(validateResources(bad, 2, 256, 2).error().field, "resources.cpu_reservation");
  bad = {};
  bad.memoryReservationMib = 512;
  EXPECT_EQ(validateResources(bad, 1, 256, 2).error().field, "resources.memory_reservation_mib");
  bad = {};
  bad.memoryReservationMib = 128;
  bad.balloonMib = 64;  // the balloon may not take reserved memory
  EXPECT_EQ(validateResources(bad, 1, 256, 2).error().field, "resources.balloon_mib");
  EXPECT_FALSE(resourceSpecFromJson({{"page_sharing", "no"}}).ok());
  EXPECT_EQ(resourceSpecFromJson({{"cpu_reservation", -1}}).error().field,
            "resources.cpu_reservation");
}

TEST(ResourceSpec, DiskBurstsNeedTheirLimitAndGroupsOneBudget) {
  auto parse = [](const json& disks) { return resourceSpecFromJson({{"disk_limits", disks}}); };
  auto ok = parse({{"root",
                    {{"write_bps", 1048576},
                     {"write_bps_max", 8388608},
                     {"burst_seconds", 2},
                     {"group", "shared"}}},
                   {"data",
                    {{"write_bps", 1048576},
                     {"write_bps_max", 8388608},
                     {"burst_seconds", 2},
                     {"group", "shared"}}}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->diskLimits.at("root").writeBpsMax, 8388608u);
  EXPECT_EQ(ok->diskLimits.at("data").group, "shared");
  EXPECT_EQ(*resourceSpecFromJson(toJson(*ok)), *ok);
  EXPECT_TRUE(validateResources(*ok, 1, 256, 2).ok());
  auto field = [&](const json& disks) {
    auto r = parse(disks);
    if (!r.ok()) return r.error().field;
    auto v = validateResources(*r, 1, 256, 2);
    return v.ok() ? std::string("ok") : v.error().field;
  };
  EXPECT_EQ(field({{"root", {{"write_bps_max", 100}}}}),
            "resources.disk_limits.root.write_bps_max");
  EXPECT_EQ(field({{"root", {{"write_bps", 200}, {"write_bps_max", 100}}}}),
            "resources.disk_limits.root.write_bps_max");
  EXPECT_EQ(field({{"root", {{"write_bps", 200}, {"burst_seconds", 3}}}}),
            "resources.disk_limits.root.burst_seconds");
  EXPECT_EQ(field({{"root", {{"write_bps", 200}, {"group", "Not Valid"}}}}),
            "resources.disk_limits.root.group");
  EXPECT_EQ(field({{"data", {{"write_bps", 100}, {"group", "g"}}},
                   {"root", {{"write_bps", 200}, {"group", "g"}}}}),
            "resources.disk_limits.root.group");
  EXPECT_EQ(field({{"root", {{"group", 7}}}}), "resources.disk_limits.root.group");
}

TEST(ResourceSpec, StartTimeSettingsAreNamedWhenTheyChange) {
  ResourceSpec a, b;
  EXPECT_EQ(startTimeFieldChanged(a, b), "");
  b.cpuShares = 10;
  EXPECT_EQ(startTimeFieldChanged(a, b), "");
  b.pageSharing = false;
  EXPECT_EQ(startTimeFieldChanged(a, b), "page_sharing");
  b.memoryLock = true;
  EXPECT_EQ(startTimeFieldChanged(a, b), "memory_lock");
}

TEST(ResourceSpec, DiskLimitsParseAndMustNameDisksOfTheVm) {
  auto spec =
      vmSpecFromJson({{"name", "a"},
                      {"image", "tiny"},
                      {"disks", {{{"name", "root"}, {"size_mib", 64}}}},
                      {"resources", {{"disk_limits", {{"root", {{"write_bps", 1048576}}}}}}}});
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->resources.diskLimits.at("root").writeBps, 1048576u);
  EXPECT_TRUE(validateVmSpec(*spec, nullptr).ok());
  EXPECT_EQ(*resourceSpecFromJson(toJson(spec->resources)), spec->resources);
  auto other = *spec;
  other.resources.diskLimits["data"] = {};
  EXPECT_EQ(validateVmSpec(other, nullptr).error().field, "resources.disk_limits.data");
  auto bad = resourceSpecFromJson({{"disk_limits", {{"root", {{"write_mbps", 1}}}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "resources.disk_limits.root.write_mbps");
}

TEST(ResourceSpec, IsPartOfTheVmSpecAndItsPatches) {
  auto spec = vmSpecFromJson({{"name", "a"}, {"resources", {{"cpu_limit", 0.25}}}});
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->resources.cpuLimit, 0.25);
  EXPECT_EQ(toJson(*spec)["resources"]["cpu_limit"], 0.25);
  ASSERT_TRUE(applyVmPatch(*spec, {{"resources", {{"balloon_mib", 64}}}}).ok());
  EXPECT_EQ(spec->resources.balloonMib, 64u);
  EXPECT_EQ(spec->resources.cpuLimit, 0);  // the object is replaced whole
}

}  // namespace
}  // namespace paddock
