// Converges the networks and VMs of a directory file to what it declares: plan, then carry the
// plan out.
#pragma once

#include <vector>

#include "directory_file/directory_file.h"
#include "services/directory/plan.h"
#include "services/lifecycle/vm_service.h"
#include "services/network/network_service.h"
#include "services/operations.h"
#include "services/templates/template_service.h"

namespace paddock {

class ApplyService {
 public:
  ApplyService(VmService& vms, NetworkService& networks, TemplateService& templates)
      : vms_(vms), networks_(networks), templates_(templates) {}

  // VMs with `template:` get the template's definition under the fields their file set, so the
  // plan compares what they really are (disks, boot) and their create clones the template.
  Status resolveTemplates(std::vector<DesiredVm>& vms);

  // Without `managesNetworks` (a file with no `networks:` key) no network is planned at all.
  Result<Plan> plan(const std::string& directory, bool managesNetworks,
                    const std::vector<DesiredNetwork>& networks, const std::vector<DesiredVm>& vms);
  // Carries out `plan`: network creates, VM steps, VM starts, network deletes. Stops at the first
  // failing step (a later apply continues from there). With `waitReady`, VMs it starts must also
  // report ready.
  Result<nlohmann::json> execute(const Plan& plan, const std::vector<DesiredVm>& desired,
                                 bool waitReady, OperationContext& op);

 private:
  VmService& vms_;
  NetworkService& networks_;
  TemplateService& templates_;
};

}  // namespace paddock
