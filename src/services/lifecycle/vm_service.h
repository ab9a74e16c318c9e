// VM lifecycle: define, edit, start, stop, shut down, reboot, pause, resume, delete, adopt.
//
// Lock order: entriesMutex_ → VmEntry::action → VmEntry::state. Engine callbacks take only
// VmEntry::state (never action), so an action may wait for a callback's effect while holding
// action. No lock but action is held across a call into the engine.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/trash.h"
#include "engine/engine.h"
#include "images/image_store.h"
#include "services/event_bus.h"
#include "services/lifecycle/accel_resolver.h"
#include "services/lifecycle/guest_seed_provider.h"
#include "services/lifecycle/nic_provider.h"
#include "services/lifecycle/resource_control.h"
#include "services/operations.h"
#include "store/store.h"

namespace paddock {

// The reason of a VM adopted paused whose QEMU had sent its whole state to another host: a live
// migration that paddockd did not live to finish. resume() refuses it without force.
inline constexpr const char* kSentAwayReason =
    "its state was sent to another host by a live migration that did not finish here";

struct VmServiceConfig {
  std::string stateDir;
  HostLimits host;
  std::chrono::milliseconds defaultShutdownTimeout{60'000};
  // Shared storages by name (paddockd --shared-storage NAME=DIR): directories other hosts see
  // too, where a VM's disks can live so that it migrates live without copying them.
  std::map<std::string, std::string> sharedStorages;
};

class VmService {
 public:
  VmService(VmServiceConfig config, Store& store, Engine& engine, ImageStore& images,
            AccelResolver& accel, EventBus& events, NicProvider& nics, ResourceControl& resources);
  ~VmService();

  Result<VmRecord> create(const VmSpec& spec);
  // The same with disks made beforehand (a deployment from a template): `preparedDisks` is a
  // folder holding every disk of `spec`, moved into place as the VM's disk folder. On failure it
  // is left where it was, for the caller to remove. `initial` suspended: the folder holds the
  // saved state too (a migrated suspended VM), and the next start resumes from it.
  Result<VmRecord> createWithDisks(const VmSpec& spec, const std::string& preparedDisks,
                                   VmState initial = VmState::stopped,
                                   const std::string& reason = "");
  // Runs `fn` with VM `name` held stopped: it cannot start, change or go away meanwhile.
  // Refused (conflict) unless the VM is stopped or crashed.
  Status whileStopped(const std::string& name, const std::function<Status(const VmRecord&)>& fn);
  // Runs `fn` with VM `name` held as it is: its QEMU process when running or paused, else null.
  // Refused (conflict) while it is starting or stopping.
  Status withVm(const std::string& name,
                const std::function<Status(const VmRecord&, VmProcess*)>& fn);
  // What createWithDisks() would refuse for `spec` (bad definition, name taken, image missing,
  // unknown network, MAC in use, more than the host has), checked without making anything:
  // migration's target side asks it before anything is copied.
  Status checkCreate(const VmSpec& spec);
  // Migration's source side: runs `fn` with VM `name` held stopped, crashed or suspended (it
  // cannot start, change or go away meanwhile) and, when `fn` succeeds, deletes the VM here
  // (definition, snapshot records, disks) before letting go: it lives elsewhere now. Refused
  // (conflict) while it has a QEMU process. When `fn` fails nothing changes.
  Status handOver(const std::string& name, const std::function<Status(const VmRecord&)>& fn);
  // The same for live migration: `fn` gets the running or paused VM's process; when it
  // succeeds (the target runs the guest now) the QEMU here is ended and the VM deleted.
  // VMs adopted with kSentAwayReason, still paused so.
  std::vector<std::string> sentAway();
  // Ends such a VM here once `peer` has been seen running it: QEMU ended, the VM deleted (disks
  // on shared storage kept: they are the peer's).
  Status dropSentAway(const std::string& name, const std::string& peer);
  Status handOverLive(const std::string& name,
                      const std::function<Status(const VmRecord&, VmProcess&)>& fn);
  // Live migration's target side. startIncoming starts QEMU for `spec` (not registered here;
  // checkCreate passed) on the disks in `diskFolder`, with `accel` (the source's: a running
  // guest cannot change accelerator), NICs attached and reservations held, paused and waiting
  // for the migration stream on listenHost:port. discardIncoming undoes it all. adoptIncoming
  // registers the VM once its state has arrived (the disks move into place, the process is
  // taken over) and lets it continue when `run`; on failure the process is discarded.
  Result<VmProcessPtr> startIncoming(const VmSpec& spec, const std::string& diskFolder,
                                     const std::string& accel, const std::string& listenHost,
                                     int port);
  void discardIncoming(const VmSpec& spec, VmProcessPtr process);
  Result<VmRecord> adoptIncoming(const VmSpec& spec, const std::string& diskFolder,
                                 const std::string& accel, VmProcessPtr process, bool run,
                                 const std::string& reason);
  Result<std::vector<VmRecord>> list();
  Result<VmRecord> get(const std::string& name);
  // Changes CPU, memory and disks only while stopped; description and labels any time. NICs also
  // while running or paused: added ones are hot-plugged, removed ones unplugged (running only:
  // the guest has to release them); the spec is saved only if every device change worked.
  Result<VmRecord> update(const std::string& name, const nlohmann::json& patch);
  Status remove(const std::string& name, bool force);

