// Templates (vCenter's "clone to template", Proxmox's templates): a stopped VM's definition and
// a read-only copy of its disks under STATE/templates/<name>/, and deployments from them: linked
// clones, whose disks are qcow2 overlays on the template's (constant time whatever the size),
// or full clones, whose disks are independent copies.
//
// Crash safety: a template is copied into templates/.partial-<name>/ and a clone's disks are
// made in disks/.partial-<vm>/; each is renamed into place only when complete and then recorded
// in the store. cleanPartial() removes what an interrupted create or deploy left.
#pragma once

#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/template_spec.h"
#include "services/event_bus.h"
#include "services/lifecycle/vm_service.h"
#include "services/operations.h"
#include "store/store.h"

namespace paddock {

class TemplateService {
 public:
  TemplateService(std::string stateDir, Store& store, VmService& vms, EventBus& events);

  // Copies the disks of stopped VM `fromVm` (with progress) and records template `name`. With
  // `snapshot`, a running or paused VM is copied as its disks are at one instant (crash-
  // consistent, by QEMU's backup jobs) while it keeps running; without, it is refused.
  Result<TemplateRecord> create(const std::string& name, const std::string& fromVm,
                                const std::string& description, bool snapshot,
                                OperationContext* op);
  // What create() would refuse before it copies anything (the API answers it with a 4xx).
  Status checkCreate(const std::string& name, const std::string& fromVm,
                     const std::string& description, bool snapshot);
  Result<std::vector<TemplateRecord>> list();
  Result<TemplateRecord> get(const std::string& name);
  // Refused (conflict) while linked clones depend on it; full clones do not.
  Status remove(const std::string& name);
  // A new VM `vmName` from template `name`: a linked clone or a full copy (with progress).
  // `overrides` may change what applyDeployOverrides allows.
  Result<VmRecord> deploy(const std::string& name, const std::string& vmName, bool linked,
                          const nlohmann::json& overrides, OperationContext* op);
  // Checks a deployment without making anything: the template exists, the VM name is free and
  // the resulting definition is valid. The API calls it before starting the operation.
  Result<VmSpec> planDeploy(const std::string& name, const std::string& vmName, bool linked,
                            const nlohmann::json& overrides);
  // The same for a whole definition (`spec.templateName` names the template): what a directory
  // file's `template:` VM becomes, see resolve().
  Result<VmRecord> deploySpec(const VmSpec& spec, OperationContext* op);
  // The definition a VM from template `spec.templateName` has: the template's, with the fields
  // in `setFields` (JSON names: vcpus, memory_mib, nics, ...) taken from `spec`. Disks and boot
  // always come from the template.
  Result<VmSpec> resolve(const VmSpec& spec, const std::set<std::string>& setFields);
  // The VMs that are linked clones of template `name`.
  Result<std::vector<std::string>> linkedClones(const std::string& name);
  // Registers template `t` whose disk files are in `preparedDir` (a migration brought them):
  // the folder is moved into place, its files made read-only. Conflict if the name is taken.
  Status install(const TemplateRecord& t, const std::string& preparedDir);
  // Daemon start: removes half-made templates and clone disks an interrupted run left.
  void cleanPartial();

  std::string templateDir(const std::string& name) const;

 private:
  // Makes the clone's disks (overlays or copies) and registers it; inUse_ held shared.
  Result<VmRecord> makeClone(const VmSpec& spec, OperationContext* op);

  std::string stateDir_;
  Store& store_;
  VmService& vms_;
  EventBus& events_;
  // Deployments share it; removing a template takes it alone, so no clone is half made from a
  // template that is going away.
  std::shared_mutex inUse_;
};

}  // namespace paddock
