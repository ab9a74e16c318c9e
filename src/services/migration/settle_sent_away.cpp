// After a restart: a VM whose QEMU had sent its whole state away by a live migration (paddockd
// died between the target's commit and ending the source's QEMU) is ended here if a peer runs
// it, and otherwise left paused for the operator (VmService::resume refuses it without force).
#include <spdlog/spdlog.h>

#include "services/migration/migration_service.h"

namespace paddock {

std::vector<std::string> MigrationService::settleSentAway() {
  std::vector<std::string> ended;
  auto names = vms_.sentAway();
  if (names.empty()) return ended;
  auto peers = peers_.names();
  for (const auto& name : names) {
    auto here = vms_.get(name);
    if (!here) continue;
    nlohmann::json mine = toJson(here->spec);
    mine.erase("labels");  // the target's may differ (a directory file's label)
    std::string foundOn;
    for (const auto& peer : peers) {
      auto c = peers_.client(peer);
      if (!c) continue;
      auto there =
          PeerService::call(*c, peer, "GET", "/v1/vms/" + name, nullptr, std::chrono::seconds(5));
      if (!there) continue;
      std::string state = there->value("state", "");
      // The same definition (MACs included), not just a VM of the same name.
      bool same = true;
      for (auto it = mine.begin(); it != mine.end(); ++it)
        if (!there->contains(it.key()) || (*there)[it.key()] != it.value()) same = false;
      if (same && (state == "running" || state == "paused")) {
        foundOn = peer;
        break;
      }
    }
    if (foundOn.empty()) {
      spdlog::warn(
          "VM {}: {}, and no peer has it: it stays paused here (resume --force "
          "continues it)",
          name, kSentAwayReason);
      continue;
    }
    spdlog::info("VM {}: its live migration to {} had finished: ending the copy left here", name,
                 foundOn);
    if (auto s = vms_.dropSentAway(name, foundOn); !s)
      spdlog::warn("VM {}: {}", name, s.error().message);
    else
      ended.push_back(name);
  }
  return ended;
}

}  // namespace paddock