  // Whether the host could honour `spec`'s reservations if it started now (nothing is held).
  Status admissible(const VmSpec& spec) { return resources_.admit(spec, false); }
  // Returns once QEMU runs; `waitReady` also waits for the guest's readiness line.
  // `loadvm`: continue from that internal memory snapshot instead of booting.
  Result<VmRecord> start(const std::string& name, OperationContext* op = nullptr,
                         const std::string& loadvm = "");
  Result<VmRecord> shutdown(const std::string& name, std::chrono::milliseconds timeout,
                            OperationContext* op = nullptr);
  Result<VmRecord> stop(const std::string& name);
  Result<VmRecord> reboot(const std::string& name);
  Result<VmRecord> pause(const std::string& name);
  // A paused VM continues; a suspended one is started from its saved state (and the file goes).
  // `force`: also a VM whose QEMU sent its state away by a live migration (see kSentAwayReason).
  Result<VmRecord> resume(const std::string& name, bool force = false);
  // Saves the running state to statePath() and ends QEMU (its memory is freed): the VM is
  // suspended until resume() or start(), across daemon restarts.
  Result<VmRecord> suspend(const std::string& name, OperationContext* op = nullptr);
  std::string statePath(const std::string& name) const;
  Result<VmRecord> waitReady(const std::string& name, std::chrono::milliseconds timeout);

  // The console of a running VM; the shared_ptr keeps it alive while a client is attached.
  Result<std::shared_ptr<VmProcess>> process(const std::string& name);
  // The QEMU process of every VM that has one, by name, for the collector's rounds.
  std::map<std::string, std::shared_ptr<VmProcess>> processes();

  // Daemon start: re-adopt running VMs, mark vanished ones, clean stale run directories.
  void adoptAll();
  // Daemon stop: detach from every VM (they keep running).
  void detachAll();

  // Guest customization: checked on create and change, its seed attached at each start.
  void setSeedProvider(GuestSeedProvider* seeds) { seeds_ = seeds; }

  const VmServiceConfig& config() const { return config_; }
  std::string runDir(const std::string& name) const;
  // Where VM `name`'s disks are: STATE/disks/NAME, or DIR/NAME on its shared storage.
  std::string diskDir(const std::string& name) const;
  std::string diskDirFor(const VmSpec& spec) const;
  // The directory of shared storage `name` here; invalid_argument (field "storage") if this host
  // has none of that name.
  Result<std::string> sharedStorageDir(const std::string& name) const;
  // A VM's folder on shared storage holds this file naming the host whose VM it is (ownerId()).
  static constexpr const char* kOwnerFile = ".paddock-owner";
  // HOSTNAME:STATE_DIR, which tells this paddockd apart from every other.
  std::string ownerId() const;

 private:
  struct VmEntry {
    std::mutex action;
    std::mutex state;
    std::condition_variable changed;
    VmRuntime runtime;
    std::shared_ptr<VmProcess> process;
    uint64_t generation = 0;  // bumps per start, so late callbacks of an old QEMU are ignored
  };
  using EntryPtr = std::shared_ptr<VmEntry>;

  Result<EntryPtr> entry(const std::string& name);
  Status checkImage(const VmSpec& spec);
  // `diskFolder`: where the disks are, if not diskDir() (a VM arriving by live migration).
  Result<LaunchSpec> launchSpec(const VmSpec& spec, const std::string& diskFolder = "");
  // All VMs but `name`, for the NIC checks.
  Result<std::vector<VmRecord>> othersThan(const std::string& name);
  VmProcessCallbacks callbacksFor(const std::string& name, const EntryPtr& e, uint64_t generation);
  // Sets the runtime state, persists it and publishes an event. Caller holds e->state.
  void setState(const std::string& name, VmEntry& e, VmState state, const std::string& reason);
  Result<VmRecord> record(const std::string& name);
  Status createDisks(const VmSpec& spec);
  // The root filesystem the VM's image brings for its first disk; "" if none.
  Result<std::string> imageRootDisk(const VmSpec& spec);
  Status copyRootDisk(const std::string& image, const std::string& path, const DiskSpec& disk);
  Result<VmRecord> createImpl(const VmSpec& spec, const std::string& preparedDisks, VmState initial,
                              const std::string& reason);
  // The checks of createImpl (MACs filled in). Caller holds admission_.
  Result<VmSpec> vetLocked(const VmSpec& spec);
  // Deletes the record, its NICs' attachments, snapshot records, disks and run dir. Caller
  // holds the entry's action lock and the VM has no process.
  // `keepDisks`: the disks are on shared storage and belong to the host the VM moved to (or is
  // still on).
  Status eraseLocked(const std::string& name, bool keepDisks = false);
  Status reconcileDisks(const VmSpec& before, const VmSpec& after);
  // Hot-plugs/unplugs the difference between the NIC lists on a live VM; on failure undoes what
  // it did and returns the error. Caller holds e.action only.
  Status replugNics(const std::string& name, VmProcess& process, const VmSpec& before,
                    const VmSpec& after);
  Result<VmRecord> stopLocked(const std::string& name, const EntryPtr& e);
  // A short QMP action allowed only in state `required`; moves the VM to `after` if given.
  Result<VmRecord> quickAction(const std::string& name, VmState required, const char* verb,
                               const std::function<Status(VmProcess&)>& call,
                               std::optional<VmState> after);
  void retire(std::shared_ptr<VmProcess> p);

  VmServiceConfig config_;
  Store& store_;
  Engine& engine_;
  ImageStore& images_;
  AccelResolver& accel_;
  EventBus& events_;
  NicProvider& nics_;
  ResourceControl& resources_;
  Trash trash_;  // deleted disk folders, removed after the caller has its answer
  std::mutex entriesMutex_;
  std::map<std::string, EntryPtr> entries_;
  // Held from checking a new or changed definition against the other VMs (names, MACs, IPs,
  // reservations) until it is stored, so concurrent creates (a bulk deploy) cannot both take the
  // same address. Taken after an entry's action lock, never before.
  std::mutex admission_;
  GuestSeedProvider* seeds_ = nullptr;
};

}  // namespace paddock
