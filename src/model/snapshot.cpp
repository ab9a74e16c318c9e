#include "model/snapshot.h"

#include "common/clock.h"

namespace paddock {

nlohmann::json toJson(const SnapshotRecord& s) {
  return {{"vm", s.vm},
          {"name", s.name},
          {"description", s.description},
          {"parent", s.parent},
          {"memory", s.memory},
          {"vm_state", s.vmState},
          {"disks", s.disks},
          {"created_at_ms", s.createdAtMs},
          {"created_at", formatTimeMs(s.createdAtMs)}};
}

Result<SnapshotRecord> snapshotFromJson(const nlohmann::json& j) {
  try {
    SnapshotRecord s;
    s.vm = j.at("vm").get<std::string>();
    s.name = j.at("name").get<std::string>();
    s.description = j.value("description", "");
    s.parent = j.value("parent", "");
    s.memory = j.value("memory", false);
    s.vmState = j.value("vm_state", "");
    s.disks = j.value("disks", std::vector<std::string>{});
    s.createdAtMs = j.value("created_at_ms", int64_t{0});
    return s;
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::internal, std::string("stored snapshot is malformed: ") + e.what());
  }
}

}  // namespace paddock
