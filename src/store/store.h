// Where paddockd keeps what must survive it: VM definitions and runtime, events, settings.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/event.h"
#include "model/network_spec.h"
#include "model/vm_state.h"

namespace paddock {

class Store {
 public:
  virtual ~Store() = default;

  // Fails with conflict if the name is taken.
  virtual Status createVm(const VmRecord& vm) = 0;
  virtual Result<VmRecord> getVm(const std::string& name) = 0;
  virtual Result<std::vector<VmRecord>> listVms() = 0;
  virtual Status updateVmSpec(const VmSpec& spec) = 0;
  virtual Status updateVmRuntime(const std::string& name, const VmRuntime& runtime) = 0;
  virtual Status deleteVm(const std::string& name) = 0;

  virtual Status createNetwork(const NetworkSpec& spec) = 0;
  virtual Result<NetworkSpec> getNetwork(const std::string& name) = 0;
  virtual Result<std::vector<NetworkSpec>> listNetworks() = 0;
  virtual Status deleteNetwork(const std::string& name) = 0;

  // Named JSON documents of the other kinds of objects ("template", ...), one namespace per
  // kind. create fails with conflict if the name is taken; get and delete with not_found
  // ("<kind> '<name>' does not exist"); list is in name order.
  virtual Status createObject(const std::string& kind, const std::string& name,
                              const nlohmann::json& doc) = 0;
  virtual Status updateObject(const std::string& kind, const std::string& name,
                              const nlohmann::json& doc) = 0;
  virtual Result<nlohmann::json> getObject(const std::string& kind, const std::string& name) = 0;
  virtual Result<std::vector<nlohmann::json>> listObjects(const std::string& kind) = 0;
  virtual Status deleteObject(const std::string& kind, const std::string& name) = 0;

  // Assigns and returns the event id.
  virtual Result<int64_t> appendEvent(Event event) = 0;
  virtual Result<std::vector<Event>> listEvents(int64_t afterId, int limit) = 0;

  virtual Result<std::optional<std::string>> getSetting(const std::string& key) = 0;
  virtual Status setSetting(const std::string& key, const std::string& value) = 0;
};

using StorePtr = std::unique_ptr<Store>;

}  // namespace paddock
