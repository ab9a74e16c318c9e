#include "services/lifecycle/vm_service.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "images/qemu_img.h"
#include "model/snapshot.h"

namespace paddock {

namespace {

std::string vmObject(const std::string& name) {
  return "vm/" + name;
}

Error wrongState(const std::string& name, VmState state, const std::string& action) {
  return makeError(Errc::conflict,
                   fmt::format("cannot {} VM '{}': it is {}", action, name, vmStateName(state)));
}

}  // namespace

VmService::VmService(VmServiceConfig config, Store& store, Engine& engine, ImageStore& images,
                     AccelResolver& accel, EventBus& events, NicProvider& nics,
                     ResourceControl& resources)
    : config_(std::move(config)),
      store_(store),
      engine_(engine),
      images_(images),
      accel_(accel),
      events_(events),
      nics_(nics),
      resources_(resources),
      trash_(config_.stateDir + "/trash") {}

Result<std::vector<VmRecord>> VmService::othersThan(const std::string& name) {
  auto all = store_.listVms();
  if (!all) return all;
  std::erase_if(*all, [&](const VmRecord& r) { return r.spec.name == name; });
  return all;
}

VmService::~VmService() {
  detachAll();
}

std::string VmService::runDir(const std::string& name) const {
  return config_.stateDir + "/run/" + name;
}

std::string VmService::diskDir(const std::string& name) const {
  auto rec = store_.getVm(name);
  if (!rec) return config_.stateDir + "/disks/" + name;
  return diskDirFor(rec->spec);
}

std::string VmService::diskDirFor(const VmSpec& spec) const {
  auto shared = config_.sharedStorages.find(spec.storage);
  if (spec.storage.empty() || shared == config_.sharedStorages.end())
    return config_.stateDir + "/disks/" + spec.name;
  return shared->second + "/" + spec.name;
}

std::string VmService::ownerId() const {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + config_.stateDir;
}

Result<std::string> VmService::sharedStorageDir(const std::string& name) const {
  auto it = config_.sharedStorages.find(name);
  if (it == config_.sharedStorages.end())
    return makeError(Errc::invalid_argument,
                     fmt::format("storage: this host has no shared storage '{}' (paddockd "
                                 "--shared-storage {}=DIR)",
                                 name, name),
                     "storage");
  return it->second;
}

Result<VmService::EntryPtr> VmService::entry(const std::string& name) {
  auto rec = store_.getVm(name);
  if (!rec) return rec.error();
  std::lock_guard lock(entriesMutex_);
  auto& e = entries_[name];
  if (!e) {
    e = std::make_shared<VmEntry>();
    e->runtime = rec->runtime;
  }
  return e;
}

Result<VmRecord> VmService::record(const std::string& name) {
  auto rec = store_.getVm(name);
  if (!rec) return rec;
  std::lock_guard lock(entriesMutex_);
  if (auto it = entries_.find(name); it != entries_.end()) {
    std::lock_guard slock(it->second->state);
    rec->runtime = it->second->runtime;
  }
  return rec;
}

void VmService::setState(const std::string& name, VmEntry& e, VmState state,
                         const std::string& reason) {
  bool changed = e.runtime.state != state || e.runtime.reason != reason;
  e.runtime.state = state;
  e.runtime.reason = reason;
  if (changed) e.runtime.stateSinceMs = nowMs();
  if (!hasProcess(state)) e.runtime.pid = 0;
  if (auto s = store_.updateVmRuntime(name, e.runtime); !s)
    spdlog::error("cannot persist state of VM {}: {}", name, s.error().message);
  if (changed)
    events_.publish("vm.state", vmObject(name),
                    {{"state", vmStateName(state)}, {"reason", reason}});
  e.changed.notify_all();
}

Status VmService::checkImage(const VmSpec& spec) {
  if (!spec.image.empty()) {
    auto info = images_.info(spec.image);
    if (!info) return makeError(Errc::invalid_argument, info.error().message, "image");
    if (!info->built)
      return makeError(Errc::invalid_argument,
                       fmt::format("image '{}' is not built yet (run: paddock image build {})",
                                   spec.image, spec.image),
                       "image");
    if (!info->rootDisk.empty() && spec.disks.empty())
      return makeError(Errc::invalid_argument,
                       fmt::format("image '{}' boots from a root disk: give the VM one (e.g. "
                                   "--disk root=4G; the first disk starts as the image's)",
                                   spec.image),
                       "disks");
  } else {
    if (!pathExists(spec.kernel))
      return makeError(Errc::invalid_argument, fmt::format("kernel {} does not exist", spec.kernel),
                       "kernel");
    if (!spec.initrd.empty() && !pathExists(spec.initrd))
      return makeError(Errc::invalid_argument, fmt::format("initrd {} does not exist", spec.initrd),
                       "initrd");
  }
  return {};
}

Status VmService::createDisks(const VmSpec& spec) {
  std::string dir = diskDirFor(spec);
  if (!spec.storage.empty()) {
    // Another host may keep a VM of this name there: its disks are never taken over.
    if (::mkdir(dir.c_str(), 0750) != 0)
      return makeError(errno == EEXIST ? Errc::conflict : Errc::unavailable,
                       fmt::format("storage '{}': cannot make {}: {}", spec.storage, dir,
                                   errno == EEXIST ? "it exists (a VM of this name on another "
                                                     "host that shares the storage?)"
                                                   : std::strerror(errno)),
                       "storage");
  }
  PADDOCK_TRY(makeDirs(dir, 0750));
  for (const auto& d : spec.disks) {
    std::string path = dir + "/" + d.name + ".qcow2";
    if (pathExists(path)) continue;
    if (&d == &spec.disks.front()) {
      auto from = imageRootDisk(spec);
      if (!from) return from.error();
      if (!from->empty()) {
        PADDOCK_TRY(copyRootDisk(*from, path, d));
        continue;
      }
    }
    PADDOCK_TRY(createQcow2(path, d.sizeMib));
  }
  return {};
}

Result<std::string> VmService::imageRootDisk(const VmSpec& spec) {
  if (spec.image.empty()) return std::string();
  auto info = images_.info(spec.image);
  if (!info) return info.error();
  return info->rootDisk;
}

// A full copy, not an overlay on the image: the disk stays whole when the VM migrates, is backed
// up or outlives a rebuilt image.
Status VmService::copyRootDisk(const std::string& image, const std::string& path,
                               const DiskSpec& disk) {
  auto size = qcow2VirtualSizeMib(image);
  if (!size) return size.error();
  if (disk.sizeMib < *size)
    return makeError(Errc::invalid_argument,
                     fmt::format("disk '{}' is {}M and the image's root filesystem needs {}M",
                                 disk.name, disk.sizeMib, *size),
                     "disks");
  auto copied = copyQcow2(
      image, path, path + ".log", [](double) {}, [] { return false; });
  (void)::unlink((path + ".log").c_str());
  PADDOCK_TRY(copied);
  return growQcow2(path, disk.sizeMib);
}

Result<VmRecord> VmService::create(const VmSpec& spec) {
  if (!spec.templateName.empty())
    return makeError(Errc::invalid_argument,
                     fmt::format("a VM from template '{}' is made by deploying the template "
                                 "(POST /v1/templates/{}/deploy)",
                                 spec.templateName, spec.templateName),
                     "template");
  return createImpl(spec, "", VmState::stopped, "");
}

Result<VmRecord> VmService::createWithDisks(const VmSpec& spec, const std::string& preparedDisks,
                                            VmState initial, const std::string& reason) {
  if (initial != VmState::stopped && initial != VmState::suspended)
    return makeError(Errc::internal, "a VM is registered stopped or suspended");
  return createImpl(spec, preparedDisks, initial, reason);
}

Result<VmSpec> VmService::vetLocked(const VmSpec& requested) {
  VmSpec spec = requested;
  PADDOCK_TRY(validateVmSpec(spec, &config_.host));
  PADDOCK_TRY(checkImage(spec));
  if (!spec.storage.empty()) {
    PADDOCK_TRY(sharedStorageDir(spec.storage));
    if (!spec.templateName.empty())
      return makeError(Errc::invalid_argument,
                       "storage: a VM deployed from a template stays on this host's own disk "
                       "directory (its template is there); create it empty on shared storage",
                       "storage");
  }
  if (auto existing = store_.getVm(spec.name); existing)
    return makeError(Errc::conflict, fmt::format("VM '{}' already exists", spec.name), "name");
  auto others = othersThan(spec.name);
  if (!others) return others.error();
  PADDOCK_TRY(nics_.prepare(spec, *others));
  PADDOCK_TRY(resources_.check(spec, *others));
  if (seeds_) PADDOCK_TRY(seeds_->check(spec));
  return spec;
}

Status VmService::checkCreate(const VmSpec& spec) {
  std::lock_guard admit(admission_);
  auto vetted = vetLocked(spec);
  if (!vetted) return vetted.error();
  return {};
}

Result<VmRecord> VmService::createImpl(const VmSpec& requested, const std::string& preparedDisks,
                                       VmState initial, const std::string& reason) {
  std::lock_guard admit(admission_);
  auto vetted = vetLocked(requested);
  if (!vetted) return vetted.error();
  const VmSpec& spec = *vetted;
  VmRecord rec;
  rec.spec = spec;
  rec.createdAtMs = rec.updatedAtMs = nowMs();
  rec.runtime.stateSinceMs = rec.createdAtMs;
  rec.runtime.state = initial;
  rec.runtime.reason = reason;
  // Disks first: a VM is only in the store once everything it needs exists.
  std::string dir = diskDirFor(spec);
  // A VM arriving live on shared storage finds its disks where they belong, and they stay
  // whatever happens here: the source still runs on them.
  bool inPlace = !spec.storage.empty() && preparedDisks == dir;
  if (inPlace) {
    if (!pathExists(dir))
      return makeError(Errc::unprocessable,
                       fmt::format("storage '{}': the disks of VM '{}' are not in {}", spec.storage,
                                   spec.name, dir),
                       "storage");
  } else if (!preparedDisks.empty()) {
    if (!spec.storage.empty())
      return makeError(Errc::invalid_argument,
                       "storage: a VM on shared storage is created empty or arrives live; "
                       "copying prepared disks onto shared storage is not built",
                       "storage");
    PADDOCK_TRY(makeDirs(config_.stateDir + "/disks", 0750));
    if (::rename(preparedDisks.c_str(), dir.c_str()) != 0)
      return makeError(Errc::conflict, fmt::format("cannot move the disks of VM '{}' into {}: {}",
                                                   spec.name, dir, std::strerror(errno)));
  } else if (auto s = createDisks(spec); !s) {
    if (s.error().code != Errc::conflict) (void)removeAll(dir);
    return s.error();
  }
  if (auto s = store_.createVm(rec); !s) {
    if (s.error().code != Errc::conflict && !inPlace) (void)removeAll(dir);
    return s.error();
  }
  // On shared storage the disks say which host's VM they are: the one that registered them
  // last. Only that host deletes them (another may still hold a stale record of the VM).
  if (!spec.storage.empty())
    if (auto s = writeFileAtomic(dir + "/" + kOwnerFile, ownerId() + "\n", 0640); !s)
      spdlog::warn("VM {}: cannot mark its disks as this host's: {}", spec.name, s.error().message);
  if (!spec.nics.empty()) nics_.nicsChanged();
  events_.publish("vm.created", vmObject(spec.name), toJson(spec));
  return rec;
}

Status VmService::withVm(const std::string& name,
                         const std::function<Status(const VmRecord&, VmProcess*)>& fn) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard action((*e)->action);
  auto rec = record(name);
  if (!rec) return rec.error();
  std::shared_ptr<VmProcess> p;
  {
    std::lock_guard slock((*e)->state);
    if ((*e)->runtime.state == VmState::running || (*e)->runtime.state == VmState::paused)
      p = (*e)->process;
    else if (hasProcess((*e)->runtime.state) || (*e)->runtime.state == VmState::suspended)
      return makeError(Errc::conflict, fmt::format("VM '{}' is {}: wait until it has settled", name,
                                                   vmStateName((*e)->runtime.state)));
  }
  return fn(*rec, p.get());
}

