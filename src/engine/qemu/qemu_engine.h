#pragma once

#include "engine/engine.h"

namespace paddock {

class QemuEngine : public Engine {
 public:
  Result<VmProcessPtr> start(const LaunchSpec& spec, VmProcessCallbacks callbacks) override;
  Result<VmProcessPtr> adopt(const std::string& name, const std::string& runDir,
                             VmProcessCallbacks callbacks) override;
  std::string version() override;
};

}  // namespace paddock
