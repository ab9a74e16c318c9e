// Migration's source side: sends a stopped or suspended VM to a peer host (vCenter's cold
// migration). The VM is held (it cannot start or change) while its disk folder — disks with
// their internal snapshots, and a suspended VM's saved state — and, for a linked clone whose
// template the peer lacks, the template's disks are copied to the peer's IncomingMigrations,
// holes skipped, each file's SHA-256 computed on the way. The VM is deleted here only after the
// peer has verified the checksums and registered it; any failure or a cancel before that
// leaves it here untouched and the peer clean.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "services/event_bus.h"
#include "services/lifecycle/vm_service.h"
#include "services/operations.h"
#include "services/peers/peer_service.h"
#include "services/templates/template_service.h"
#include "store/store.h"

namespace paddock {

struct MigrationOptions {
  bool live = false;
  std::uint64_t maxDowntimeMs = 300;
  std::uint64_t bandwidthMib = 0;  // MiB/s; 0: no cap
  bool autoConverge = false;
  bool postCopy = false;  // switch after the first memory pass (running VMs only)
};

class MigrationService {
 public:
  static constexpr std::size_t kChunkBytes = 4 * 1024 * 1024;  // per request (server limit 8 MiB)

  MigrationService(Store& store, VmService& vms, TemplateService& templates, PeerService& peers,
                   EventBus& events)
      : store_(store), vms_(vms), templates_(templates), peers_(peers), events_(events) {}

  // What migrate() would refuse before it starts: unknown VM or peer, a VM with a QEMU process
  // (cold) or without one (live), a live VM with snapshots, options out of range. The API
  // answers these with a 4xx naming the field.
  Status check(const std::string& vm, const std::string& peer, const MigrationOptions& options);
  // Moves VM `vm` to `peer`; returns {"vm", "to", "state", "bytes_sent", "bytes_total"}, live:
  // {"vm", "to", "state", "live", "downtime_ms", "memory_ms", "total_ms", "memory_bytes",
  // "disk_bytes", "disk_ms"}.
  Result<nlohmann::json> migrate(const std::string& vm, const std::string& peer,
                                 const MigrationOptions& options, OperationContext* op);
  // The running and paused VMs an evacuation to `peer` would move, each checked as migrate()
  // would; the first that cannot go live makes it refuse (field and message name the VM).
  Result<std::vector<std::string>> evacuationList(const std::string& peer,
                                                  const MigrationOptions& options);
  // Live-migrates those VMs to `peer` one at a time (see evacuate.cpp); a VM that fails stays
  // here running and the rest still go. Returns {"to", "moved": [migrate()'s results]}; an
  // error naming what stayed if any did.
  Result<nlohmann::json> evacuate(const std::string& peer, MigrationOptions options,
                                  OperationContext* op);
  // At start: a VM adopted paused with its state sent away (kSentAwayReason; paddockd died
  // between a live migration's end and ending its QEMU) is looked for on every peer. A peer
  // that runs or holds paused a VM of that name and definition has it: it is ended here. Else
  // it stays paused here, resume refused without --force. Returns the VMs ended.
  std::vector<std::string> settleSentAway();

 private:
  Result<nlohmann::json> migrateCold(const std::string& vm, const std::string& peer,
                                     OperationContext* op);
  // See migration_live.cpp.
  Result<nlohmann::json> migrateLive(const std::string& vm, const std::string& peer,
                                     const MigrationOptions& options, OperationContext* op);

  Store& store_;
  VmService& vms_;
  TemplateService& templates_;
  PeerService& peers_;
  EventBus& events_;
};

}  // namespace paddock