Status VmService::whileStopped(const std::string& name,
                               const std::function<Status(const VmRecord&)>& fn) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard action((*e)->action);
  auto rec = record(name);
  if (!rec) return rec.error();
  if (hasProcess(rec->runtime.state) || rec->runtime.state == VmState::suspended)
    return makeError(Errc::conflict, fmt::format("VM '{}' is {}: stop it first", name,
                                                 vmStateName(rec->runtime.state)));
  return fn(*rec);
}

Result<std::vector<VmRecord>> VmService::list() {
  auto all = store_.listVms();
  if (!all) return all;
  std::lock_guard lock(entriesMutex_);
  for (auto& rec : *all) {
    if (auto it = entries_.find(rec.spec.name); it != entries_.end()) {
      std::lock_guard slock(it->second->state);
      rec.runtime = it->second->runtime;
    }
  }
  return all;
}

Result<VmRecord> VmService::get(const std::string& name) {
  return record(name);
}

Status VmService::reconcileDisks(const VmSpec& before, const VmSpec& after) {
  std::map<std::string, uint64_t> old;
  for (const auto& d : before.disks) old[d.name] = d.sizeMib;
  for (const auto& d : after.disks) {
    std::string path = diskDir(after.name) + "/" + d.name + ".qcow2";
    auto it = old.find(d.name);
    if (it == old.end()) continue;
    if (d.sizeMib < it->second)
      return makeError(Errc::invalid_argument,
                       fmt::format("disk '{}' is {}M; shrinking it to {}M would destroy data",
                                   d.name, it->second, d.sizeMib),
                       "disks");
  }
  for (const auto& d : after.disks) {
    std::string path = diskDir(after.name) + "/" + d.name + ".qcow2";
    if (old.count(d.name)) {
      PADDOCK_TRY(growQcow2(path, d.sizeMib));
    } else {
      PADDOCK_TRY(makeDirs(diskDir(after.name), 0750));
      PADDOCK_TRY(createQcow2(path, d.sizeMib));
    }
    old.erase(d.name);
  }
  for (const auto& [gone, size] : old)
    unlink((diskDir(after.name) + "/" + gone + ".qcow2").c_str());
  return {};
}

