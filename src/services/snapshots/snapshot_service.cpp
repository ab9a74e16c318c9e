#include "services/snapshots/snapshot_service.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/names.h"
#include "images/qemu_img.h"
#include "model/backup.h"

namespace paddock {

namespace {

std::vector<std::string> diskNames(const VmSpec& spec) {
  std::vector<std::string> out;
  for (const auto& d : spec.disks) out.push_back(d.name);
  return out;
}

// Runs `op` on every disk file; on a failure undoes the done ones with `undo` (if given).
Status onEveryDisk(const std::string& dir, const std::vector<std::string>& disks,
                   const std::string& tag, SnapshotOp op, std::optional<SnapshotOp> undo) {
  for (size_t i = 0; i < disks.size(); ++i) {
    if (auto s = qcow2Snapshot(dir + "/" + disks[i] + ".qcow2", op, tag); !s) {
      if (undo)
        for (size_t j = 0; j < i; ++j)
          (void)qcow2Snapshot(dir + "/" + disks[j] + ".qcow2", *undo, tag);
      return s;
    }
  }
  return {};
}

}  // namespace

Status SnapshotService::dropChangeTracking(const std::string& vm) {
  return vms_.withVm(vm, [&](const VmRecord& rec, VmProcess* proc) -> Status {
    const std::string prefix = kBackupBitmapPrefix;
    if (proc) {
      PADDOCK_TRY_ASSIGN(auto bitmaps, proc->blockJobs().bitmaps());
      for (const auto& b : bitmaps)
        if (b.name.rfind(prefix, 0) == 0)
          PADDOCK_TRY(proc->blockJobs().removeBitmap(b.disk, b.name));
      return {};
    }
    for (const auto& d : rec.spec.disks) {
      std::string path = vms_.diskDir(vm) + "/" + d.name + ".qcow2";
      PADDOCK_TRY_ASSIGN(auto names, qcow2Bitmaps(path));
      for (const auto& n : names)
        if (n.rfind(prefix, 0) == 0) PADDOCK_TRY(qcow2RemoveBitmap(path, n));
    }
    return {};
  });
}

Status SnapshotService::discard(const std::string& vm, const std::string& name,
                                const std::vector<std::string>& disks) {
  return vms_.withVm(vm, [&](const VmRecord&, VmProcess* proc) -> Status {
    if (proc) {
      auto s = proc->snapshotDelete(name, disks);
      // snapshot-delete fails on a disk without that snapshot: nothing to discard there.
      if (!s && s.error().message.find("not found") == std::string::npos &&
          s.error().message.find("Could not find") == std::string::npos &&
          s.error().message.find("does not exist") == std::string::npos)
        return s;
      return {};
    }
    for (const auto& d : disks) {
      std::string path = vms_.diskDir(vm) + "/" + d + ".qcow2";
      if (!pathExists(path)) continue;
      PADDOCK_TRY_ASSIGN(auto tags, qcow2SnapshotTags(path));
      if (std::find(tags.begin(), tags.end(), name) != tags.end())
        PADDOCK_TRY(qcow2Snapshot(path, SnapshotOp::remove, name));
    }
    return {};
  });
}

void SnapshotService::cleanPending() {
  auto pending = store_.listObjects(kSnapshotPendingKind);
  if (!pending) return;
  for (const auto& p : *pending) {
    std::string vm = p.value("vm", ""), name = p.value("name", "");
    std::string key = vm + "/" + name;
    bool recorded = static_cast<bool>(store_.getObject(snapshotKind(vm), name));
    if (!recorded && vms_.get(vm)) {
      if (auto s = discard(vm, name, p.value("disks", std::vector<std::string>{})); !s) {
        spdlog::warn("snapshot {} of VM {} was cut short and cannot be removed yet: {}", name, vm,
                     s.error().message);
        continue;
      }
      spdlog::info("removed snapshot {} of VM {}: its creation was cut short", name, vm);
    }
    (void)store_.deleteObject(kSnapshotPendingKind, key);
  }
}

std::string SnapshotService::current(const std::string& vm) {
  auto doc = store_.getObject(kSnapshotCurrentKind, vm);
  return doc ? doc->value("current", "") : "";
}

Status SnapshotService::setCurrent(const std::string& vm, const std::string& name) {
  nlohmann::json doc = {{"current", name}};
  if (store_.getObject(kSnapshotCurrentKind, vm))
    return store_.updateObject(kSnapshotCurrentKind, vm, doc);
  return store_.createObject(kSnapshotCurrentKind, vm, doc);
}

Status SnapshotService::checkCreate(const std::string& vm, const std::string& name,
                                    const std::string& description, bool memory) {
  if (auto s = validateName(name, "snapshot name"); !s)
    return makeError(Errc::invalid_argument, s.error().message, "name");
  if (description.size() > 1024)
    return makeError(Errc::invalid_argument, "description is longer than 1024 characters",
                     "description");
  PADDOCK_TRY_ASSIGN(auto rec, vms_.get(vm));
  if (rec.spec.disks.empty())
    return makeError(Errc::invalid_argument, fmt::format("VM '{}' has no disks to snapshot", vm),
                     "vm");
  if (store_.getObject(snapshotKind(vm), name))
    return makeError(Errc::conflict, fmt::format("VM '{}' already has a snapshot '{}'", vm, name),
                     "name");
  if (memory && !hasProcess(rec.runtime.state))
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' is {}: a memory snapshot needs a running VM", vm,
                                 vmStateName(rec.runtime.state)),
                     "memory");
  return {};
}

