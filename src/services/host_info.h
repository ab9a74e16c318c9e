// What `paddock host info` shows: capacity, QEMU, and which accelerator and why.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "model/vm_spec.h"
#include "services/lifecycle/accel_resolver.h"

namespace paddock {

HostLimits readHostLimits();

class HostInfoService {
 public:
  HostInfoService(Engine& engine, AccelResolver& accel, std::string stateDir)
      : engine_(engine), accel_(accel), stateDir_(std::move(stateDir)) {}
  nlohmann::json info();

 private:
  Engine& engine_;
  AccelResolver& accel_;
  std::string stateDir_;
};

}  // namespace paddock