namespace {

// The engine's handle on a NIC that is already attached. The device id follows the MAC, as
// NicProvider::attach makes it; unplugging uses only the id.
LaunchNic attachedNic(const NicSpec& nic) {
  std::string id = nic.mac;
  std::erase(id, ':');
  return LaunchNic{id, "", nic.mac, {}};
}

// NICs of `a` not in `b`, compared whole: a NIC whose network, port group or IP changed is
// unplugged and plugged again.
std::vector<NicSpec> nicsMissingFrom(const std::vector<NicSpec>& a, const std::vector<NicSpec>& b) {
  std::vector<NicSpec> out;
  for (const auto& n : a)
    if (std::find(b.begin(), b.end(), n) == b.end()) out.push_back(n);
  return out;
}

}  // namespace

Status VmService::replugNics(const std::string& name, VmProcess& process, const VmSpec& before,
                             const VmSpec& after) {
  auto removed = nicsMissingFrom(before.nics, after.nics);
  auto added = nicsMissingFrom(after.nics, before.nics);
  std::vector<NicSpec> unplugged, plugged;
  auto undo = [&](const Error& why) -> Status {
    spdlog::warn("VM {}: NIC change failed ({}); undoing it", name, why.message);
    for (auto it = plugged.rbegin(); it != plugged.rend(); ++it) {
      if (auto s = process.unplugNic(attachedNic(*it)); !s) {
        spdlog::error("VM {}: cannot unplug NIC {} again: {}", name, it->mac, s.error().message);
        continue;
      }
      nics_.detachNic(*it);
    }
    for (auto it = unplugged.rbegin(); it != unplugged.rend(); ++it) {
      auto nic = nics_.attachNic(name, *it);
      auto s = nic ? process.hotplugNic(*nic) : Status(nic.error());
      if (!s) {
        spdlog::error("VM {}: cannot plug NIC {} back: {}", name, it->mac, s.error().message);
        if (nic) nics_.detachNic(*it);
      }
    }
    return why;
  };
  for (const auto& nic : removed) {
    if (auto s = process.unplugNic(attachedNic(nic)); !s) return undo(s.error());
    nics_.detachNic(nic);
    unplugged.push_back(nic);
  }
  for (const auto& nic : added) {
    auto launch = nics_.attachNic(name, nic);
    if (!launch) return undo(launch.error());
    if (auto s = process.hotplugNic(*launch); !s) {
      nics_.detachNic(nic);
      return undo(s.error());
    }
    plugged.push_back(nic);
  }
  return {};
}

