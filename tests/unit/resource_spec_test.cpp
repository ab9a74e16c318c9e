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
  EXPECT_TRUE(validateResources(r, 256, 2).ok());
  r.cpuLimit = 3;
  EXPECT_EQ(validateResources(r, 256, 2).error().field, "resources.cpu_limit");
  r.cpuLimit = 0.001;
  EXPECT_EQ(validateResources(r, 256, 2).error().field, "resources.cpu_limit");
  r = {};
  r.cpus = {2};
  EXPECT_EQ(validateResources(r, 256, 2).error().field, "resources.cpus");
  r = {};
  r.dedicate = true;
  EXPECT_EQ(validateResources(r, 256, 2).error().field, "resources.dedicate");
  r = {};
  r.balloonMib = 512;
  EXPECT_EQ(validateResources(r, 256, 2).error().field, "resources.balloon_mib");
  r.balloonMib = 8;
  EXPECT_EQ(validateResources(r, 256, 2).error().field, "resources.balloon_mib");
  r = {};
  r.memoryLimitMib = 128;
  EXPECT_EQ(validateResources(r, 256, 2).error().field, "resources.memory_limit_mib");
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
