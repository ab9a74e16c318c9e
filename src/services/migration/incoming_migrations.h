// Migration's target side: a VM arriving from a peer (cold or suspended). The source announces
// it (prepare: definition, state, files, snapshot records, the template of a linked clone if this
// host lacks it); it is checked before anything is copied; the files are written in pieces into
// STATE/incoming/<id>/; commit verifies every file's SHA-256 and only then registers the VM (and
// the template). Nothing outside STATE/incoming/ changes before the commit, and an abort, a
// paddockd restart or 10 idle minutes remove what was copied.
//
// A live migration (prepare with "live": true) makes empty disks in STATE/incoming/<id>/ instead
// and starts an unregistered QEMU on them that waits, paused, for the source's migration stream,
// its disks exported over NBD for the source's mirrors; commit takes the QEMU over as the VM and
// lets it continue. An abort, a minute without the source's heartbeat (GET of the migration) or
// a restart end that QEMU and remove its disks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "services/event_bus.h"
#include "services/lifecycle/vm_service.h"
#include "services/templates/template_service.h"
#include "store/store.h"

namespace paddock {

class IncomingMigrations {
 public:
  static constexpr std::int64_t kIdleMs = 10 * 60 * 1000;
  static constexpr std::int64_t kLiveIdleMs = 60 * 1000;

  IncomingMigrations(std::string stateDir, Store& store, VmService& vms, TemplateService& templates,
                     EventBus& events);
  ~IncomingMigrations();

  // {"vm": SPEC, "state": "stopped"|"suspended", "from": HOST, "files": [{"name", "size"}],
  //  "snapshots": [RECORD], "snapshot_current": DOC|null (the source's snapshot-current object),
  //  "template": null | {"record": TEMPLATE, "files": [{"name", "size"}]}} → {"id"}.
  // Errors name the field; nothing is kept on error.
  Result<nlohmann::json> prepare(const nlohmann::json& request);
  // Writes `data` at `offset` of file `index` (the VM's files, then the template's).
  Status write(const std::string& id, std::size_t index, std::uint64_t offset,
               std::string_view data);
  // Live: {"vm": SPEC, "live": true, "state": "running"|"paused", "from", "accel": "kvm"|"tcg",
  // "cpu_model": the source's (must match under KVM), "listen_host": where the source reaches
  // this host, "post_copy": BOOL} → {"id", "migration_port", "nbd_port"}.
  // {"sha256": [HEX per file, same order]} → the registered VM; live: {"run": BOOL}.
  Result<VmRecord> commit(const std::string& id, const nlohmann::json& request);
  // {"id", "vm", "live", "qemu"}: the source's heartbeat during a live migration.
  Result<nlohmann::json> status(const std::string& id);
  // Live, after a post-copy stream broke: the QEMU listens again → {"migration_port"}. 409 when
  // the migration is not a paused post-copy, 503 when its QEMU is gone.
  Result<nlohmann::json> recoverLive(const std::string& id);
  Status abort(const std::string& id);
  // Daemon start: what an interrupted migration left.
  void cleanAll();

 private:
  struct File {
    std::string path;
    std::uint64_t size = 0;
  };
  struct Incoming {
    std::string id;
    std::string dir;
    VmSpec spec;
    VmState state = VmState::stopped;
    std::string from;
    std::vector<File> files;
    std::vector<nlohmann::json> snapshots;
    nlohmann::json snapshotCurrent;
    std::optional<TemplateRecord> templ;  // to install at commit
    std::int64_t lastMs = 0;
    std::mutex writing;
    // Live migration: the waiting QEMU and how the source reaches it.
    bool live = false;
    bool paused = false;
    std::string accel;
    VmProcessPtr process;
    int migrationPort = 0, nbdPort = 0;
    std::string listenHost;
    // Where the QEMU has the disks: the incoming dir's copies, or the VM's own folder on a
    // shared storage (nothing is copied then).
    std::string diskFolder;
  };
  using IncomingPtr = std::shared_ptr<Incoming>;

  Result<IncomingPtr> find(const std::string& id);
  // Finds and removes it from the map (no more writes reach it).
  Result<IncomingPtr> take(const std::string& id);
  void dropIdle();
  Result<nlohmann::json> prepareLive(const nlohmann::json& request, IncomingPtr in);
  // Shared storage: the folder of the VM's disks, once this host is shown to see the same
  // files as the source (the check file the source wrote there for this migration).
  Result<std::string> checkSharedStorage(const nlohmann::json& request, const VmSpec& spec);
  Result<VmRecord> commitLive(IncomingPtr in, const nlohmann::json& request);
  // Removes what `in` made (its QEMU too). Caller holds in->writing.
  void discard(Incoming& in);
  Status checkTemplate(const VmSpec& spec, const nlohmann::json& offered, Incoming& in,
                       std::uint64_t& bytes);

  std::string stateDir_;
  Store& store_;
  VmService& vms_;
  TemplateService& templates_;
  EventBus& events_;
  std::mutex mutex_;
  std::map<std::string, IncomingPtr> incoming_;
  // Drops idle migrations every few seconds (a live one holds a QEMU).
  std::mutex reaperMutex_;
  std::condition_variable reaperWake_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace paddock