Result<VmRecord> VmService::update(const std::string& name, const nlohmann::json& patch) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard action((*e)->action);
  std::lock_guard admit(admission_);
  auto rec = store_.getVm(name);
  if (!rec) return rec.error();
  VmSpec updated = rec->spec;
  PADDOCK_TRY(applyVmPatch(updated, patch));
  // A NIC that goes takes its rate limits along, unless the same request sets them.
  if (!patch.contains("resources"))
    std::erase_if(updated.resources.nicLimits, [&](const auto& limit) {
      return std::none_of(updated.nics.begin(), updated.nics.end(),
                          [&](const NicSpec& n) { return n.mac == limit.first; });
    });
  PADDOCK_TRY(validateVmSpec(updated, &config_.host));
  bool nicsChanged = updated.nics != rec->spec.nics;
  bool resourcesChanged = updated.resources != rec->spec.resources;
  if (nicsChanged || resourcesChanged) {
    auto others = othersThan(name);
    if (!others) return others.error();
    if (nicsChanged) PADDOCK_TRY(nics_.prepare(updated, *others));
    if (resourcesChanged) PADDOCK_TRY(resources_.check(updated, *others));
  }
  if (seeds_ && (nicsChanged || updated.customization != rec->spec.customization))
    PADDOCK_TRY(seeds_->check(updated));
  bool hardware = updated.vcpus != rec->spec.vcpus || updated.memoryMib != rec->spec.memoryMib ||
                  updated.disks != rec->spec.disks || updated.image != rec->spec.image ||
                  updated.kernel != rec->spec.kernel || updated.initrd != rec->spec.initrd ||
                  updated.accel != rec->spec.accel || updated.cmdline != rec->spec.cmdline;
  auto removed = nicsMissingFrom(rec->spec.nics, updated.nics);
  auto added = nicsMissingFrom(updated.nics, rec->spec.nics);
  // Set when the VM runs and its NICs change: they are changed on the live VM first.
  std::shared_ptr<VmProcess> live;
  // Set when the VM has a process and its resources change: they change live too.
  std::shared_ptr<VmProcess> controlled;
  {
    std::lock_guard slock((*e)->state);
    VmState state = (*e)->runtime.state;
    if (hasProcess(state) && resourcesChanged) controlled = (*e)->process;
    if (state == VmState::suspended &&
        (hardware || nicsChanged || updated.customization != rec->spec.customization))
      return makeError(Errc::conflict,
                       fmt::format("VM '{}' is suspended: its saved state needs the same devices; "
                                   "resume it (or discard the state with vm stop) first",
                                   name));
    if (hasProcess(state)) {
      if (hardware)
        return makeError(Errc::conflict,
                         fmt::format("VM '{}' is {}: stop it before changing its hardware", name,
                                     vmStateName(state)));
      if (auto field = startTimeFieldChanged(rec->spec.resources, updated.resources);
          !field.empty())
        return makeError(Errc::conflict,
                         fmt::format("VM '{}' is {}: {} takes effect when QEMU starts, stop the "
                                     "VM before changing it",
                                     name, vmStateName(state), field),
                         "resources." + field);
      if (!removed.empty() || !added.empty()) {
        if (state != VmState::running && state != VmState::paused)
          return makeError(Errc::conflict,
                           fmt::format("VM '{}' is {}: its NICs can change while it is running, "
                                       "paused or stopped",
                                       name, vmStateName(state)));
        if (state == VmState::paused && !removed.empty())
          return makeError(Errc::conflict,
                           fmt::format("VM '{}' is paused: the guest has to release a NIC that "
                                       "is removed, resume it first",
                                       name));
        live = (*e)->process;
        if (!live)
          return makeError(Errc::conflict, fmt::format("VM '{}' is {}: no QEMU to change", name,
                                                       vmStateName(state)));
      }
    }
  }
  if (updated.image != rec->spec.image || updated.kernel != rec->spec.kernel ||
      updated.initrd != rec->spec.initrd)
    PADDOCK_TRY(checkImage(updated));
  if (updated.disks != rec->spec.disks) PADDOCK_TRY(reconcileDisks(rec->spec, updated));
  // Admission first: a refusal must find the VM unchanged.
  if (controlled) PADDOCK_TRY(resources_.admit(updated));
  // Only `action` is held here, as for any QMP call.
  if (live) {
    if (auto s = replugNics(name, *live, rec->spec, updated); !s) {
      if (controlled) (void)resources_.admit(rec->spec);
      return s.error();
    }
  }
  if (controlled) {
    if (auto s = resources_.apply(updated, *controlled); !s) {
      if (auto back = resources_.admit(rec->spec); !back)
        spdlog::error("VM {}: its old reservations no longer fit: {}", name, back.error().message);
      if (auto back = resources_.apply(rec->spec, *controlled); !back)
        spdlog::error("VM {}: resources differ from the stored spec: {}", name,
                      back.error().message);
      if (live) (void)replugNics(name, *live, updated, rec->spec);
      return s.error();
    }
  }
  if (auto s = store_.updateVmSpec(updated); !s) {
    if (controlled) {
      (void)resources_.admit(rec->spec);
      (void)resources_.apply(rec->spec, *controlled);
    }
    if (live) {
      // The store refused: put the VM back the way the stored spec says.
      if (auto back = replugNics(name, *live, updated, rec->spec); !back)
        spdlog::error("VM {}: NICs differ from the stored spec: {}", name, back.error().message);
    }
    return s.error();
  }
  if (nicsChanged) nics_.nicsChanged();
  // "live": the NIC was (un)plugged on the running VM, not just changed in its definition.
  for (const auto& nic : removed)
    events_.publish("vm.nic_removed", vmObject(name),
                    {{"mac", nic.mac}, {"network", nic.network}, {"live", live != nullptr}});
  for (const auto& nic : added)
    events_.publish("vm.nic_added", vmObject(name),
                    {{"mac", nic.mac}, {"network", nic.network}, {"live", live != nullptr}});
  events_.publish("vm.updated", vmObject(name), patch);
  return record(name);
}

Status VmService::remove(const std::string& name, bool force) {
  auto e = entry(name);
  if (!e) return e.error();
  {
    std::lock_guard action((*e)->action);
    VmState state;
    {
      std::lock_guard slock((*e)->state);
      state = (*e)->runtime.state;
    }
    if (hasProcess(state)) {
      if (!force)
        return makeError(Errc::conflict,
                         fmt::format("VM '{}' is {}: stop it first or delete with --force", name,
                                     vmStateName(state)));
      auto stopped = stopLocked(name, *e);
      if (!stopped) return stopped.error();
    }
    PADDOCK_TRY(eraseLocked(name));
  }
  {
    std::lock_guard lock(entriesMutex_);
    entries_.erase(name);
  }
  events_.publish("vm.deleted", vmObject(name), nlohmann::json::object());
  return {};
}

