// A state change that clients can follow on /v1/events.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace paddock {

struct Event {
  int64_t id = 0;  // assigned by the store, increasing
  int64_t timeMs = 0;
  std::string type;    // "vm.state", "vm.created", "vm.deleted", "vm.updated", "operation"
  std::string object;  // "vm/web1", "operation/12"
  nlohmann::json data;
};

inline nlohmann::json toJson(const Event& e) {
  return {{"id", e.id},
          {"time_ms", e.timeMs},
          {"type", e.type},
          {"object", e.object},
          {"data", e.data}};
}

}  // namespace paddock
