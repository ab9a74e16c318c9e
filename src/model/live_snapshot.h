// The collector's newest values as plain structs: a round builds one, and it becomes JSON
// (/v1/stats/live) or the Prometheus text exposition (/metrics) only when somebody asks, so a
// round at 1 s does not build and free a JSON tree nobody reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/vm_state.h"

namespace paddock {

struct LiveReading {
  const char* metric;  // a metric's catalog name (a string literal)
  std::string label;   // the label's value (disk name, NIC MAC, vCPU index), "" for none
  double value = 0;
};

struct LiveVm {
  std::string name;
  VmState state = VmState::stopped;
  bool sampled = false;         // its process was sampled this round
  std::int64_t memoryTsMs = 0;  // when its memory figures were sampled
  std::vector<LiveReading> readings;
  // The value of an unlabelled metric, when it was sampled.
  std::optional<double> value(std::string_view metric) const;
};

struct LiveSnapshot {
  std::int64_t tsMs = 0;
  std::int64_t intervalMs = 0;
  std::vector<LiveReading> host;
  std::vector<LiveVm> vms;

  const LiveVm* vm(std::string_view name) const;
  // {"ts_ms", "interval_ms", "host": {metric: value}, "vms": {name: {"state", metric: value,
  //  labelled metric: {label value: value}, "memory_ts_ms"}}}.
  nlohmann::json toJson() const;
  // The Prometheus text exposition format (version 0.0.4): VM metrics as
  // paddock_vm_<name>{vm="..."[,disk|nic|vcpu="..."]}, host metrics as paddock_<name>.
  std::string exposition() const;
};

}  // namespace paddock