Status VmService::eraseLocked(const std::string& name, bool keepDisks) {
  auto rec = store_.getVm(name);
  PADDOCK_TRY(store_.deleteVm(name));
  if (rec && !rec->spec.nics.empty()) {
    nics_.detach(rec->spec);
    nics_.nicsChanged();
  }
  // The VM's snapshot records go with it (the snapshots themselves live in its disks).
  if (auto snaps = store_.listObjects(snapshotKind(name)))
    for (const auto& s : *snaps) (void)store_.deleteObject(snapshotKind(name), s.value("name", ""));
  (void)store_.deleteObject(kSnapshotCurrentKind, name);
  std::string disks = rec ? diskDirFor(rec->spec) : diskDir(name);
  if (!keepDisks && rec && !rec->spec.storage.empty()) {
    auto owner = readFile(disks + "/" + kOwnerFile);
    if (owner && *owner != ownerId() + "\n") {
      spdlog::warn("VM {}: its disks on storage '{}' belong to {} now; they are kept", name,
                   rec->spec.storage, *owner);
      keepDisks = true;
    }
  }
  if (!keepDisks) (void)trash_.discard(disks);
  (void)removeAll(runDir(name));
  return {};
}

Status VmService::handOver(const std::string& name,
                           const std::function<Status(const VmRecord&)>& fn) {
  auto e = entry(name);
  if (!e) return e.error();
  {
    std::lock_guard action((*e)->action);
    auto rec = record(name);
    if (!rec) return rec.error();
    if (hasProcess(rec->runtime.state))
      return makeError(Errc::conflict, fmt::format("VM '{}' is {}: stop or suspend it first", name,
                                                   vmStateName(rec->runtime.state)));
    PADDOCK_TRY(fn(*rec));
    PADDOCK_TRY(eraseLocked(name, /*keepDisks=*/!rec->spec.storage.empty()));
  }
  {
    std::lock_guard lock(entriesMutex_);
    entries_.erase(name);
  }
  events_.publish("vm.deleted", vmObject(name), {{"reason", "handed over to another host"}});
  return {};
}

Result<LaunchSpec> VmService::launchSpec(const VmSpec& spec, const std::string& diskFolder) {
  PADDOCK_TRY(checkImage(spec));
  auto accel = accel_.resolve(spec.accel);
  if (!accel) return accel.error();
  LaunchSpec l;
  l.name = spec.name;
  l.vcpus = spec.vcpus;
  l.memoryMib = spec.memoryMib;
  l.memoryLock = spec.resources.memoryLock;
  l.memoryMerge = spec.resources.pageSharing;
  l.accel = *accel;
  l.runDir = runDir(spec.name);
  if (!spec.image.empty()) {
    auto info = images_.info(spec.image);
    if (!info) return info.error();
    l.kernel = info->kernel;
    l.initrd = info->initrd;
  } else {
    l.kernel = spec.kernel;
    l.initrd = spec.initrd;
  }
  l.append = fmt::format("console=ttyS0 paddock.hostname={} quiet", spec.name);
  auto rootDisk = imageRootDisk(spec);
  if (!rootDisk) return rootDisk.error();
  if (!rootDisk->empty()) l.append += " root=/dev/vda rw";
  if (!spec.cmdline.empty()) l.append += " " + spec.cmdline;
  for (const auto& d : spec.disks) {
    std::string path =
        (diskFolder.empty() ? diskDir(spec.name) : diskFolder) + "/" + d.name + ".qcow2";
    if (!pathExists(path))
      return makeError(Errc::unavailable, fmt::format("disk file {} is missing", path));
    l.disks.push_back({d.name, path, "qcow2", false, ""});
  }
  // The seed goes last, so the VM's own disks keep their places (vda, vdb, ...).
  if (seeds_) {
    PADDOCK_TRY(makeDirs(l.runDir, 0700));
    auto seed = seeds_->seed(spec, l.runDir);
    if (!seed) return seed.error();
    if (!seed->empty()) l.disks.push_back({"cidata", *seed, "raw", true, "cidata"});
  }
  auto nics = nics_.attach(spec);
  if (!nics) return nics.error();
  l.nics = std::move(*nics);
  return l;
}

VmProcessCallbacks VmService::callbacksFor(const std::string& name, const EntryPtr& e,
                                           uint64_t generation) {
  std::weak_ptr<VmEntry> weak = e;
  VmProcessCallbacks cb;
  cb.onReady = [this, name, weak, generation](const std::string& line) {
    auto e = weak.lock();
    if (!e) return;
    std::lock_guard lock(e->state);
    if (e->generation != generation) return;
    e->runtime.readyAtMs = nowMs();
    e->runtime.readyLine = line;
    (void)store_.updateVmRuntime(name, e->runtime);
    events_.publish("vm.ready", vmObject(name), {{"line", line}});
    e->changed.notify_all();
  };
  cb.onPausedChanged = [this, name, weak, generation](bool paused) {
    auto e = weak.lock();
    if (!e) return;
    std::lock_guard lock(e->state);
    if (e->generation != generation || !hasProcess(e->runtime.state)) return;
    if (e->runtime.state == VmState::stopping) return;
    setState(name, *e, paused ? VmState::paused : VmState::running, paused ? "paused" : "");
  };
  cb.onReset = [this, name, weak, generation] {
    auto e = weak.lock();
    if (!e) return;
    std::lock_guard lock(e->state);
    if (e->generation != generation) return;
    e->runtime.readyAtMs = 0;
    e->runtime.readyLine.clear();
    (void)store_.updateVmRuntime(name, e->runtime);
    events_.publish("vm.reset", vmObject(name), nlohmann::json::object());
  };
  cb.onExit = [this, name, weak, generation](const VmExit& exit) {
    auto e = weak.lock();
    if (!e) return;
    std::shared_ptr<VmProcess> gone;
    {
      std::lock_guard lock(e->state);
      if (e->generation != generation) return;
      gone = std::move(e->process);
      setState(name, *e, exit.crashed ? VmState::crashed : VmState::stopped, exit.reason);
    }
    if (auto rec = store_.getVm(name)) nics_.detach(rec->spec);
    resources_.release(name);
    retire(std::move(gone));
  };
  return cb;
}

