// Converges the VMs of a directory file to what it declares: plan, then carry the plan out.
#pragma once

#include <vector>

#include "directory_file/directory_file.h"
#include "services/directory/plan.h"
#include "services/lifecycle/vm_service.h"
#include "services/operations.h"

namespace paddock {

class ApplyService {
 public:
  explicit ApplyService(VmService& vms) : vms_(vms) {}

  Result<Plan> plan(const std::string& directory, const std::vector<DesiredVm>& desired);
  // Carries out `plan`; stops at the first failing step (a later apply continues from there).
  // With `waitReady`, VMs it starts must also report ready.
  Result<nlohmann::json> execute(const Plan& plan, const std::vector<DesiredVm>& desired,
                                 bool waitReady, OperationContext& op);

 private:
  VmService& vms_;
};

}  // namespace paddock
