// Named guest customization specs (stored as objects of kind "customization") and the NoCloud
// seed of each VM that names one, rebuilt in the VM's run directory at every start.
#pragma once

#include <string>
#include <vector>

#include "model/customization_spec.h"
#include "services/event_bus.h"
#include "services/lifecycle/guest_seed_provider.h"
#include "store/store.h"

namespace paddock {

class CustomizationService : public GuestSeedProvider {
 public:
  CustomizationService(Store& store, EventBus& events) : store_(store), events_(events) {}

  // Parses `yaml` (errors name the line and key) and records it as `name`.
  Result<CustomizationRecord> create(const std::string& name, const std::string& description,
                                     const std::string& yaml);
  // Replaces the spec of an existing customization; VMs use it from their next start.
  Result<CustomizationRecord> replace(const std::string& name, const std::string& description,
                                      const std::string& yaml);
  Result<std::vector<CustomizationRecord>> list();
  Result<CustomizationRecord> get(const std::string& name);
  // Refused (conflict) while VMs name it.
  Status remove(const std::string& name);
  Result<std::vector<std::string>> usedBy(const std::string& name);

  Status check(const VmSpec& spec) override;
  Result<std::string> seed(const VmSpec& spec, const std::string& runDir) override;

 private:
  Result<CustomizationRecord> parse(const std::string& name, const std::string& description,
                                    const std::string& yaml);

  Store& store_;
  EventBus& events_;
};

}  // namespace paddock
