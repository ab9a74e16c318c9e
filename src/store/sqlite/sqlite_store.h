// The embedded default store: one SQLite file in WAL mode, schema versioned by migrations.
#pragma once

#include <mutex>
#include <string>

#include "store/store.h"

struct sqlite3;

namespace paddock {

class SqliteStore : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  ~SqliteStore() override;

  int schemaVersion() const { return schemaVersion_; }

  Status createVm(const VmRecord& vm) override;
  Result<VmRecord> getVm(const std::string& name) override;
  Result<std::vector<VmRecord>> listVms() override;
  Status updateVmSpec(const VmSpec& spec) override;
  Status updateVmRuntime(const std::string& name, const VmRuntime& runtime) override;
  Status deleteVm(const std::string& name) override;
  Status createNetwork(const NetworkSpec& spec) override;
  Result<NetworkSpec> getNetwork(const std::string& name) override;
  Result<std::vector<NetworkSpec>> listNetworks() override;
  Status deleteNetwork(const std::string& name) override;
  Status createObject(const std::string& kind, const std::string& name,
                      const nlohmann::json& doc) override;
  Status updateObject(const std::string& kind, const std::string& name,
                      const nlohmann::json& doc) override;
  Result<nlohmann::json> getObject(const std::string& kind, const std::string& name) override;
  Result<std::vector<nlohmann::json>> listObjects(const std::string& kind) override;
  Status deleteObject(const std::string& kind, const std::string& name) override;
  Result<int64_t> appendEvent(Event event) override;
  Result<std::vector<Event>> listEvents(int64_t afterId, int limit) override;
  Result<std::optional<std::string>> getSetting(const std::string& key) override;
  Status setSetting(const std::string& key, const std::string& value) override;

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status migrate();
  Status exec(const std::string& sql);

  std::mutex mutex_;  // one connection, used by many request threads
  sqlite3* db_;
  int schemaVersion_ = 0;
};

}  // namespace paddock
