#include "model/operation.h"

#include "common/clock.h"

namespace paddock {

const char* operationStatusName(OperationStatus s) {
  switch (s) {
    case OperationStatus::running:
      return "running";
    case OperationStatus::succeeded:
      return "succeeded";
    case OperationStatus::failed:
      return "failed";
    case OperationStatus::cancelled:
      return "cancelled";
  }
  return "running";
}

nlohmann::json toJson(const Operation& op) {
  nlohmann::json j = {{"id", op.id},
                      {"kind", op.kind},
                      {"object", op.object},
                      {"status", operationStatusName(op.status)},
                      {"progress", op.progress},
                      {"message", op.message},
                      {"created_at", formatTimeMs(op.createdAtMs)},
                      {"updated_at", formatTimeMs(op.updatedAtMs)}};
  if (!op.result.is_null()) j["result"] = op.result;
  if (!op.error.is_null()) j["error"] = op.error;
  return j;
}

}  // namespace paddock
