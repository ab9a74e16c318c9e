#include "model/backup.h"

#include "common/clock.h"

namespace paddock {

std::uint64_t BackupManifest::bytes() const {
  std::uint64_t total = 0;
  for (const auto& d : disks) total += d.fileBytes;
  return total;
}

std::string backupBitmapName(const std::string& repo, const std::string& id) {
  return backupBitmapPrefix(repo) + id;
}

nlohmann::json toJson(const BackupRepo& r) {
  return {{"name", r.name},
          {"path", r.path},
          {"created_at_ms", r.createdAtMs},
          {"created_at", formatTimeMs(r.createdAtMs)}};
}

Result<BackupRepo> backupRepoFromJson(const nlohmann::json& j) {
  try {
    BackupRepo r;
    r.name = j.at("name").get<std::string>();
    r.path = j.at("path").get<std::string>();
    r.createdAtMs = j.value("created_at_ms", int64_t{0});
    return r;
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::internal,
                     std::string("stored backup repository is malformed: ") + e.what());
  }
}

nlohmann::json toJson(const BackupManifest& m) {
  nlohmann::json disks = nlohmann::json::array();
  for (const auto& d : m.disks)
    disks.push_back({{"disk", d.disk},
                     {"virtual_size_bytes", d.virtualSizeBytes},
                     {"file_bytes", d.fileBytes},
                     {"sha256", d.sha256}});
  return {{"format", m.format},
          {"vm", m.vm},
          {"id", m.id},
          {"kind", m.full ? "full" : "incremental"},
          {"parent", m.parent},
          {"vm_state", m.vmState},
          {"bitmap", m.bitmap},
          {"reason", m.reason},
          {"created_at_ms", m.createdAtMs},
          {"created_at", formatTimeMs(m.createdAtMs)},
          {"duration_ms", m.durationMs},
          {"bytes", m.bytes()},
          {"spec", m.spec},
          {"disks", disks}};
}

Result<BackupManifest> backupManifestFromJson(const nlohmann::json& j) {
  try {
    BackupManifest m;
    m.format = j.at("format").get<int>();
    if (m.format != 1)
      return makeError(Errc::invalid_argument,
                       "backup manifest format " + std::to_string(m.format) + " is unknown");
    m.vm = j.at("vm").get<std::string>();
    m.id = j.at("id").get<std::string>();
    std::string kind = j.at("kind").get<std::string>();
    if (kind != "full" && kind != "incremental")
      return makeError(Errc::invalid_argument, "backup manifest kind '" + kind + "' is unknown");
    m.full = kind == "full";
    m.parent = j.value("parent", "");
    if (!m.full && m.parent.empty())
      return makeError(Errc::invalid_argument, "incremental backup manifest has no parent");
    m.vmState = j.value("vm_state", "");
    m.bitmap = j.value("bitmap", "");
    m.reason = j.value("reason", "");
    m.createdAtMs = j.at("created_at_ms").get<int64_t>();
    m.durationMs = j.value("duration_ms", int64_t{0});
    m.spec = j.at("spec");
    for (const auto& d : j.at("disks")) {
      BackupDiskFile f;
      f.disk = d.at("disk").get<std::string>();
      f.virtualSizeBytes = d.at("virtual_size_bytes").get<std::uint64_t>();
      f.fileBytes = d.at("file_bytes").get<std::uint64_t>();
      f.sha256 = d.at("sha256").get<std::string>();
      m.disks.push_back(std::move(f));
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::invalid_argument,
                     std::string("backup manifest is malformed: ") + e.what());
  }
}

}  // namespace paddock
