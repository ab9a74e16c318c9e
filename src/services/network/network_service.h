// Virtual networks: their definitions in the store, their bridges, NAT and dnsmasq on the host,
// and the VMs' NICs on them (as the lifecycle's NicProvider).
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/net_host.h"
#include "services/event_bus.h"
#include "services/lifecycle/nic_provider.h"
#include "services/network/host_names.h"
#include "store/store.h"

namespace paddock {

class NetworkService : public NicProvider {
 public:
  NetworkService(std::string stateDir, Store& store, host::NetHost& net, EventBus& events);

  Result<nlohmann::json> create(NetworkSpec spec);
  Result<nlohmann::json> get(const std::string& name);
  Result<std::vector<nlohmann::json>> list();
  // The definitions alone, as stored (list() adds each network's state on the host).
  Result<std::vector<NetworkSpec>> specs() { return store_.listNetworks(); }
  Status remove(const std::string& name);
  Result<std::vector<host::Lease>> leases(const std::string& name);
  // Per-NIC traffic counters of a VM (zeros for NICs without a TAP, i.e. a stopped VM).
  nlohmann::json nicStats(const VmSpec& spec);

  // Daemon start: bring every network up (bridge, NAT, dnsmasq) and remove what this daemon
  // created earlier but no longer owns. `runningVms` keep their TAP devices.
  void reconcile(const std::vector<VmRecord>& vms);

  // Restarts a network's dnsmasq within ~2 s when it dies (its lease file is kept).
  void startSupervisor();
  void stopSupervisor();
  void superviseOnce();

  Status prepare(VmSpec& spec, const std::vector<VmRecord>& others) override;
  Result<std::vector<LaunchNic>> attach(const VmSpec& spec) override;
  Result<LaunchNic> attachNic(const std::string& vm, const NicSpec& nic) override;
  void detach(const VmSpec& spec) override;
  void detachNic(const NicSpec& nic) override;
  void nicsChanged() override;
  Status shapeable(const VmSpec& spec, const std::string& mac) override;
  Status shape(const VmSpec& spec, const std::string& mac, const NicLimits& limits) override;

 private:
  Status bringUp(const NetworkSpec& spec);
  std::string forwardTarget(const NetworkSpec& spec, const Forward& f,
                            const std::vector<VmRecord>& vms);
  std::vector<host::PortForward> activeForwards(const NetworkSpec& spec,
                                                const std::vector<VmRecord>& vms);
  Result<LaunchNic> attachLocked(const std::string& vm, const NicSpec& nic);
  std::vector<std::pair<std::string, std::string>> userBackend(const NetworkSpec& spec,
                                                               const std::string& vm,
                                                               const std::string& mac);
  std::string switchOf(const NetworkSpec& spec);
  Status checkUplink(const NetworkSpec& spec);
  void tearDown(const NetworkSpec& spec);
  host::DnsmasqConfig dnsmasqConfig(const NetworkSpec& spec, const std::vector<VmRecord>& vms);
  std::string dir(const std::string& network) const;
  nlohmann::json describe(const NetworkSpec& spec);
  Result<std::string> pickSubnet();

  std::string stateDir_;
  Store& store_;
  host::NetHost& net_;
  EventBus& events_;
  HostNames names_;
  std::mutex mutex_;  // one network change at a time
  std::mutex supervisorMutex_;
  std::condition_variable supervisorCv_;
  bool supervisorStop_ = false;
  std::thread supervisor_;
};

}  // namespace paddock
