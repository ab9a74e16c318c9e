#include "model/network_spec.h"

#include <arpa/inet.h>

#include <set>

#include <fmt/format.h>

#include "common/names.h"

namespace paddock {

using nlohmann::json;

namespace {

Error fieldError(const std::string& field, const std::string& message) {
  return makeError(Errc::invalid_argument, message, field);
}

Status validatePortsAndForwards(const NetworkSpec& spec);

}  // namespace

Result<Forward> parseForward(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  auto bad = [&](const std::string& why) {
    return makeError(
        Errc::invalid_argument,
        fmt::format("forward '{}' {} (use PROTO:HOSTPORT:VM:GUESTPORT, e.g. tcp:8080:web1:80)",
                    text, why));
  };
  if (parts.size() != 4) return bad("has the wrong form");
  Forward f;
  f.protocol = parts[0];
  if (f.protocol != "tcp" && f.protocol != "udp") return bad("must start with tcp or udp");
  for (auto [s, port] : {std::pair{parts[1], &f.hostPort}, std::pair{parts[3], &f.guestPort}}) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
      return bad(fmt::format("has a bad port '{}'", s));
    *port = std::stoi(s);
    if (*port < 1 || *port > 65535) return bad(fmt::format("has port {} outside 1–65535", *port));
  }
  f.vm = parts[2];
  if (auto s = validateName(f.vm, "VM name"); !s) return bad("names no valid VM");
  return f;
}

std::string formatForward(const Forward& f) {
  return fmt::format("{}:{}:{}:{}", f.protocol, f.hostPort, f.vm, f.guestPort);
}

const char* networkKindName(NetworkKind k) {
  switch (k) {
    case NetworkKind::internal:
      return "internal";
    case NetworkKind::nat:
      return "nat";
    case NetworkKind::bridge:
      return "bridge";
    case NetworkKind::user:
      return "user";
  }
  return "internal";
}

bool hasHostSwitch(const NetworkSpec& spec) {
  return spec.kind != NetworkKind::user;
}

bool Ipv4Net::overlaps(const Ipv4Net& o) const {
  uint32_t m = prefix < o.prefix ? mask() : o.mask();
  return (address & m) == (o.address & m);
}

Result<uint32_t> parseIpv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1)
    return makeError(Errc::invalid_argument, fmt::format("'{}' is not an IPv4 address", text));
  return ntohl(a.s_addr);
}

std::string formatIpv4(uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

Result<Ipv4Net> parseCidr(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos)
    return makeError(Errc::invalid_argument,
                     fmt::format("'{}' is not an IPv4 subnet (use e.g. 10.7.0.0/24)", text));
  auto ip = parseIpv4(text.substr(0, slash));
  if (!ip) return ip.error();
  std::string p = text.substr(slash + 1);
  if (p.empty() || p.size() > 2 || p.find_first_not_of("0123456789") != std::string::npos)
    return makeError(Errc::invalid_argument, fmt::format("'{}' has a bad prefix length", text));
  int prefix = std::stoi(p);
  if (prefix < 8 || prefix > 30)
    return makeError(Errc::invalid_argument,
                     fmt::format("subnet '{}' must have a prefix between /8 and /30", text));
  Ipv4Net net{*ip, prefix};
  if ((*ip & net.mask()) != *ip)
    return makeError(Errc::invalid_argument,
                     fmt::format("'{}' has host bits set (did you mean {}?)", text,
                                 formatCidr({*ip & net.mask(), prefix})));
  return net;
}

std::string formatCidr(const Ipv4Net& net) {
  return fmt::format("{}/{}", formatIpv4(net.address), net.prefix);
}

Status completeNetworkSpec(NetworkSpec& spec) {
  // A bridge network's addresses belong to its segment; Paddock serves none of them.
  if (spec.kind == NetworkKind::bridge) return {};
  if (spec.kind == NetworkKind::user && spec.subnet.empty()) spec.subnet = kUserDefaultSubnet;
  auto net = parseCidr(spec.subnet);
  if (!net) return fieldError("subnet", net.error().message);
  uint32_t size = net->last() - net->first() + 1;
  if (spec.kind == NetworkKind::user) {
    // QEMU's convention: the 15th address onward (10.0.2.15 in its default subnet).
    if (spec.dhcpStart.empty()) spec.dhcpStart = formatIpv4(net->first() + std::min(14u, size - 1));
    auto start = parseIpv4(spec.dhcpStart);
    if (spec.dhcpEnd.empty() && start)
      spec.dhcpEnd = formatIpv4(std::min(*start + kUserDhcpAddresses - 1, net->last()));
  }
  if (spec.dhcpStart.empty()) spec.dhcpStart = formatIpv4(net->first() + (size > 20 ? 9 : 1));
  if (spec.dhcpEnd.empty()) spec.dhcpEnd = formatIpv4(net->last() - (size > 20 ? 1 : 0));
  if (spec.domain.empty()) spec.domain = spec.name + ".paddock";
  return {};
}

