// A long-running request: started, polled on /v1/operations/{id}, finished with a result or error.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace paddock {

enum class OperationStatus { running, succeeded, failed, cancelled };
const char* operationStatusName(OperationStatus s);

struct Operation {
  int64_t id = 0;
  std::string kind;    // "vm.start", "image.build", "apply"
  std::string object;  // "vm/web1"
  OperationStatus status = OperationStatus::running;
  int progress = 0;     // percent
  std::string message;  // what it is doing now
  nlohmann::json result;
  nlohmann::json error;  // {"code":..., "message":...}
  int64_t createdAtMs = 0;
  int64_t updatedAtMs = 0;
};

nlohmann::json toJson(const Operation& op);

}  // namespace paddock