Result<SnapshotRecord> SnapshotService::create(const std::string& vm, const std::string& name,
                                               const std::string& description, bool memory,
                                               OperationContext* op) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(checkCreate(vm, name, description, memory));
  SnapshotRecord snap;
  snap.vm = vm;
  snap.name = name;
  snap.description = description;
  snap.memory = memory;
  snap.parent = current(vm);
  std::string pending = vm + "/" + name;
  PADDOCK_TRY_ASSIGN(auto rec0, vms_.get(vm));
  PADDOCK_TRY(store_.createObject(kSnapshotPendingKind, pending,
                                  {{"vm", vm}, {"name", name}, {"disks", diskNames(rec0.spec)}}));
  auto taken = vms_.withVm(vm, [&](const VmRecord& rec, VmProcess* proc) -> Status {
    snap.disks = diskNames(rec.spec);
    snap.vmState = vmStateName(rec.runtime.state);
    if (proc) {
      if (op) op->progress(10, memory ? "saving memory and disks" : "snapshotting disks");
      return proc->snapshotCreate(name, snap.disks, memory);
    }
    if (memory)
      return makeError(Errc::conflict,
                       fmt::format("VM '{}' stopped: a memory snapshot needs a "
                                   "running VM",
                                   vm),
                       "memory");
    snap.vmState = "stopped";
    return onEveryDisk(vms_.diskDir(vm), snap.disks, name, SnapshotOp::create, SnapshotOp::remove);
  });
  if (!taken) {
    // QEMU may have made part of it before failing (or dying): nothing without a record stays.
    if (discard(vm, name, diskNames(rec0.spec)))
      (void)store_.deleteObject(kSnapshotPendingKind, pending);
    return taken.error();
  }
  snap.createdAtMs = nowMs();
  PADDOCK_TRY(store_.createObject(snapshotKind(vm), name, toJson(snap)));
  (void)store_.deleteObject(kSnapshotPendingKind, pending);
  PADDOCK_TRY(setCurrent(vm, name));
  events_.publish("vm.snapshot.created", "vm/" + vm,
                  {{"snapshot", name}, {"memory", memory}, {"parent", snap.parent}});
  return snap;
}

Result<SnapshotTree> SnapshotService::list(const std::string& vm) {
  PADDOCK_TRY(vms_.get(vm));
  PADDOCK_TRY_ASSIGN(auto docs, store_.listObjects(snapshotKind(vm)));
  SnapshotTree tree;
  for (const auto& d : docs) {
    PADDOCK_TRY_ASSIGN(auto s, snapshotFromJson(d));
    tree.snapshots.push_back(std::move(s));
  }
  std::sort(tree.snapshots.begin(), tree.snapshots.end(),
            [](const SnapshotRecord& a, const SnapshotRecord& b) {
              return a.createdAtMs < b.createdAtMs;
            });
  tree.current = current(vm);
  return tree;
}

