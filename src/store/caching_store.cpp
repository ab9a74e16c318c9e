#include "store/caching_store.h"

#include <fmt/format.h>

namespace paddock {

Result<std::unique_ptr<CachingStore>> CachingStore::open(StorePtr inner) {
  std::unique_ptr<CachingStore> store(new CachingStore(std::move(inner)));
  auto vms = store->inner_->listVms();
  if (!vms) return vms.error();
  for (auto& vm : *vms) store->vms_.emplace(vm.spec.name, std::move(vm));
  auto networks = store->inner_->listNetworks();
  if (!networks) return networks.error();
  for (auto& n : *networks) store->networks_.emplace(n.name, std::move(n));
  return store;
}

Status CachingStore::refreshVm(const std::string& name) {
  auto rec = inner_->getVm(name);
  if (!rec) {
    vms_.erase(name);
    return rec.error();
  }
  vms_[name] = std::move(*rec);
  return {};
}

Status CachingStore::createVm(const VmRecord& vm) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(inner_->createVm(vm));
  return refreshVm(vm.spec.name);
}

Result<VmRecord> CachingStore::getVm(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = vms_.find(name);
  if (it == vms_.end())
    return makeError(Errc::not_found, fmt::format("VM '{}' does not exist", name));
  return it->second;
}

Result<std::vector<VmRecord>> CachingStore::listVms() {
  std::lock_guard lock(mutex_);
  std::vector<VmRecord> out;
  out.reserve(vms_.size());
  for (const auto& [name, vm] : vms_) out.push_back(vm);
  return out;
}

Status CachingStore::updateVmSpec(const VmSpec& spec) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(inner_->updateVmSpec(spec));
  return refreshVm(spec.name);
}

Status CachingStore::updateVmRuntime(const std::string& name, const VmRuntime& runtime) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(inner_->updateVmRuntime(name, runtime));
  if (auto it = vms_.find(name); it != vms_.end()) it->second.runtime = runtime;
  return {};
}

Status CachingStore::deleteVm(const std::string& name) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(inner_->deleteVm(name));
  vms_.erase(name);
  return {};
}

Status CachingStore::createNetwork(const NetworkSpec& spec) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(inner_->createNetwork(spec));
  auto stored = inner_->getNetwork(spec.name);
  if (!stored) return stored.error();
  networks_[spec.name] = std::move(*stored);
  return {};
}

Result<NetworkSpec> CachingStore::getNetwork(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = networks_.find(name);
  if (it == networks_.end())
    return makeError(Errc::not_found, fmt::format("network '{}' does not exist", name));
  return it->second;
}

Result<std::vector<NetworkSpec>> CachingStore::listNetworks() {
  std::lock_guard lock(mutex_);
  std::vector<NetworkSpec> out;
  out.reserve(networks_.size());
  for (const auto& [name, n] : networks_) out.push_back(n);
  return out;
}

Status CachingStore::deleteNetwork(const std::string& name) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(inner_->deleteNetwork(name));
  networks_.erase(name);
  return {};
}

}  // namespace paddock
