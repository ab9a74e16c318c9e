// The collector's newest values: the JSON /v1/stats/live serves and the Prometheus text /metrics
// serves, built from a snapshot made by hand.
#include <gtest/gtest.h>

#include "model/live_snapshot.h"

namespace paddock {
namespace {

LiveSnapshot sample() {
  LiveSnapshot s;
  s.tsMs = 5000;
  s.intervalMs = 1000;
  s.host = {{"host_cpu_percent", "", 12.5}, {"host_vms_running", "", 1}};
  LiveVm busy{"busy", VmState::running, true, 4000, {}};
  busy.readings = {{"memory_guest_available_bytes", "", 1048576},
                   {"cpu_percent", "", 97.25},
                   {"vcpu_percent", "0", 60},
                   {"vcpu_percent", "1", 37.25},
                   {"disk_write_bytes_per_second", "root", 4096}};
  LiveVm odd{"we\"ird\\", VmState::running, true, 4000, {{"cpu_percent", "", 1}}};
  LiveVm off{"off", VmState::stopped, false, 0, {}};
  s.vms = {busy, odd, off};
  return s;
}

TEST(LiveSnapshot, JsonNestsLabelledMetricsAndShowsOnlyTheStateOfAnUnsampledVm) {
  auto j = sample().toJson();
  EXPECT_EQ(j["ts_ms"], 5000);
  EXPECT_EQ(j["interval_ms"], 1000);
  EXPECT_EQ(j["host"]["host_cpu_percent"], 12.5);
  const auto& busy = j["vms"]["busy"];
  EXPECT_EQ(busy["state"], "running");
  EXPECT_EQ(busy["cpu_percent"], 97.25);
  EXPECT_EQ(busy["vcpu_percent"]["1"], 37.25);
  EXPECT_EQ(busy["disk_write_bytes_per_second"]["root"], 4096);
  EXPECT_EQ(busy["memory_ts_ms"], 4000);
  EXPECT_EQ(j["vms"]["off"], (nlohmann::json{{"state", "stopped"}}));
}

TEST(LiveSnapshot, LooksUpAVmAndItsUnlabelledValues) {
  auto s = sample();
  ASSERT_NE(s.vm("busy"), nullptr);
  EXPECT_EQ(s.vm("nope"), nullptr);
  EXPECT_EQ(s.vm("busy")->value("memory_guest_available_bytes"), 1048576);
  EXPECT_EQ(s.vm("busy")->value("vcpu_percent"), std::nullopt);  // labelled
  EXPECT_EQ(s.vm("off")->value("cpu_percent"), std::nullopt);
}

TEST(LiveSnapshot, ExpositionHasOneFamilyPerMetricWithEscapedLabels) {
  std::string text = sample().exposition();
  auto has = [&](const std::string& piece) { return text.find(piece) != std::string::npos; };
  EXPECT_TRUE(has("# TYPE paddock_host_cpu_percent gauge\npaddock_host_cpu_percent 12.5\n"));
  EXPECT_TRUE(
      has("# TYPE paddock_vm_cpu_percent gauge\n"
          "paddock_vm_cpu_percent{vm=\"busy\"} 97.25\n"
          "paddock_vm_cpu_percent{vm=\"we\\\"ird\\\\\"} 1\n"));
  EXPECT_TRUE(
      has("paddock_vm_vcpu_percent{vm=\"busy\",vcpu=\"0\"} 60\n"
          "paddock_vm_vcpu_percent{vm=\"busy\",vcpu=\"1\"} 37.25\n"));
  EXPECT_TRUE(has("paddock_vm_disk_write_bytes_per_second{vm=\"busy\",disk=\"root\"} 4096\n"));
  EXPECT_FALSE(has("vm=\"off\""));
  EXPECT_FALSE(has("paddock_vm_memory_rss_bytes"));  // a family with no values is left out
}

}  // namespace
}  // namespace paddock
