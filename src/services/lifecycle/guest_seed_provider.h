// What the lifecycle needs from guest customization, implemented by CustomizationService: a
// check that a VM's customization exists, and the cloud-init seed for a VM that is starting.
#pragma once

#include <string>

#include "common/result.h"
#include "model/vm_spec.h"

namespace paddock {

class GuestSeedProvider {
 public:
  virtual ~GuestSeedProvider() = default;
  // The customization `spec` names exists (and, for static NICs, the NICs can be static).
  virtual Status check(const VmSpec& spec) = 0;
  // Writes the seed image for `spec` into `runDir` and returns its path; "" when `spec` names no
  // customization.
  virtual Result<std::string> seed(const VmSpec& spec, const std::string& runDir) = 0;
};

}  // namespace paddock
