// A Store that answers reads of VMs and networks from memory and passes every write through to
// the Store it wraps (SQLite), so the collector, the overcommit manager and `vm list` do not
// parse every VM's JSON out of SQLite each time they look. paddockd is the only writer of its
// store (it holds the state dir's lock), so the copy in memory cannot go stale.
#pragma once

#include <map>
#include <mutex>

#include "store/store.h"

namespace paddock {

class CachingStore : public Store {
 public:
  // Loads every VM and network from `inner`.
  static Result<std::unique_ptr<CachingStore>> open(StorePtr inner);

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

  // Objects are read rarely (templates on deploy): straight from the inner store.
  Status createObject(const std::string& kind, const std::string& name,
                      const nlohmann::json& doc) override {
    return inner_->createObject(kind, name, doc);
  }
  Status updateObject(const std::string& kind, const std::string& name,
                      const nlohmann::json& doc) override {
    return inner_->updateObject(kind, name, doc);
  }
  Result<nlohmann::json> getObject(const std::string& kind, const std::string& name) override {
    return inner_->getObject(kind, name);
  }
  Result<std::vector<nlohmann::json>> listObjects(const std::string& kind) override {
    return inner_->listObjects(kind);
  }
  Status deleteObject(const std::string& kind, const std::string& name) override {
    return inner_->deleteObject(kind, name);
  }

  Result<int64_t> appendEvent(Event event) override {
    return inner_->appendEvent(std::move(event));
  }
  Result<std::vector<Event>> listEvents(int64_t afterId, int limit) override {
    return inner_->listEvents(afterId, limit);
  }
  Result<std::optional<std::string>> getSetting(const std::string& key) override {
    return inner_->getSetting(key);
  }
  Status setSetting(const std::string& key, const std::string& value) override {
    return inner_->setSetting(key, value);
  }

 private:
  explicit CachingStore(StorePtr inner) : inner_(std::move(inner)) {}
  // Re-reads one VM after a write, so the copy holds exactly what the inner store wrote
  // (including the timestamps it set). Caller holds mutex_.
  Status refreshVm(const std::string& name);

  StorePtr inner_;
  std::mutex mutex_;  // held across each write so the copy changes in the inner store's order
  std::map<std::string, VmRecord> vms_;  // by name: listVms() is in name order
  std::map<std::string, NetworkSpec> networks_;
};

}  // namespace paddock
