// Host-wide memory sharing (KSM): the operator's setting, kept in the store and applied again
// when paddockd starts (sysfs forgets it on reboot).
#pragma once

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/store.h"

namespace paddock {

class HostMemoryService {
 public:
  explicit HostMemoryService(Store& store) : store_(store) {}

  // {"run", "pages_to_scan", "sleep_millisecs", "pages_shared", "pages_sharing", "saved_bytes"}
  Result<nlohmann::json> ksm();
  // {"run": bool, "pages_to_scan"?: n, "sleep_millisecs"?: n}; unknown fields and bad values are
  // invalid_argument naming the field, and change nothing.
  Result<nlohmann::json> setKsm(const nlohmann::json& request);
  // Daemon start: applies the stored setting, if the operator ever made one.
  void restore();

 private:
  Store& store_;
};

}  // namespace paddock
