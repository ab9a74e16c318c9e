// NetHost on iproute2: `ip -j` / `bridge -j` for reading state, plain commands for changing it,
// and nft_nat.h for NAT. Every method first reads what is there and changes only what differs,
// so calling it again is cheap and does not disturb traffic (no address flaps, no re-enslaving).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <utility>

#include "common/files.h"
#include "common/hash.h"
#include "host/host_command.h"
#include "host/net_host.h"
#include "host/nft_nat.h"

namespace paddock::host {

namespace {

using nlohmann::json;

Result<json> parseJson(const std::string& text, const std::string& what) {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded())
    return makeError(Errc::internal, fmt::format("{}: unparsable JSON", what));
  return doc;
}

bool isNoSuchDevice(const CommandOutput& out) {
  return out.err.find("does not exist") != std::string::npos ||
         out.err.find("Cannot find device") != std::string::npos;
}

// `ip -j -d link show dev NAME`: the link's description, nullopt if there is no such link.
Result<std::optional<json>> linkDetails(const std::string& name) {
  std::vector<std::string> argv{"ip", "-j", "-d", "link", "show", "dev", name};
  std::string what = fmt::format("cannot inspect link {}", name);
  auto out = runCommand(argv, std::chrono::seconds(30));
  if (!out) return makeError(out.error().code, fmt::format("{}: {}", what, out.error().message));
  if (out->exitCode != 0) {
    if (isNoSuchDevice(*out)) return std::optional<json>{};
    return commandError(Errc::internal, what, argv, *out);
  }
  auto doc = parseJson(out->out, what);
  if (!doc) return doc.error();
  if (!doc->is_array() || doc->empty()) return std::optional<json>{};
  return std::optional<json>{(*doc)[0]};
}

std::optional<LinkStats> sysfsLinkStats(const std::string& dir) {
  LinkStats stats;
  for (auto [file, field] :
       {std::pair{"rx_bytes", &stats.rxBytes}, std::pair{"rx_packets", &stats.rxPackets},
        std::pair{"rx_dropped", &stats.rxDropped}, std::pair{"tx_bytes", &stats.txBytes},
        std::pair{"tx_packets", &stats.txPackets}, std::pair{"tx_dropped", &stats.txDropped}}) {
    auto text = readFile(dir + file);
    if (!text) return std::nullopt;
    try {
      *field = std::stoull(*text);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return stats;
}

std::string bridgeMac(const std::string& name) {
  uint32_t h = fnv1a(name);
  return fmt::format("02:70:64:{:02x}:{:02x}:{:02x}", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

std::string linkKind(const json& link) {
  if (!link.contains("linkinfo")) return {};
  return link["linkinfo"].value("info_kind", "");
}

json linkInfoData(const json& link) {
  if (!link.contains("linkinfo") || !link["linkinfo"].contains("info_data")) return json::object();
  return link["linkinfo"]["info_data"];
}

bool hasFlag(const json& link, const std::string& flag) {
  if (!link.contains("flags") || !link["flags"].is_array()) return false;
  for (const auto& f : link["flags"])
    if (f.is_string() && f.get<std::string>() == flag) return true;
  return false;
}

int64_t intField(const json& obj, const std::string& key) {
  if (!obj.contains(key)) return 0;
  const auto& v = obj[key];
  if (v.is_number()) return v.get<int64_t>();
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  return 0;
}

uint64_t counter(const json& obj, const std::string& key) {
  if (!obj.contains(key) || !obj[key].is_number()) return 0;
  return obj[key].is_number_unsigned() ? obj[key].get<uint64_t>()
                                       : static_cast<uint64_t>(obj[key].get<int64_t>());
}

Status run(const std::vector<std::string>& argv, const std::string& what) {
  auto out = runChecked(argv, what);
  if (!out) return out.error();
  return {};
}

// A kernel without CONFIG_BRIDGE_VLAN_FILTERING answers "Operation not supported".
Error vlanError(Error e) {
  if (e.message.find("not supported") != std::string::npos) {
    e.code = Errc::unavailable;
    e.message += " (the kernel lacks bridge VLAN filtering: CONFIG_BRIDGE_VLAN_FILTERING)";
  }
  return e;
}

Error invalidName(const std::string& what, const std::string& name) {
  return makeError(Errc::invalid_argument, fmt::format("invalid {} name '{}'", what, name));
}

struct PortVlan {
  int vid = 0;
  int vidEnd = 0;  // == vid unless the entry is a range
  bool pvid = false;
  bool untagged = false;
};

// `bridge -j vlan show dev NAME`: the port's VLAN entries (empty without VLAN support).
Result<std::vector<PortVlan>> portVlans(const std::string& port) {
  std::vector<std::string> argv{"bridge", "-j", "vlan", "show", "dev", port};
  std::string what = fmt::format("cannot read VLANs of {}", port);
  auto out = runChecked(argv, what);
  if (!out) return out.error();
  std::vector<PortVlan> vlans;
  if (firstLine(out->out).empty()) return vlans;
  auto doc = parseJson(out->out, what);
  if (!doc) return doc.error();
  if (!doc->is_array()) return vlans;
  for (const auto& entry : *doc) {
    if (!entry.is_object() || entry.value("ifname", "") != port || !entry.contains("vlans"))
      continue;
    for (const auto& v : entry["vlans"]) {
      PortVlan pv;
      pv.vid = static_cast<int>(intField(v, "vlan"));
      pv.vidEnd = v.contains("vlanEnd") ? static_cast<int>(intField(v, "vlanEnd")) : pv.vid;
      if (v.contains("flags") && v["flags"].is_array())
        for (const auto& f : v["flags"]) {
          if (f == "PVID") pv.pvid = true;
          if (f == "Egress Untagged") pv.untagged = true;
        }
      vlans.push_back(pv);
    }
  }
  return vlans;
}

class IprouteNetHost final : public NetHost {
 public:
  Status ensureBridge(const BridgeConfig& config) override;
  Status ensureTap(const TapConfig& config) override;
  Status removeLink(const std::string& name) override;
  bool linkExists(const std::string& name) override;
  std::vector<std::string> listLinks(const std::string& prefix) override;
  Result<LinkStats> linkStats(const std::string& name) override;
  Result<std::optional<LinkInfo>> linkInfo(const std::string& name) override;
  Status setMaster(const std::string& port, const std::string& bridge) override;
  Status ensureNat(const NatConfig& config) override { return applyNat(config); }
  Status removeNat(const std::string& table) override { return deleteNatTable(table); }
  std::vector<std::string> listNatTables(const std::string& prefix) override {
    return natTables(prefix);
  }

 private:
  Status ensureBridgeAddress(const std::string& name, const std::string& cidr);
  Status ensurePortVlan(const std::string& port, std::optional<int> vlan);
};

Status IprouteNetHost::ensureBridge(const BridgeConfig& config) {
  const std::string& name = config.name;
  if (!validIfname(name)) return invalidName("bridge", name);
  if (!config.addressCidr.empty() && !parseIpv4Cidr(config.addressCidr))
    return makeError(Errc::invalid_argument,
                     fmt::format("bridge {}: invalid address '{}'", name, config.addressCidr));
  // A bridge without a MAC of its own takes the lowest of its ports' MACs, so it would change
  // whenever a TAP comes or goes, and guests' ARP entries for the gateway would go stale for
  // seconds. A fixed, locally administered MAC derived from the name keeps it stable.
  const std::string mac = bridgeMac(name);
  auto link = linkDetails(name);
  if (!link) return link.error();
  json data = json::object();
  if (!*link) {
    // New bridges start with STP off; the forward delay then does not matter, but set it to 0
    // so turning STP on later does not hold ports in "listening" for 15 s.
    PADDOCK_TRY(run({"ip", "link", "add", name, "address", mac, "type", "bridge", "stp_state", "0",
                     "forward_delay", "0"},
                    fmt::format("cannot create bridge {}", name)));
  } else {
    std::string kind = linkKind(**link);
    if (kind != "bridge")
      return makeError(Errc::conflict,
                       fmt::format("cannot use {} as a bridge: it exists and is a {} link", name,
                                   kind.empty() ? "non-bridge" : kind));
    data = linkInfoData(**link);
    if ((**link).value("address", "") != mac)
      PADDOCK_TRY(run({"ip", "link", "set", "dev", name, "address", mac},
                      fmt::format("cannot set the MAC address of bridge {}", name)));
    // STP off first: the kernel refuses a forward delay below 2 s while STP is on.
    if (intField(data, "stp_state") != 0)
      PADDOCK_TRY(run({"ip", "link", "set", name, "type", "bridge", "stp_state", "0"},
                      fmt::format("cannot turn STP off on bridge {}", name)));
    if (intField(data, "forward_delay") != 0)
      PADDOCK_TRY(run({"ip", "link", "set", name, "type", "bridge", "forward_delay", "0"},
                      fmt::format("cannot set forward delay of bridge {}", name)));
  }
  // Only touch vlan_filtering when it must change: kernels without VLAN filtering support
  // reject even "vlan_filtering 0".
  bool filtering = intField(data, "vlan_filtering") != 0;
  if (filtering != config.vlanFiltering) {
    auto s = run({"ip", "link", "set", name, "type", "bridge", "vlan_filtering",
                  config.vlanFiltering ? "1" : "0"},
                 fmt::format("cannot {} VLAN filtering on bridge {}",
                             config.vlanFiltering ? "enable" : "disable", name));
    if (!s) return vlanError(s.error());
  }
  PADDOCK_TRY(ensureBridgeAddress(name, config.addressCidr));
  if (!*link || !hasFlag(**link, "UP"))
    PADDOCK_TRY(run({"ip", "link", "set", "dev", name, "up"},
                    fmt::format("cannot bring bridge {} up", name)));
  return {};
}

Result<std::set<std::pair<std::string, int64_t>>> ipv4Addresses(const std::string& name) {
  std::string what = fmt::format("cannot read addresses of {}", name);
  auto out = runChecked({"ip", "-j", "-4", "addr", "show", "dev", name}, what);
  if (!out) return out.error();
  auto doc = parseJson(out->out, what);
  if (!doc) return doc.error();
  std::set<std::pair<std::string, int64_t>> have;
  if (doc->is_array())
    for (const auto& l : *doc)
      if (l.contains("addr_info"))
        for (const auto& a : l["addr_info"])
          if (a.value("family", "") == "inet")
            have.insert({a.value("local", ""), intField(a, "prefixlen")});
  return have;
}

Result<std::optional<LinkInfo>> IprouteNetHost::linkInfo(const std::string& name) {
  if (!validIfname(name)) return invalidName("link", name);
  auto link = linkDetails(name);
  if (!link) return link.error();
  if (!*link) return std::optional<LinkInfo>{};
  LinkInfo info{linkKind(**link), (**link).value("master", ""), {}};
  auto addresses = ipv4Addresses(name);
  if (!addresses) return addresses.error();
  for (const auto& [ip, len] : *addresses) info.ipv4.push_back(fmt::format("{}/{}", ip, len));
  return std::optional<LinkInfo>{info};
}

Status IprouteNetHost::setMaster(const std::string& port, const std::string& bridge) {
  if (!validIfname(port)) return invalidName("link", port);
  if (!bridge.empty() && !validIfname(bridge)) return invalidName("bridge", bridge);
  if (bridge.empty())
    return run({"ip", "link", "set", "dev", port, "nomaster"},
               fmt::format("cannot release {} from its bridge", port));
  PADDOCK_TRY(run({"ip", "link", "set", "dev", port, "master", bridge},
                  fmt::format("cannot make {} a port of bridge {}", port, bridge)));
  return run({"ip", "link", "set", "dev", port, "up"}, fmt::format("cannot bring {} up", port));
}

Status IprouteNetHost::ensureBridgeAddress(const std::string& name, const std::string& cidr) {
  auto addresses = ipv4Addresses(name);
  if (!addresses) return addresses.error();
  const auto& have = *addresses;
  std::set<std::pair<std::string, int64_t>> want;
  if (auto parsed = parseIpv4Cidr(cidr)) want.insert({parsed->address, parsed->prefix});
  if (have == want) return {};
  if (!have.empty())
    PADDOCK_TRY(run({"ip", "-4", "addr", "flush", "dev", name},
                    fmt::format("cannot clear addresses of bridge {}", name)));
  if (!want.empty())
    PADDOCK_TRY(run({"ip", "addr", "add", cidr, "broadcast", "+", "dev", name},
                    fmt::format("cannot set address {} on bridge {}", cidr, name)));
  return {};
}

Status IprouteNetHost::ensureTap(const TapConfig& config) {
  const std::string& name = config.name;
  if (!validIfname(name)) return invalidName("tap", name);
  if (!validIfname(config.bridge)) return invalidName("bridge", config.bridge);
  if (config.vlan && (*config.vlan < 1 || *config.vlan > 4094))
    return makeError(Errc::invalid_argument,
                     fmt::format("tap {}: VLAN {} is outside 1-4094", name, *config.vlan));
  auto bridge = linkDetails(config.bridge);
  if (!bridge) return bridge.error();
  if (!*bridge || linkKind(**bridge) != "bridge")
    return makeError(Errc::not_found, fmt::format("cannot attach tap {}: bridge {} does not exist",
                                                  name, config.bridge));
  if (config.vlan && intField(linkInfoData(**bridge), "vlan_filtering") == 0)
    return makeError(Errc::conflict,
                     fmt::format("cannot put tap {} in VLAN {}: bridge {} has no VLAN filtering",
                                 name, *config.vlan, config.bridge));
  auto link = linkDetails(name);
  if (!link) return link.error();
  if (!*link) {
    // Persistent and owned by root; QEMU (as root) opens it with ifname=NAME,script=no and sets
    // vnet_hdr itself. A multiqueue NIC (queues>1) would need "multi_queue" here.
    PADDOCK_TRY(run({"ip", "tuntap", "add", "dev", name, "mode", "tap"},
                    fmt::format("cannot create tap {}", name)));
  } else {
    std::string kind = linkKind(**link);
    if (kind != "tun" || linkInfoData(**link).value("type", "") != "tap")
      return makeError(Errc::conflict,
                       fmt::format("cannot use {} as a tap: it exists and is a {} link", name,
                                   kind.empty() ? "different" : kind));
  }
  if (!*link || (**link).value("master", "") != config.bridge)
    PADDOCK_TRY(run({"ip", "link", "set", "dev", name, "master", config.bridge},
                    fmt::format("cannot attach tap {} to bridge {}", name, config.bridge)));
  PADDOCK_TRY(ensurePortVlan(name, config.vlan));
  if (!*link || !hasFlag(**link, "UP"))
    PADDOCK_TRY(
        run({"ip", "link", "set", "dev", name, "up"}, fmt::format("cannot bring tap {} up", name)));
  return {};
}

// An access port: exactly `vlan` as PVID and egress untagged. Without a VLAN the port goes back
// to the default (1 PVID untagged) if it was changed; ports of kernels without VLAN support
// have no entries and are left alone.
Status IprouteNetHost::ensurePortVlan(const std::string& port, std::optional<int> vlan) {
  auto have = portVlans(port);
  if (!have) return have.error();
  if (!vlan && have->empty()) return {};
  int want = vlan.value_or(1);
  bool ok = have->size() == 1 && (*have)[0].vid == want && (*have)[0].vidEnd == want &&
            (*have)[0].pvid && (*have)[0].untagged;
  if (ok) return {};
  auto s =
      run({"bridge", "vlan", "add", "dev", port, "vid", std::to_string(want), "pvid", "untagged"},
          fmt::format("cannot put tap {} in VLAN {}", port, want));
  if (!s) return vlanError(s.error());
  for (const auto& v : *have) {
    if (v.vid == want && v.vidEnd == want) continue;
    std::string vids =
        v.vid == v.vidEnd ? std::to_string(v.vid) : fmt::format("{}-{}", v.vid, v.vidEnd);
    if (v.vid <= want && want <= v.vidEnd) {
      // A range containing the wanted VLAN: remove the parts around it.
      if (v.vid < want)
        PADDOCK_TRY(
            run({"bridge", "vlan", "del", "dev", port, "vid",
                 v.vid == want - 1 ? std::to_string(v.vid) : fmt::format("{}-{}", v.vid, want - 1)},
                fmt::format("cannot remove VLANs {} from tap {}", vids, port)));
      if (want < v.vidEnd)
        PADDOCK_TRY(run({"bridge", "vlan", "del", "dev", port, "vid",
                         want + 1 == v.vidEnd ? std::to_string(v.vidEnd)
                                              : fmt::format("{}-{}", want + 1, v.vidEnd)},
                        fmt::format("cannot remove VLANs {} from tap {}", vids, port)));
      continue;
    }
    PADDOCK_TRY(run({"bridge", "vlan", "del", "dev", port, "vid", vids},
                    fmt::format("cannot remove VLANs {} from tap {}", vids, port)));
  }
  return {};
}

Status IprouteNetHost::removeLink(const std::string& name) {
  if (!validIfname(name)) return invalidName("link", name);
  auto link = linkDetails(name);
  if (!link) return link.error();
  if (!*link) return {};
  std::vector<std::string> argv{"ip", "link", "del", "dev", name};
  auto out = runCommand(argv, std::chrono::seconds(30));
  std::string what = fmt::format("cannot remove link {}", name);
  if (!out) return makeError(out.error().code, fmt::format("{}: {}", what, out.error().message));
  if (out->exitCode != 0 && !isNoSuchDevice(*out))
    return commandError(Errc::internal, what, argv, *out);
  return {};
}

bool IprouteNetHost::linkExists(const std::string& name) {
  if (!validIfname(name)) return false;
  auto link = linkDetails(name);
  return link.ok() && link->has_value();
}

std::vector<std::string> IprouteNetHost::listLinks(const std::string& prefix) {
  std::vector<std::string> names;
  auto out = runCommand({"ip", "-j", "link", "show"}, std::chrono::seconds(30));
  if (!out || out->exitCode != 0) return names;
  auto doc = json::parse(out->out, nullptr, false);
  if (!doc.is_array()) return names;
  for (const auto& l : doc) {
    std::string name = l.is_object() ? l.value("ifname", "") : "";
    if (!name.empty() && name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

// From netlink (`ip -s -j`) rather than /sys/class/net: sysfs shows the network namespace it
// was mounted in, which is not the caller's after setns(), while netlink always answers for the
// caller's namespace. The counters are the same ones.
Result<LinkStats> IprouteNetHost::linkStats(const std::string& name) {
  if (!validIfname(name)) return invalidName("link", name);
  // The collector asks for every NIC every few seconds: sysfs is a few reads, `ip` a process.
  // sysfs shows the links of the namespace it was mounted for (`ip netns exec` mounts one for
  // the namespace it enters); without the link there, ask `ip`.
  std::string dir = "/sys/class/net/" + name + "/statistics/";
  if (auto fromSys = sysfsLinkStats(dir)) return *fromSys;
  std::vector<std::string> argv{"ip", "-j", "-s", "link", "show", "dev", name};
  std::string what = fmt::format("cannot read statistics of link {}", name);
  auto out = runCommand(argv, std::chrono::seconds(30));
  if (!out) return makeError(out.error().code, fmt::format("{}: {}", what, out.error().message));
  if (out->exitCode != 0) {
    if (isNoSuchDevice(*out))
      return makeError(Errc::not_found, fmt::format("link {} does not exist", name));
    return commandError(Errc::internal, what, argv, *out);
  }
  auto doc = parseJson(out->out, what);
  if (!doc) return doc.error();
  if (!doc->is_array() || doc->empty() || !(*doc)[0].contains("stats64"))
    return makeError(Errc::internal, fmt::format("{}: no statistics in the output", what));
  const json& s = (*doc)[0]["stats64"];
  json rx = s.value("rx", json::object()), tx = s.value("tx", json::object());
  LinkStats stats;
  stats.rxBytes = counter(rx, "bytes");
  stats.rxPackets = counter(rx, "packets");
  stats.rxDropped = counter(rx, "dropped");
  stats.txBytes = counter(tx, "bytes");
  stats.txPackets = counter(tx, "packets");
  stats.txDropped = counter(tx, "dropped");
  return stats;
}

}  // namespace

std::unique_ptr<NetHost> makeIprouteNetHost() {
  return std::make_unique<IprouteNetHost>();
}

}  // namespace paddock::host