Result<SnapshotRecord> SnapshotService::get(const std::string& vm, const std::string& name) {
  PADDOCK_TRY(vms_.get(vm));
  auto doc = store_.getObject(snapshotKind(vm), name);
  if (!doc) {
    if (doc.error().code == Errc::not_found)
      return makeError(Errc::not_found, fmt::format("VM '{}' has no snapshot '{}'", vm, name));
    return doc.error();
  }
  return snapshotFromJson(*doc);
}

Result<SnapshotRecord> SnapshotService::revert(const std::string& vm, const std::string& name,
                                               OperationContext* op, bool* poweredOff) {
  std::lock_guard lock(mutex_);
  if (poweredOff) *poweredOff = false;
  PADDOCK_TRY_ASSIGN(auto snap, get(vm, name));
  PADDOCK_TRY_ASSIGN(auto rec, vms_.get(vm));
  if (diskNames(rec.spec) != snap.disks)
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' has other disks than when snapshot '{}' was taken; "
                                 "revert is refused",
                                 vm, name));
  // Going back rewrites the disks behind the backup bitmaps' back (and qcow2 refuses it while
  // they are there): the VM's next backup is a full one.
  PADDOCK_TRY(dropChangeTracking(vm));
  bool running = hasProcess(rec.runtime.state);
  if (snap.memory && !running) {
    if (op) op->progress(20, "starting from the saved memory");
    PADDOCK_TRY(vms_.start(vm, op, name));
  } else if (snap.memory) {
    if (op) op->progress(20, "loading memory and disks");
    PADDOCK_TRY(vms_.withVm(vm, [&](const VmRecord&, VmProcess* proc) -> Status {
      if (!proc) return makeError(Errc::conflict, fmt::format("VM '{}' stopped meanwhile", vm));
      return proc->snapshotLoad(name, snap.disks);
    }));
  } else {
    if (running) {
      if (op) op->progress(10, "powering off (a disk-only snapshot has no running state)");
      PADDOCK_TRY(vms_.stop(vm));
      if (poweredOff) *poweredOff = true;
    }
    if (op) op->progress(50, "reverting disks");
    PADDOCK_TRY(vms_.whileStopped(vm, [&](const VmRecord&) -> Status {
      return onEveryDisk(vms_.diskDir(vm), snap.disks, name, SnapshotOp::apply, std::nullopt);
    }));
  }
  PADDOCK_TRY(setCurrent(vm, name));
  events_.publish("vm.snapshot.reverted", "vm/" + vm,
                  {{"snapshot", name}, {"memory", snap.memory}});
  return snap;
}

Status SnapshotService::remove(const std::string& vm, const std::string& name) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY_ASSIGN(auto snap, get(vm, name));
  PADDOCK_TRY(vms_.withVm(vm, [&](const VmRecord&, VmProcess* proc) -> Status {
    if (proc) return proc->snapshotDelete(name, snap.disks);
    return onEveryDisk(vms_.diskDir(vm), snap.disks, name, SnapshotOp::remove, std::nullopt);
  }));
  // Its children now hang off its parent; the data they need is in their own snapshot.
  PADDOCK_TRY_ASSIGN(auto tree, list(vm));
  for (auto& s : tree.snapshots)
    if (s.parent == name) {
      s.parent = snap.parent;
      PADDOCK_TRY(store_.updateObject(snapshotKind(vm), s.name, toJson(s)));
    }
  PADDOCK_TRY(store_.deleteObject(snapshotKind(vm), name));
  if (tree.current == name) PADDOCK_TRY(setCurrent(vm, snap.parent));
  events_.publish("vm.snapshot.deleted", "vm/" + vm, {{"snapshot", name}});
  return {};
}

}  // namespace paddock