void VmService::retire(std::shared_ptr<VmProcess> p) {
  if (!p) return;
  // Destroying a process joins its exit watcher, which is the thread calling us: do it elsewhere.
  std::thread([p = std::move(p)]() mutable { p.reset(); }).detach();
}

Result<VmRecord> VmService::start(const std::string& name, OperationContext* op,
                                  const std::string& loadvm) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard action((*e)->action);
  auto rec = store_.getVm(name);
  if (!rec) return rec.error();
  uint64_t generation;
  bool fromSaved = false;
  {
    std::lock_guard slock((*e)->state);
    if (hasProcess((*e)->runtime.state))
      return makeError(Errc::conflict, fmt::format("VM '{}' is already {}", name,
                                                   vmStateName((*e)->runtime.state)));
    fromSaved = (*e)->runtime.state == VmState::suspended;
    generation = ++(*e)->generation;
  }
  if (fromSaved && !loadvm.empty())
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' is suspended: resume it or discard its saved state "
                                 "(vm stop) first",
                                 name));
  if (fromSaved && !pathExists(statePath(name)))
    return makeError(Errc::unavailable,
                     fmt::format("VM '{}' is suspended but its saved state {} is missing", name,
                                 statePath(name)));
  if (op) op->progress(10, "choosing accelerator");
  auto launch = launchSpec(rec->spec);
  if (!launch) return launch.error();
  launch->loadvm = loadvm;
  if (fromSaved) launch->incoming = statePath(name);
  if (auto s = resources_.admit(rec->spec); !s) {
    nics_.detach(rec->spec);
    return s.error();
  }
  {
    std::lock_guard slock((*e)->state);
    // A suspended guest was ready before and is again once loaded: it does not boot.
    std::string readyLine = fromSaved ? (*e)->runtime.readyLine : "";
    (*e)->runtime = VmRuntime{};
    if (fromSaved) {
      (*e)->runtime.readyLine = readyLine;
      (*e)->runtime.readyAtMs = nowMs();
    }
    (*e)->runtime.accel = launch->accel;
    (*e)->runtime.startedAtMs = nowMs();
    setState(name, **e, VmState::starting, "");
  }
  if (op) op->progress(30, fmt::format("starting QEMU ({})", launch->accel));
  auto proc = engine_.start(*launch, callbacksFor(name, *e, generation));
  if (proc && fromSaved) {
    // The state was saved paused; once loaded the guest continues.
    if (op) op->progress(45, "loading the saved state");
    auto s = (*proc)->waitIncoming(std::chrono::minutes(10));
    if (s) s = (*proc)->resume();
    if (!s) {
      (void)(*proc)->forceStop();
      proc = Result<VmProcessPtr>(s.error());
    }
  }
  if (proc) {
    if (op) op->progress(60, "applying resource controls");
    if (auto s = resources_.apply(rec->spec, **proc); !s) {
      // A VM that cannot get what its spec promises does not run at all.
      (void)(*proc)->forceStop();
      resources_.release(name);
      proc = Result<VmProcessPtr>(s.error());
    }
  }
  // "running" is what QEMU says, asked outside the state lock (no lock across a QMP call).
  Result<std::string> qemuStatus =
      proc ? (*proc)->queryStatus() : Result<std::string>(proc.error());
  std::lock_guard slock((*e)->state);
  if (!proc) {
    nics_.detach(rec->spec);
    resources_.release(name);
    // A failed resume keeps the saved state: nothing is lost, it can be tried again.
    setState(name, **e, fromSaved ? VmState::suspended : VmState::stopped,
             (fromSaved ? "resume failed: " : "start failed: ") + proc.error().message);
    return proc.error();
  }
  if (fromSaved) unlink(statePath(name).c_str());
  (*e)->process = std::shared_ptr<VmProcess>(std::move(*proc));
  (*e)->runtime.pid = (*e)->process->pid();
  if ((*e)->runtime.state == VmState::starting) {
    if (qemuStatus && *qemuStatus == "running")
      setState(name, **e, VmState::running, "");
    else if (qemuStatus && *qemuStatus == "paused")
      setState(name, **e, VmState::paused, "paused");
    else
      spdlog::warn("VM {}: QEMU reports '{}' after start", name,
                   qemuStatus ? *qemuStatus : qemuStatus.error().message);
  }
  VmRecord out = *rec;
  out.runtime = (*e)->runtime;
  return out;
}

Result<VmRecord> VmService::waitReady(const std::string& name, std::chrono::milliseconds timeout) {
  auto e = entry(name);
  if (!e) return e.error();
  std::unique_lock slock((*e)->state);
  bool ok = (*e)->changed.wait_for(slock, timeout, [&] {
    return (*e)->runtime.readyAtMs != 0 || !hasProcess((*e)->runtime.state);
  });
  if (!hasProcess((*e)->runtime.state))
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' is {} ({})", name, vmStateName((*e)->runtime.state),
                                 (*e)->runtime.reason));
  if (!ok)
    return makeError(Errc::timeout, fmt::format("VM '{}' did not report ready within {} s", name,
                                                timeout.count() / 1000));
  slock.unlock();
  return record(name);
}