Status validateNetworkSpec(const NetworkSpec& spec) {
  if (auto s = validateName(spec.name, "network name"); !s)
    return fieldError("name", s.error().message);
  if (spec.name.size() > 32)
    return fieldError("name",
                      fmt::format("network name '{}' is longer than 32 characters", spec.name));
  if (spec.kind == NetworkKind::bridge) {
    if (spec.uplink.empty())
      return fieldError("uplink", "a bridge network needs an uplink: the host interface to join");
    if (!validIfname(spec.uplink))
      return fieldError("uplink", fmt::format("'{}' is not a valid interface name", spec.uplink));
    if (!spec.dhcpStart.empty() || !spec.dhcpEnd.empty())
      return fieldError(spec.dhcpStart.empty() ? "dhcp_end" : "dhcp_start",
                        "a bridge network has no DHCP range: the uplink's segment serves "
                        "addresses");
    if (!spec.domain.empty())
      return fieldError("domain",
                        "a bridge network has no DNS domain: the uplink's segment "
                        "serves names");
    if (!spec.subnet.empty())
      if (auto net = parseCidr(spec.subnet); !net) return fieldError("subnet", net.error().message);
    return validatePortsAndForwards(spec);
  }
  if (!spec.uplink.empty())
    return fieldError("uplink", fmt::format("only bridge networks have an uplink ({} network)",
                                            networkKindName(spec.kind)));
  if (spec.kind == NetworkKind::user && !spec.portGroups.empty())
    return fieldError("port_groups",
                      "a user network has no switch, so no port groups: each NIC has its own "
                      "private network");
  auto net = parseCidr(spec.subnet);
  if (!net) return fieldError("subnet", net.error().message);
  uint32_t gateway = net->first();
  auto start = parseIpv4(spec.dhcpStart);
  if (!start) return fieldError("dhcp_start", start.error().message);
  auto end = parseIpv4(spec.dhcpEnd);
  if (!end) return fieldError("dhcp_end", end.error().message);
  for (auto [ip, field] : {std::pair{*start, "dhcp_start"}, std::pair{*end, "dhcp_end"}}) {
    if (!net->contains(ip) || ip < net->first() || ip > net->last())
      return fieldError(field, fmt::format("DHCP range {}–{} is outside the subnet {}",
                                           spec.dhcpStart, spec.dhcpEnd, spec.subnet));
    if (ip == gateway)
      return fieldError(
          field, fmt::format("DHCP range must not include the gateway {}", formatIpv4(gateway)));
  }
  if (*start > *end)
    return fieldError("dhcp_start",
                      fmt::format("DHCP range {}–{} is backwards", spec.dhcpStart, spec.dhcpEnd));
  if (spec.kind == NetworkKind::user && *end - *start + 1 > kUserDhcpAddresses)
    return fieldError("dhcp_end",
                      fmt::format("QEMU's user-mode DHCP hands out {} addresses, so the range "
                                  "ends at {} at the latest",
                                  kUserDhcpAddresses, formatIpv4(*start + kUserDhcpAddresses - 1)));
  if (!spec.domain.empty() &&
      spec.domain.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") != std::string::npos)
    return fieldError(
        "domain", fmt::format("DNS domain '{}' may hold only a-z, 0-9, '-' and '.'", spec.domain));
  return validatePortsAndForwards(spec);
}

namespace {

Status validatePortsAndForwards(const NetworkSpec& spec) {
  std::set<std::string> names;
  std::set<int> vlans;
  for (size_t i = 0; i < spec.portGroups.size(); ++i) {
    const auto& pg = spec.portGroups[i];
    std::string field = fmt::format("port_groups[{}]", i);
    if (auto s = validateName(pg.name, "port group name"); !s)
      return fieldError(field + ".name", s.error().message);
    if (!names.insert(pg.name).second)
      return fieldError(field + ".name", fmt::format("port group '{}' is defined twice", pg.name));
    if (pg.vlan < 1 || pg.vlan > 4094)
      return fieldError(field + ".vlan", fmt::format("VLAN id {} is outside 1–4094", pg.vlan));
    if (!vlans.insert(pg.vlan).second)
      return fieldError(field + ".vlan",
                        fmt::format("VLAN {} is used by two port groups", pg.vlan));
  }
  std::set<std::string> hostPorts;
  for (size_t i = 0; i < spec.forwards.size(); ++i) {
    const auto& f = spec.forwards[i];
    if (spec.kind != NetworkKind::nat && spec.kind != NetworkKind::user)
      return fieldError(fmt::format("forwards[{}]", i), "port forwards need a nat or user network");
    if (!hostPorts.insert(f.protocol + std::to_string(f.hostPort)).second)
      return fieldError(fmt::format("forwards[{}]", i),
                        fmt::format("host port {}/{} is forwarded twice", f.hostPort, f.protocol));
  }
  return {};
}

}  // namespace

json toJson(const NetworkSpec& spec) {
  json pgs = json::array();
  for (const auto& pg : spec.portGroups) pgs.push_back({{"name", pg.name}, {"vlan", pg.vlan}});
  json fwds = json::array();
  for (const auto& f : spec.forwards) fwds.push_back(formatForward(f));
  return {{"name", spec.name},
          {"kind", networkKindName(spec.kind)},
          {"subnet", spec.subnet},
          {"dhcp_start", spec.dhcpStart},
          {"dhcp_end", spec.dhcpEnd},
          {"domain", spec.domain},
          {"description", spec.description},
          {"uplink", spec.uplink},
          {"port_groups", pgs},
          {"forwards", fwds},
          {"labels", spec.labels}};
}

Result<NetworkSpec> networkSpecFromJson(const json& j) {
  if (!j.is_object()) return fieldError("", "a network definition must be a JSON object");
  if (!j.contains("name")) return fieldError("name", "field 'name' is required");
  NetworkSpec spec;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "kind") {
      if (!v.is_string()) return fieldError(key, "field 'kind' must be a string");
      std::string k = v.get<std::string>();
      if (k == "internal") {
        spec.kind = NetworkKind::internal;
      } else if (k == "nat") {
        spec.kind = NetworkKind::nat;
      } else if (k == "bridge") {
        spec.kind = NetworkKind::bridge;
      } else if (k == "user") {
        spec.kind = NetworkKind::user;
      } else {
        return fieldError(key,
                          fmt::format("kind must be internal, nat, bridge or user (got '{}')", k));
      }
    } else if (key == "port_groups") {
      if (!v.is_array()) return fieldError(key, "field 'port_groups' must be an array");
      for (size_t i = 0; i < v.size(); ++i) {
        std::string where = fmt::format("port_groups[{}]", i);
        if (!v[i].is_object()) return fieldError(where, fmt::format("{} must be an object", where));
        PortGroup pg;
        for (auto p = v[i].begin(); p != v[i].end(); ++p) {
          if (p.key() == "name" && p.value().is_string()) {
            pg.name = p.value().get<std::string>();
          } else if (p.key() == "vlan" && p.value().is_number_integer()) {
            pg.vlan = p.value().get<int>();
          } else if (p.key() == "name" || p.key() == "vlan") {
            return fieldError(where + "." + p.key(),
                              fmt::format("field '{}.{}' has the wrong type", where, p.key()));
          } else {
            return fieldError(where + "." + p.key(),
                              fmt::format("unknown field '{}.{}'", where, p.key()));
          }
        }
        spec.portGroups.push_back(pg);
      }
    } else if (key == "forwards") {
      if (!v.is_array()) return fieldError(key, "field 'forwards' must be an array of strings");
      for (size_t i = 0; i < v.size(); ++i) {
        std::string where = fmt::format("forwards[{}]", i);
        if (!v[i].is_string()) return fieldError(where, fmt::format("{} must be a string", where));
        auto f = parseForward(v[i].get<std::string>());
        if (!f) return fieldError(where, f.error().message);
        spec.forwards.push_back(*f);
      }
    } else if (key == "labels") {
      if (!v.is_object()) return fieldError(key, "field 'labels' must be an object of strings");
      for (auto l = v.begin(); l != v.end(); ++l) {
        if (!l.value().is_string())
          return fieldError("labels." + l.key(),
                            fmt::format("label '{}' must be a string", l.key()));
        spec.labels[l.key()] = l.value().get<std::string>();
      }
    } else if (key == "name" || key == "subnet" || key == "dhcp_start" || key == "dhcp_end" ||
               key == "domain" || key == "description" || key == "uplink") {
      if (!v.is_string()) return fieldError(key, fmt::format("field '{}' must be a string", key));
      std::string s = v.get<std::string>();
      (key == "name"         ? spec.name
       : key == "subnet"     ? spec.subnet
       : key == "dhcp_start" ? spec.dhcpStart
       : key == "dhcp_end"   ? spec.dhcpEnd
       : key == "domain"     ? spec.domain
       : key == "uplink"     ? spec.uplink
                             : spec.description) = s;
    } else {
      return fieldError(key, fmt::format("unknown field '{}'", key));
    }
  }
  return spec;
}

}  // namespace paddock
