// MigrationService::evacuate: maintenance mode's first half (vCenter's "enter maintenance mode"
// with DRS off, z/VM's relocating guests before a service window). Every running or paused VM
// goes live to one peer, one after another so each gets the whole link; a VM that cannot go
// stays here running and the others still go.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "services/migration/migration_service.h"

namespace paddock {

namespace {

// One VM's migration seen as a slice [from, to) of the evacuation's progress bar.
class SliceProgress : public OperationContext {
 public:
  SliceProgress(OperationContext& outer, int from, int to, std::string prefix)
      : outer_(outer), from_(from), to_(to), prefix_(std::move(prefix)) {}
  void progress(int percent, const std::string& message) override {
    outer_.progress(from_ + (to_ - from_) * percent / 100, prefix_ + message);
  }
  bool cancelled() const override { return outer_.cancelled(); }

 private:
  OperationContext& outer_;
  int from_, to_;
  std::string prefix_;
};

bool livesHere(VmState s) {
  return s == VmState::running || s == VmState::paused;
}

}  // namespace

Result<std::vector<std::string>> MigrationService::evacuationList(const std::string& peer,
                                                                  const MigrationOptions& options) {
  if (peer.empty()) return makeError(Errc::invalid_argument, "to: name the peer host", "to");
  if (auto p = peers_.get(peer); !p) {
    Error e = p.error();
    e.field = "to";
    return e;
  }
  auto all = vms_.list();
  if (!all) return all.error();
  std::vector<std::string> names;
  for (const auto& rec : *all) {
    if (!livesHere(rec.runtime.state)) continue;
    if (auto s = check(rec.spec.name, peer, options); !s) {
      Error e = s.error();
      e.message = fmt::format("VM '{}' cannot go live to {}: {} (nothing was moved)", rec.spec.name,
                              peer, e.message);
      return e;
    }
    names.push_back(rec.spec.name);
  }
  return names;
}

Result<nlohmann::json> MigrationService::evacuate(const std::string& peer, MigrationOptions options,
                                                  OperationContext* op) {
  options.live = true;
  auto names = evacuationList(peer, options);
  if (!names) return names.error();
  nlohmann::json moved = nlohmann::json::array(), stayed = nlohmann::json::array();
  std::string firstError;
  for (std::size_t i = 0; i < names->size(); ++i) {
    const std::string& vm = (*names)[i];
    if (op && op->cancelled()) {
      stayed.push_back({{"vm", vm}, {"error", "evacuation cancelled before it"}});
      continue;
    }
    std::string prefix = fmt::format("VM {} of {} ({}): ", i + 1, names->size(), vm);
    int from = static_cast<int>(100 * i / names->size());
    int to = static_cast<int>(100 * (i + 1) / names->size());
    std::optional<SliceProgress> slice;
    if (op) slice.emplace(*op, from, to, prefix);
    // A VM stopped or started since the list was made is left as it is now.
    auto rec = vms_.get(vm);
    if (!rec || !livesHere(rec->runtime.state)) continue;
    auto r = migrate(vm, peer, options, slice ? &*slice : nullptr);
    if (r) {
      moved.push_back(*r);
      continue;
    }
    spdlog::warn("evacuation to {}: VM {} stays here: {}", peer, vm, r.error().message);
    stayed.push_back({{"vm", vm}, {"error", r.error().message}});
    if (firstError.empty()) firstError = fmt::format("{}: {}", vm, r.error().message);
  }
  events_.publish("host.evacuated", "host",
                  {{"to", peer}, {"moved", moved.size()}, {"stayed", stayed.size()}});
  if (!stayed.empty()) {
    if (op && op->cancelled())
      return makeError(Errc::conflict, fmt::format("evacuation cancelled: {} of {} VMs moved to {}",
                                                   moved.size(), names->size(), peer));
    return makeError(Errc::unavailable,
                     fmt::format("{} of {} VMs moved to {}; {} stayed here running ({}{})",
                                 moved.size(), names->size(), peer, stayed.size(), firstError,
                                 stayed.size() > 1 ? "; see the events for the others" : ""));
  }
  return nlohmann::json{{"to", peer}, {"moved", moved}};
}

}  // namespace paddock