Result<VmRecord> VmService::stopLocked(const std::string& name, const EntryPtr& e) {
  std::shared_ptr<VmProcess> p;
  {
    std::lock_guard slock(e->state);
    if (!hasProcess(e->runtime.state)) return wrongState(name, e->runtime.state, "stop");
    p = e->process;
  }
  if (p) PADDOCK_TRY(p->forceStop());
  std::unique_lock slock(e->state);
  e->changed.wait_for(slock, std::chrono::seconds(10),
                      [&] { return !hasProcess(e->runtime.state); });
  if (hasProcess(e->runtime.state)) setState(name, *e, VmState::stopped, "forced off");
  slock.unlock();
  return record(name);
}

Result<VmRecord> VmService::stop(const std::string& name) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard action((*e)->action);
  bool discarded = false;
  {
    // Stopping a suspended VM discards its saved state (like powering off a hibernated PC).
    std::lock_guard slock((*e)->state);
    if ((*e)->runtime.state == VmState::suspended) {
      unlink(statePath(name).c_str());
      setState(name, **e, VmState::stopped, "saved state discarded");
      discarded = true;
    }
  }
  if (discarded) return record(name);
  return stopLocked(name, *e);
}

Result<VmRecord> VmService::shutdown(const std::string& name, std::chrono::milliseconds timeout,
                                     OperationContext* op) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard action((*e)->action);
  std::shared_ptr<VmProcess> p;
  {
    std::lock_guard slock((*e)->state);
    if ((*e)->runtime.state != VmState::running && (*e)->runtime.state != VmState::paused)
      return wrongState(name, (*e)->runtime.state, "shut down");
    p = (*e)->process;
    setState(name, **e, VmState::stopping, "ACPI power button pressed");
  }
  if (op) op->progress(10, "pressed the ACPI power button");
  auto s = p->resume();
  if (s) s = p->powerdown();
  if (!s) spdlog::warn("VM {}: power button failed: {}", name, s.error().message);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock slock((*e)->state);
    while (hasProcess((*e)->runtime.state) && std::chrono::steady_clock::now() < deadline) {
      (*e)->changed.wait_for(slock, std::chrono::milliseconds(250));
      if (op) {
        auto left = std::chrono::duration_cast<std::chrono::seconds>(
            deadline - std::chrono::steady_clock::now());
        op->progress(50,
                     fmt::format("waiting for the guest to power off ({} s left)", left.count()));
      }
    }
    if (!hasProcess((*e)->runtime.state)) {
      slock.unlock();
      return record(name);
    }
  }
  if (op) op->progress(90, "guest did not power off in time; forcing it off");
  events_.publish("vm.shutdown_timeout", vmObject(name), {{"timeout_ms", timeout.count()}});
  auto r = stopLocked(name, *e);
  if (!r) return r;
  {
    std::lock_guard slock((*e)->state);
    setState(name, **e, VmState::stopped,
             fmt::format("forced off after the guest ignored the power button for {} s",
                         timeout.count() / 1000));
  }
  return record(name);
}

Result<VmRecord> VmService::quickAction(const std::string& name, VmState required, const char* verb,
                                        const std::function<Status(VmProcess&)>& call,
                                        std::optional<VmState> after) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard action((*e)->action);
  std::shared_ptr<VmProcess> p;
  {
    std::lock_guard slock((*e)->state);
    if ((*e)->runtime.state != required) return wrongState(name, (*e)->runtime.state, verb);
    p = (*e)->process;
  }
  PADDOCK_TRY(call(*p));
  if (after) {
    // QEMU's STOP/RESUME event may already have moved the state; only set it if not.
    std::lock_guard slock((*e)->state);
    if ((*e)->runtime.state == required)
      setState(name, **e, *after, *after == VmState::paused ? "paused" : "");
  }
  return record(name);
}

Result<VmRecord> VmService::reboot(const std::string& name) {
  return quickAction(
      name, VmState::running, "reboot", [](VmProcess& p) { return p.reset(); }, std::nullopt);
}

Result<VmRecord> VmService::pause(const std::string& name) {
  return quickAction(
      name, VmState::running, "pause", [](VmProcess& p) { return p.pause(); }, VmState::paused);
}

std::string VmService::statePath(const std::string& name) const {
  return diskDir(name) + "/suspend.state";
}

Result<VmRecord> VmService::suspend(const std::string& name, OperationContext* op) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard action((*e)->action);
  std::shared_ptr<VmProcess> p;
  VmState was;
  {
    std::lock_guard slock((*e)->state);
    was = (*e)->runtime.state;
    if (was != VmState::running && was != VmState::paused) return wrongState(name, was, "suspend");
    p = (*e)->process;
    setState(name, **e, VmState::stopping, "suspending");
  }
  std::string partial = statePath(name) + ".partial";
  if (op) op->progress(5, "pausing and saving memory");
  auto saved = p->saveState(partial, [&](int pct) {
    if (op) op->progress(5 + pct * 85 / 100, fmt::format("saving memory ({} %)", pct));
  });
  if (saved && ::rename(partial.c_str(), statePath(name).c_str()) != 0)
    saved = makeError(Errc::internal, fmt::format("cannot move the saved state into {}: {}",
                                                  statePath(name), std::strerror(errno)));
  if (!saved) {
    // The guest goes on as it was; the half-written file goes.
    unlink(partial.c_str());
    if (was == VmState::running) (void)p->resume();
    std::lock_guard slock((*e)->state);
    if ((*e)->runtime.state == VmState::stopping) setState(name, **e, was, "suspend failed");
    return saved.error();
  }
  if (op) op->progress(95, "ending QEMU");
  (void)p->forceStop();
  std::unique_lock slock((*e)->state);
  (*e)->changed.wait_for(slock, std::chrono::seconds(10),
                         [&] { return !hasProcess((*e)->runtime.state); });
  // QEMU's exit released its NICs and resources (onExit) and marked it stopped.
  setState(name, **e, VmState::suspended, "state saved to " + statePath(name));
  slock.unlock();
  return record(name);
}

