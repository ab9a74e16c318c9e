#include "services/templates/template_service.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/names.h"
#include "images/qemu_img.h"
#include "services/disk_copy.h"

namespace paddock {

using nlohmann::json;

namespace {

constexpr const char* kKind = "template";
constexpr const char* kPartial = ".partial-";

// What of a VM's definition a template keeps: not its MACs and reserved IPs (every clone gets
// its own), not the host CPUs it was pinned to, not the labels Paddock itself manages.
VmSpec templateDefinition(VmSpec spec) {
  for (auto& nic : spec.nics) {
    nic.mac.clear();
    nic.ip.clear();
  }
  spec.resources.cpus.clear();
  spec.resources.dedicate = false;
  spec.resources.nicLimits.clear();
  std::erase_if(spec.labels, [](const auto& l) { return l.first.rfind("paddock.", 0) == 0; });
  spec.templateName.clear();
  spec.linkedClone = false;
  spec.storage.clear();  // a template's disks are this host's; so are its clones'
  return spec;
}

}  // namespace

TemplateService::TemplateService(std::string stateDir, Store& store, VmService& vms,
                                 EventBus& events)
    : stateDir_(std::move(stateDir)), store_(store), vms_(vms), events_(events) {}

std::string TemplateService::templateDir(const std::string& name) const {
  return stateDir_ + "/templates/" + name;
}

void TemplateService::cleanPartial() {
  removePrefixed(stateDir_ + "/templates", kPartial);
  removePrefixed(stateDir_ + "/disks", kPartial);
}

Status TemplateService::checkCreate(const std::string& name, const std::string& fromVm,
                                    const std::string& description, bool snapshot) {
  if (auto s = validateName(name, "template name"); !s)
    return makeError(Errc::invalid_argument, s.error().message, "name");
  if (description.size() > 1024)
    return makeError(Errc::invalid_argument, "description is longer than 1024 characters",
                     "description");
  if (auto existing = store_.getObject(kKind, name); existing)
    return makeError(Errc::conflict, fmt::format("template '{}' already exists", name), "name");
  auto vm = vms_.get(fromVm);
  if (!vm) return Error{vm.error().code, vm.error().message, "from_vm"};
  VmState state = vm->runtime.state;
  bool live = state == VmState::running || state == VmState::paused;
  if ((hasProcess(state) && !(live && snapshot)) || state == VmState::suspended)
    return makeError(
        Errc::conflict,
        fmt::format("VM '{}' is {}: stop it before making a template of it{}", fromVm,
                    vmStateName(state),
                    live ? ", or pass --snapshot to copy its disks as they are now" : ""),
        "from_vm");
  return {};
}

// Copies the disks of running VM `proc` as they are at one instant into `partial`.
Status copyRunningDisks(VmProcess& proc, const std::string& name, const VmSpec& spec,
                        const std::string& partial, OperationContext* op) {
  BackupJob job;
  job.id = "template-" + name;
  for (const auto& d : spec.disks) {
    std::string target = partial + "/" + d.name + ".qcow2";
    PADDOCK_TRY(createQcow2(target, d.sizeMib));
    job.disks.push_back({d.name, target, ""});
  }
  BackupCallbacks cb;
  cb.progress = [op](std::uint64_t done, std::uint64_t total) {
    if (op)
      op->progress(static_cast<int>(95 * done / total),
                   fmt::format("copying the disks as they were at the start: {} of {} MiB",
                               done >> 20, total >> 20));
  };
  cb.cancelled = [op] { return op && op->cancelled(); };
  return proc.blockJobs().backup(job, cb);
}

Result<TemplateRecord> TemplateService::create(const std::string& name, const std::string& fromVm,
                                               const std::string& description, bool snapshot,
                                               OperationContext* op) {
  std::unique_lock lock(inUse_);
  PADDOCK_TRY(checkCreate(name, fromVm, description, snapshot));
  std::string partial = stateDir_ + "/templates/" + kPartial + name;
  std::string dir = templateDir(name);
  TemplateRecord t;
  auto copied = vms_.withVm(fromVm, [&](const VmRecord& vm, VmProcess* proc) -> Status {
    if (proc && !snapshot)
      return makeError(Errc::conflict, fmt::format("VM '{}' started meanwhile", fromVm));
    if (!proc && vm.runtime.state == VmState::suspended)
      return makeError(Errc::conflict, fmt::format("VM '{}' is suspended", fromVm));
    (void)removeAll(partial);
    PADDOCK_TRY(makeDirs(partial, 0750));
    Status s;
    if (proc) {
      s = copyRunningDisks(*proc, name, vm.spec, partial, op);
    } else {
      CopyProgress progress(op, vm.spec.disks, 0, 95);
      s = copyDisks(vms_.diskDir(fromVm), partial, vm.spec.disks, progress);
    }
    if (!s) {
      (void)removeAll(partial);
      return s;
    }
    t.vm = templateDefinition(vm.spec);
    return {};
  });
  if (!copied) return copied.error();
  for (const auto& d : t.vm.disks) chmod((partial + "/" + d.name + ".qcow2").c_str(), 0444);
  t.name = name;
  t.description = description;
  t.sourceVm = fromVm;
  t.createdAtMs = nowMs();
  (void)removeAll(dir);  // a folder no template record owns: left by a crash
  if (::rename(partial.c_str(), dir.c_str()) != 0) {
    Error e = makeError(Errc::internal, fmt::format("cannot move template '{}' into {}: {}", name,
                                                    dir, std::strerror(errno)));
    (void)removeAll(partial);
    return e;
  }
  if (auto s = store_.createObject(kKind, name, toJson(t)); !s) {
    (void)removeAll(dir);
    return s.error();
  }
  events_.publish("template.created", "template/" + name,
                  {{"source_vm", fromVm}, {"disks", t.vm.disks.size()}});
  return t;
}

Result<std::vector<TemplateRecord>> TemplateService::list() {
  auto docs = store_.listObjects(kKind);
  if (!docs) return docs.error();
  std::vector<TemplateRecord> out;
  for (const auto& d : *docs) {
    auto t = templateFromJson(d);
    if (!t) return t.error();
    out.push_back(std::move(*t));
  }
  return out;
}

Result<TemplateRecord> TemplateService::get(const std::string& name) {
  auto doc = store_.getObject(kKind, name);
  if (!doc) return doc.error();
  return templateFromJson(*doc);
}

Result<std::vector<std::string>> TemplateService::linkedClones(const std::string& name) {
  auto vms = vms_.list();
  if (!vms) return vms.error();
  std::vector<std::string> out;
  for (const auto& vm : *vms)
    if (vm.spec.linkedClone && vm.spec.templateName == name) out.push_back(vm.spec.name);
  return out;
}

Status TemplateService::install(const TemplateRecord& t, const std::string& preparedDir) {
  std::unique_lock lock(inUse_);
  PADDOCK_TRY(validateName(t.name, "template name"));
  if (store_.getObject(kKind, t.name))
    return makeError(Errc::conflict, fmt::format("template '{}' already exists", t.name), "name");
  for (const auto& d : t.vm.disks) chmod((preparedDir + "/" + d.name + ".qcow2").c_str(), 0444);
  std::string dir = templateDir(t.name);
  (void)makeDirs(stateDir_ + "/templates", 0750);
  (void)removeAll(dir);  // a folder no template record owns: left by a crash
  if (::rename(preparedDir.c_str(), dir.c_str()) != 0)
    return makeError(Errc::internal, fmt::format("cannot move template '{}' into {}: {}", t.name,
                                                 dir, std::strerror(errno)));
  if (auto s = store_.createObject(kKind, t.name, toJson(t)); !s) {
    (void)removeAll(dir);
    return s.error();
  }
  events_.publish("template.created", "template/" + t.name,
                  {{"source_vm", t.sourceVm}, {"disks", t.vm.disks.size()}, {"migrated", true}});
  return {};
}

Status TemplateService::remove(const std::string& name) {
  std::unique_lock lock(inUse_);
  PADDOCK_TRY(get(name));
  auto clones = linkedClones(name);
  if (!clones) return clones.error();
  if (!clones->empty()) {
    std::string list;
    for (const auto& c : *clones) list += (list.empty() ? "" : ", ") + c;
    return makeError(Errc::conflict,
                     fmt::format("template '{}' has {} linked clone(s) that read its disks ({}): "
                                 "delete them first",
                                 name, clones->size(), list));
  }
  PADDOCK_TRY(store_.deleteObject(kKind, name));
  (void)removeAll(templateDir(name));
  events_.publish("template.deleted", "template/" + name, json::object());
  return {};
}

Result<VmSpec> TemplateService::planDeploy(const std::string& name, const std::string& vmName,
                                           bool linked, const json& overrides) {
  auto t = get(name);
  if (!t) return t.error();
  VmSpec spec = t->vm;
  spec.name = vmName;
  spec.description.clear();
  spec.templateName = name;
  spec.linkedClone = linked;
  PADDOCK_TRY(applyDeployOverrides(spec, overrides));
  PADDOCK_TRY(validateVmSpec(spec, &vms_.config().host));
  if (auto existing = vms_.get(vmName); existing)
    return makeError(Errc::conflict, fmt::format("VM '{}' already exists", vmName), "name");
  return spec;
}

Result<VmSpec> TemplateService::resolve(const VmSpec& spec,
                                        const std::set<std::string>& setFields) {
  PADDOCK_TRY_ASSIGN(auto t, get(spec.templateName));
  VmSpec out = t.vm;
  out.name = spec.name;
  out.description.clear();
  out.templateName = spec.templateName;
  out.linkedClone = spec.linkedClone;
  auto has = [&](const char* f) { return setFields.count(f) > 0; };
  if (has("vcpus")) out.vcpus = spec.vcpus;
  if (has("memory_mib")) out.memoryMib = spec.memoryMib;
  if (has("nics")) out.nics = spec.nics;
  if (has("cmdline")) out.cmdline = spec.cmdline;
  if (has("description")) out.description = spec.description;
  if (has("accel")) out.accel = spec.accel;
  if (has("resources")) out.resources = spec.resources;
  if (has("customization")) out.customization = spec.customization;
  for (const auto& [k, v] : spec.labels) out.labels[k] = v;
  return out;
}

Result<VmRecord> TemplateService::deploySpec(const VmSpec& spec, OperationContext* op) {
  std::shared_lock lock(inUse_);
  PADDOCK_TRY(get(spec.templateName));
  PADDOCK_TRY(validateVmSpec(spec, &vms_.config().host));
  return makeClone(spec, op);
}

Result<VmRecord> TemplateService::deploy(const std::string& name, const std::string& vmName,
                                         bool linked, const json& overrides, OperationContext* op) {
  std::shared_lock lock(inUse_);
  auto planned = planDeploy(name, vmName, linked, overrides);
  if (!planned) return planned.error();
  return makeClone(*planned, op);
}

Result<VmRecord> TemplateService::makeClone(const VmSpec& target, OperationContext* op) {
  const VmSpec* spec = &target;
  const std::string& name = target.templateName;
  const std::string& vmName = target.name;
  bool linked = target.linkedClone;
  // Same depth as disks/<vm>/, so the overlays' relative backing paths hold after the rename.
  std::string prepared = stateDir_ + "/disks/" + kPartial + vmName;
  (void)removeAll(prepared);
  PADDOCK_TRY(makeDirs(prepared, 0750));
  Status made;
  if (linked) {
    for (const auto& d : spec->disks) {
      made = createOverlay(prepared + "/" + d.name + ".qcow2",
                           fmt::format("../../templates/{}/{}.qcow2", name, d.name));
      if (!made) break;
    }
  } else {
    CopyProgress progress(op, spec->disks, 0, 95);
    made = copyDisks(templateDir(name), prepared, spec->disks, progress);
  }
  if (!made) {
    (void)removeAll(prepared);
    return made.error();
  }
  auto rec = vms_.createWithDisks(*spec, prepared);
  if (!rec) (void)removeAll(prepared);
  return rec;
}

}  // namespace paddock
