// A virtual network. internal: a switch (Linux bridge) with DHCP/DNS and nothing else; nat: the
// same with a gateway and outbound NAT; bridge: a switch whose uplink is a host interface, so
// guests sit on that interface's L2 segment (its DHCP, its router); user: QEMU's user-mode
// network, private to each NIC, which needs no privileges on the host.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock {

enum class NetworkKind { internal, nat, bridge, user };
const char* networkKindName(NetworkKind k);

struct PortGroup {
  std::string name;
  int vlan = 0;
  bool operator==(const PortGroup&) const = default;
};

// "tcp:8080:web1:80": the host's port 8080 leads to port 80 of VM web1's NIC on this network.
struct Forward {
  std::string protocol;  // "tcp" or "udp"
  int hostPort = 0;
  std::string vm;
  int guestPort = 0;
  bool operator==(const Forward&) const = default;
};
Result<Forward> parseForward(const std::string& text);
std::string formatForward(const Forward& f);

struct NetworkSpec {
  std::string name;
  NetworkKind kind = NetworkKind::internal;
  std::string subnet;     // IPv4 CIDR, e.g. "10.7.0.0/24"; empty on create: Paddock picks one
                          // (bridge: the segment's subnet, optional, for checking static IPs)
  std::string dhcpStart;  // empty: .10 of the subnet
  std::string dhcpEnd;    // empty: the last host address but one
  std::string domain;     // DNS domain for guest names; empty: "<name>.paddock"
  std::string description;
  std::string uplink;  // bridge networks: the host interface (or existing bridge) guests join
  std::vector<PortGroup> portGroups;
  std::vector<Forward> forwards;              // nat and user networks only
  std::map<std::string, std::string> labels;  // e.g. paddock.directory = the file that manages it
  bool operator==(const NetworkSpec&) const = default;
};

struct Ipv4Net {
  uint32_t address = 0;  // network address, host order
  int prefix = 0;
  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  uint32_t first() const { return address + 1; }
  uint32_t last() const { return (address | ~mask()) - 1; }
  bool contains(uint32_t ip) const { return (ip & mask()) == address; }
  bool overlaps(const Ipv4Net& o) const;
};

Result<uint32_t> parseIpv4(const std::string& text);
std::string formatIpv4(uint32_t ip);
Result<Ipv4Net> parseCidr(const std::string& text);
std::string formatCidr(const Ipv4Net& net);

// QEMU's user-mode DHCP server hands out this many addresses from its first one.
inline constexpr uint32_t kUserDhcpAddresses = 16;
// The subnet QEMU's user-mode network uses unless told otherwise.
inline constexpr const char* kUserDefaultSubnet = "10.0.2.0/24";

// Whether the network is a Linux bridge on the host (internal, nat, bridge).
bool hasHostSwitch(const NetworkSpec& spec);

// Fills empty dhcpStart/dhcpEnd/domain from the subnet and name (subnet must be set, except on
// bridge networks).
Status completeNetworkSpec(NetworkSpec& spec);
// Checks the spec alone: name, subnet, range inside the subnet, VLAN ids, port group names.
Status validateNetworkSpec(const NetworkSpec& spec);

nlohmann::json toJson(const NetworkSpec& spec);
Result<NetworkSpec> networkSpecFromJson(const nlohmann::json& j);

}  // namespace paddock
