#pragma once

#include "engine/engine.h"

namespace paddock {

class QemuEngine : public Engine {
 public:
  Result<VmProcessPtr> start(const LaunchSpec& spec, VmProcessCallbacks callbacks) override;
  Result<VmProcessPtr> adopt(const std::string& name, const std::string& runDir,
                             VmProcessCallbacks callbacks) override;
  Result<std::unique_ptr<DiskSession>> openDisks(const std::string& name,
                                                 const std::vector<LaunchDisk>& disks,
                                                 const std::string& runDir) override;
  std::string version() override;
};

}  // namespace paddock
