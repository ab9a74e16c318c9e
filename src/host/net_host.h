// The host side of virtual networks: Linux bridges, TAP devices, VLAN filtering, NAT and one
// dnsmasq per network. Everything here acts on the network namespace paddockd runs in.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace paddock::host {

// Linux interface names are at most 15 characters: callers derive short names (see ifnames.h).
struct BridgeConfig {
  std::string name;
  std::string addressCidr;  // host address on the bridge, e.g. "10.7.0.1/24"; empty: none
  bool vlanFiltering = false;
};

struct TapConfig {
  std::string name;
  std::string bridge;
  std::optional<int> vlan;  // untagged access port in this VLAN (bridge VLAN filtering)
};

struct LinkStats {
  uint64_t rxBytes = 0, rxPackets = 0, rxDropped = 0;
  uint64_t txBytes = 0, txPackets = 0, txDropped = 0;
};

// What Paddock needs to know about a host interface it does not own (a bridge network's uplink).
struct LinkInfo {
  std::string kind;    // "bridge", "veth", "tun", ...; empty for plain devices (e.g. a NIC)
  std::string master;  // the bridge it is a port of; empty: none
  std::vector<std::string> ipv4;  // its IPv4 addresses, "a.b.c.d/len"
};

struct PortForward {
  std::string protocol;  // "tcp" or "udp"
  int hostPort = 0;
  std::string guestIp;
  int guestPort = 0;
};

struct NatConfig {
  std::string table;  // nftables table name, one per network, e.g. "paddock_<id>"
  std::string bridge;
  std::string subnetCidr;  // e.g. "10.7.0.0/24"
  std::vector<PortForward> forwards;
};

// Creates, changes and removes host network objects. Every call is idempotent: "ensure" makes
// the object exist as described whatever was there, "remove" succeeds when it is already gone.
class NetHost {
 public:
  virtual ~NetHost() = default;
  virtual Status ensureBridge(const BridgeConfig& config) = 0;
  virtual Status ensureTap(const TapConfig& config) = 0;
  virtual Status removeLink(const std::string& name) = 0;
  virtual bool linkExists(const std::string& name) = 0;
  // Names of links starting with `prefix` (to find leftovers).
  virtual std::vector<std::string> listLinks(const std::string& prefix) = 0;
  virtual Result<LinkStats> linkStats(const std::string& name) = 0;
  // nullopt when there is no such link.
  virtual Result<std::optional<LinkInfo>> linkInfo(const std::string& name) = 0;
  // Makes `port` a port of `bridge` and brings it up; an empty `bridge` releases it.
  virtual Status setMaster(const std::string& port, const std::string& bridge) = 0;
  virtual Status ensureNat(const NatConfig& config) = 0;
  virtual Status removeNat(const std::string& table) = 0;
  virtual std::vector<std::string> listNatTables(const std::string& prefix) = 0;
};

// The real implementation: iproute2 (`ip`, `bridge`) and `nft`.
std::unique_ptr<NetHost> makeIprouteNetHost();

struct DhcpHost {
  std::string mac;
  std::string ip;
  std::string hostname;
};

struct DnsmasqConfig {
  std::string network;     // for messages
  std::string bridge;      // interface it serves
  std::string gatewayIp;   // the bridge's address: DHCP router and DNS server
  std::string rangeStart;  // DHCP pool
  std::string rangeEnd;
  std::string netmask;
  std::string domain;       // DNS domain for guest names; may be empty
  bool router = true;       // advertise the gateway as default route (nat), not on internal LANs
  bool forwardDns = false;  // forward other names to the host's resolvers (nat)
  std::string dir;          // holds dnsmasq.conf, hosts file, leases, pid and log
  std::vector<DhcpHost> hosts;  // static reservations
};

struct Lease {
  int64_t expiry = 0;
  std::string mac;
  std::string ip;
  std::string hostname;
};

// One dnsmasq per network, started detached (it outlives paddockd like QEMU does) and found
// again from its pidfile.
class Dnsmasq {
 public:
  // Writes the configuration and starts dnsmasq unless one already runs for `dir`.
  static Result<pid_t> start(const DnsmasqConfig& config);
  // Rewrites the static reservations and makes a running dnsmasq re-read them (SIGHUP).
  static Status updateHosts(const DnsmasqConfig& config);
  static std::optional<pid_t> running(const std::string& dir);
  static Status stop(const std::string& dir);
  static Result<std::vector<Lease>> leases(const std::string& dir);
};

}  // namespace paddock::host