Result<VmRecord> VmService::resume(const std::string& name, bool force) {
  auto e = entry(name);
  if (!e) return e.error();
  bool suspended;
  std::shared_ptr<VmProcess> p;
  {
    std::lock_guard slock((*e)->state);
    suspended = (*e)->runtime.state == VmState::suspended;
    p = (*e)->process;
  }
  if (suspended) return start(name);  // start() continues from the saved state
  // A QEMU that sent its whole state to another host (a live migration whose end this paddockd
  // did not see): the guest may run there now, and continuing it here too would fork it.
  if (auto status = p ? p->queryStatus() : Result<std::string>("none");
      !force && status && *status == "postmigrate")
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' sent its running state to another host by a live "
                                 "migration that did not finish here: the guest may run there. "
                                 "Check the target; if it has the VM, stop or delete it here; "
                                 "if not, resume it with --force",
                                 name),
                     "force");
  return quickAction(
      name, VmState::paused, "resume", [](VmProcess& p) { return p.resume(); }, VmState::running);
}

Result<std::shared_ptr<VmProcess>> VmService::process(const std::string& name) {
  auto e = entry(name);
  if (!e) return e.error();
  std::lock_guard slock((*e)->state);
  if (!(*e)->process)
    return makeError(Errc::conflict, fmt::format("VM '{}' is {}: its console is only there while "
                                                 "it runs",
                                                 name, vmStateName((*e)->runtime.state)));
  return (*e)->process;
}

std::map<std::string, std::shared_ptr<VmProcess>> VmService::processes() {
  std::map<std::string, std::shared_ptr<VmProcess>> out;
  std::lock_guard lock(entriesMutex_);
  for (const auto& [name, e] : entries_) {
    std::lock_guard slock(e->state);
    if (e->process) out.emplace(name, e->process);
  }
  return out;
}

void VmService::adoptAll() {
  auto all = store_.listVms();
  if (!all) {
    spdlog::error("cannot list VMs to adopt: {}", all.error().message);
    return;
  }
  std::set<std::string> live;
  for (const auto& rec : *all) {
    const std::string& name = rec.spec.name;
    auto e = entry(name);
    if (!e) continue;
    if (rec.runtime.state == VmState::suspended && !pathExists(statePath(name))) {
      std::lock_guard slock((*e)->state);
      setState(name, **e, VmState::crashed, "suspended, but the saved state is missing");
      continue;
    }
    if (!hasProcess(rec.runtime.state)) continue;
    // A suspend the daemon did not see through: the half-written state goes, the VM stays.
    unlink((statePath(name) + ".partial").c_str());
    uint64_t generation;
    {
      std::lock_guard slock((*e)->state);
      generation = ++(*e)->generation;
    }
    auto proc = engine_.adopt(name, runDir(name), callbacksFor(name, *e, generation));
    std::lock_guard slock((*e)->state);
    if (!proc) {
      setState(name, **e, VmState::crashed,
               "QEMU vanished while paddockd was not running (" + proc.error().message + ")");
      continue;
    }
    (*e)->process = std::shared_ptr<VmProcess>(std::move(*proc));
    (*e)->runtime.pid = (*e)->process->pid();
    auto status = (*e)->process->queryStatus();
    // "postmigrate": a live migration sent the guest away and paddockd died before it ended
    // this QEMU (see MigrationService::settleSentAway).
    bool sentAway = status && *status == "postmigrate";
    VmState now = status && (*status == "paused" || sentAway) ? VmState::paused : VmState::running;
    if (rec.runtime.state == VmState::stopping && rec.runtime.reason != "suspending")
      now = VmState::stopping;
    setState(name, **e, now, sentAway ? kSentAwayReason : now == VmState::paused ? "paused" : "");
    events_.publish("vm.adopted", vmObject(name), {{"pid", (*e)->runtime.pid}});
    live.insert(name);
    spdlog::info("adopted VM {} (pid {})", name, (*e)->runtime.pid);
  }
  // A QEMU in a run directory that is not adopted belongs to nobody: end it. Run directories of
  // deleted VMs go; those of stopped VMs keep their logs but lose stale sockets and pidfiles.
  std::set<std::string> known;
  for (const auto& rec : *all) known.insert(rec.spec.name);
  std::string root = config_.stateDir + "/run";
  std::vector<std::string> dirs;
  if (DIR* d = opendir(root.c_str())) {
    while (auto* ent = readdir(d)) {
      std::string n = ent->d_name;
      if (n != "." && n != ".." && !live.count(n)) dirs.push_back(n);
    }
    closedir(d);
  }
  for (const auto& n : dirs) {
    RunPaths paths{root + "/" + n};
    if (auto pid = readFile(paths.pidfile())) {
      pid_t p = static_cast<pid_t>(std::atol(pid->c_str()));
      if (processMatches(p, "qemu-system-x86_64")) {
        spdlog::warn("killing QEMU pid {} of VM {}: no VM of this daemon owns it", p, n);
        kill(p, SIGKILL);
      }
    }
    if (!known.count(n)) {
      (void)removeAll(paths.dir);
    } else {
      for (const auto& f : {paths.qmp(), paths.statsQmp(), paths.console(), paths.pidfile()})
        unlink(f.c_str());
    }
  }
}

void VmService::detachAll() {
  std::map<std::string, EntryPtr> entries;
  {
    std::lock_guard lock(entriesMutex_);
    entries = entries_;
  }
  for (auto& [name, e] : entries) {
    std::shared_ptr<VmProcess> p;
    {
      std::lock_guard slock(e->state);
      ++e->generation;  // callbacks from here on belong to nobody
      p = std::move(e->process);
    }
    p.reset();
  }
}

}  // namespace paddock
