#include "services/network/network_service.h"

#include <dirent.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "host/tc_shaping.h"

namespace paddock {

using nlohmann::json;

namespace {

std::string netObject(const std::string& name) {
  return "network/" + name;
}

std::string gatewayCidr(const Ipv4Net& net) {
  return fmt::format("{}/{}", formatIpv4(net.first()), net.prefix);
}

// Paddock runs a dnsmasq (and a host address) only for the LANs it owns.
bool runsDnsmasq(const NetworkSpec& spec) {
  return spec.kind == NetworkKind::internal || spec.kind == NetworkKind::nat;
}

// The address guests reach the host at: the bridge's on internal and nat networks, QEMU's
// virtual host (.2) on user networks; bridge networks have the segment's own router.
std::string gatewayOf(const NetworkSpec& spec) {
  auto net = parseCidr(spec.subnet);
  if (!net || spec.kind == NetworkKind::bridge) return "";
  return formatIpv4(spec.kind == NetworkKind::user ? net->address + 2 : net->first());
}

const PortGroup* findPortGroup(const NetworkSpec& spec, const std::string& name) {
  for (const auto& pg : spec.portGroups)
    if (pg.name == name) return &pg;
  return nullptr;
}

}  // namespace

NetworkService::NetworkService(std::string stateDir, Store& store, host::NetHost& net,
                               EventBus& events)
    : stateDir_(std::move(stateDir)),
      store_(store),
      net_(net),
      events_(events),
      names_(stateDir_) {}

std::string NetworkService::dir(const std::string& network) const {
  return stateDir_ + "/networks/" + network;
}

Result<std::string> NetworkService::pickSubnet() {
  auto all = store_.listNetworks();
  if (!all) return all.error();
  for (int third = 100; third < 256; ++third) {
    Ipv4Net candidate{(10u << 24) | (static_cast<uint32_t>(third) << 8), 24};
    bool taken = false;
    for (const auto& n : *all) {
      auto net = parseCidr(n.subnet);
      taken = taken || (net && net->overlaps(candidate));
    }
    if (!taken) return formatCidr(candidate);
  }
  return makeError(Errc::unprocessable, "no free 10.x.y.0/24 subnet left: give one with --subnet",
                   "subnet");
}

Result<json> NetworkService::create(NetworkSpec spec) {
  std::lock_guard lock(mutex_);
  if (spec.subnet.empty() && runsDnsmasq(spec)) {
    auto s = pickSubnet();
    if (!s) return s.error();
    spec.subnet = *s;
  }
  PADDOCK_TRY(completeNetworkSpec(spec));
  PADDOCK_TRY(validateNetworkSpec(spec));
  auto all = store_.listNetworks();
  if (!all) return all.error();
  auto mine = parseCidr(spec.subnet);
  for (const auto& other : *all) {
    if (other.name == spec.name)
      return makeError(Errc::conflict, fmt::format("network '{}' already exists", spec.name),
                       "name");
    if (spec.kind == NetworkKind::bridge && other.kind == NetworkKind::bridge &&
        other.uplink == spec.uplink)
      return makeError(
          Errc::conflict,
          fmt::format("uplink {} is already used by network '{}'", spec.uplink, other.name),
          "uplink");
    // A user network's subnet exists only inside each QEMU, so it overlaps nothing.
    if (spec.kind == NetworkKind::user || other.kind == NetworkKind::user) continue;
    auto theirs = parseCidr(other.subnet);
    if (mine && theirs && mine->overlaps(*theirs))
      return makeError(Errc::conflict,
                       fmt::format("subnet {} overlaps {} of network '{}'", spec.subnet,
                                   other.subnet, other.name),
                       "subnet");
  }
  if (spec.kind == NetworkKind::bridge) PADDOCK_TRY(checkUplink(spec));
  PADDOCK_TRY(store_.createNetwork(spec));
  if (auto s = bringUp(spec); !s) {
    tearDown(spec);
    (void)store_.deleteNetwork(spec.name);
    Error e = s.error();
    if (e.message.find("Operation not permitted") != std::string::npos)
      e.message += fmt::format(" ({} networks need root or CAP_NET_ADMIN; user networks do not)",
                               networkKindName(spec.kind));
    return e;
  }
  events_.publish("network.created", netObject(spec.name), toJson(spec));
  return describe(spec);
}

Result<json> NetworkService::get(const std::string& name) {
  auto spec = store_.getNetwork(name);
  if (!spec) return spec.error();
  return describe(*spec);
}

Result<std::vector<json>> NetworkService::list() {
  auto all = store_.listNetworks();
  if (!all) return all.error();
  std::vector<json> out;
  for (const auto& n : *all) out.push_back(describe(n));
  return out;
}

json NetworkService::describe(const NetworkSpec& spec) {
  json j = toJson(spec);
  j["gateway"] = gatewayOf(spec);
  std::string sw = hasHostSwitch(spec) ? switchOf(spec) : "";
  j["bridge"] = sw;
  j["bridge_up"] = !sw.empty() && net_.linkExists(sw);
  auto pid = runsDnsmasq(spec) ? host::Dnsmasq::running(dir(spec.name)) : std::nullopt;
  j["dnsmasq_pid"] = pid ? *pid : 0;
  // Ready for guests: a user network always is; the others need their switch (and dnsmasq).
  j["up"] = spec.kind == NetworkKind::user ||
            (j["bridge_up"].get<bool>() && (!runsDnsmasq(spec) || pid.has_value()));
  json nics = json::array();
  if (auto vms = store_.listVms())
    for (const auto& vm : *vms)
      for (const auto& n : vm.spec.nics)
        if (n.network == spec.name)
          nics.push_back({{"vm", vm.spec.name}, {"mac", n.mac}, {"ip", n.ip}});
  j["nics"] = nics;
  json fwds = json::array();
  auto vms = store_.listVms();
  for (const auto& f : spec.forwards) {
    std::string ip = vms ? forwardTarget(spec, f, *vms) : "";
    fwds.push_back({{"forward", formatForward(f)},
                    {"target", ip.empty() ? "" : fmt::format("{}:{}", ip, f.guestPort)},
                    {"active", !ip.empty()},
                    {"reason", !ip.empty() ? ""
                               : spec.kind == NetworkKind::user
                                   ? "VM has no NIC on this network"
                                   : "VM has no NIC with a reserved ip on this network"}});
  }
  j["forward_status"] = fwds;
  return j;
}

Status NetworkService::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto spec = store_.getNetwork(name);
  if (!spec) return spec.error();
  auto vms = store_.listVms();
  if (!vms) return vms.error();
  std::vector<std::string> users;
  for (const auto& vm : *vms)
    for (const auto& n : vm.spec.nics)
      if (n.network == name) users.push_back(vm.spec.name);
  if (!users.empty())
    return makeError(Errc::conflict, fmt::format("network '{}' still has NICs of VMs: {}", name,
                                                 fmt::join(users, ", ")));
  tearDown(*spec);
  PADDOCK_TRY(store_.deleteNetwork(name));
  events_.publish("network.deleted", netObject(name), json::object());
  return {};
}

Result<std::vector<host::Lease>> NetworkService::leases(const std::string& name) {
  auto spec = store_.getNetwork(name);
  if (!spec) return spec.error();
  if (spec->kind == NetworkKind::user)
    return makeError(Errc::unprocessable,
                     fmt::format("network '{}' is a user network: QEMU's built-in DHCP server "
                                 "keeps no lease table (each guest gets {})",
                                 name, spec->dhcpStart));
  if (spec->kind == NetworkKind::bridge)
    return makeError(Errc::unprocessable,
                     fmt::format("network '{}' is a bridge network: its leases are kept by the "
                                 "DHCP server on {}'s segment, not by Paddock",
                                 name, spec->uplink));
  auto l = host::Dnsmasq::leases(dir(name));
  if (!l) return std::vector<host::Lease>{};
  return l;
}

host::DnsmasqConfig NetworkService::dnsmasqConfig(const NetworkSpec& spec,
                                                  const std::vector<VmRecord>& vms) {
  auto net = parseCidr(spec.subnet);
  host::DnsmasqConfig c;
  c.network = spec.name;
  c.bridge = names_.bridge(spec.name);
  c.gatewayIp = formatIpv4(net->first());
  c.rangeStart = spec.dhcpStart;
  c.rangeEnd = spec.dhcpEnd;
  c.netmask = formatIpv4(net->mask());
  c.domain = spec.domain;
  c.router = spec.kind == NetworkKind::nat;
  c.forwardDns = spec.kind == NetworkKind::nat;
  c.dir = dir(spec.name);
  for (const auto& vm : vms)
    for (const auto& n : vm.spec.nics)
      if (n.network == spec.name && !n.mac.empty()) c.hosts.push_back({n.mac, n.ip, vm.spec.name});
  return c;
}

// A forward leads to the address reserved for the VM's NIC on this network; without a
// reservation the guest's address could change under it, so such a forward stays inactive.
std::string NetworkService::forwardTarget(const NetworkSpec& spec, const Forward& f,
                                          const std::vector<VmRecord>& vms) {
  for (const auto& vm : vms)
    if (vm.spec.name == f.vm)
      for (const auto& n : vm.spec.nics) {
        // On a user network every NIC has its own QEMU DHCP server: the guest gets dhcp_start.
        if (n.network == spec.name && spec.kind == NetworkKind::user) return spec.dhcpStart;
        if (n.network == spec.name && !n.ip.empty()) return n.ip;
      }
  return "";
}

std::vector<host::PortForward> NetworkService::activeForwards(const NetworkSpec& spec,
                                                              const std::vector<VmRecord>& vms) {
  std::vector<host::PortForward> out;
  for (const auto& f : spec.forwards) {
    std::string ip = forwardTarget(spec, f, vms);
    if (!ip.empty()) out.push_back({f.protocol, f.hostPort, ip, f.guestPort});
  }
  return out;
}

// The bridge a network's TAPs join: Paddock's own, or on a bridge network whose uplink is
// itself a bridge, that bridge.
std::string NetworkService::switchOf(const NetworkSpec& spec) {
  if (spec.kind == NetworkKind::bridge) {
    auto info = net_.linkInfo(spec.uplink);
    if (info && *info && (*info)->kind == "bridge") return spec.uplink;
  }
  return names_.bridge(spec.name);
}

Status NetworkService::checkUplink(const NetworkSpec& spec) {
  auto info = net_.linkInfo(spec.uplink);
  if (!info) return info.error();
  if (!*info)
    return makeError(Errc::invalid_argument,
                     fmt::format("uplink interface '{}' does not exist on this host", spec.uplink),
                     "uplink");
  const auto& link = **info;
  if (spec.uplink.rfind(names_.prefix(), 0) == 0)
    return makeError(Errc::invalid_argument,
                     fmt::format("uplink '{}' is an interface Paddock made itself", spec.uplink),
                     "uplink");
  if (link.kind == "bridge") {
    if (!spec.portGroups.empty())
      return makeError(Errc::invalid_argument,
                       fmt::format("port groups need a switch Paddock manages, and uplink {} is "
                                   "an existing bridge",
                                   spec.uplink),
                       "port_groups");
    return {};
  }
  if (!spec.portGroups.empty())
    return makeError(Errc::invalid_argument,
                     "port groups on bridge networks are not supported yet (the uplink would "
                     "have to carry them as a VLAN trunk)",
                     "port_groups");
  std::string mine = names_.bridge(spec.name);
  if (!link.master.empty() && link.master != mine)
    return makeError(
        Errc::conflict,
        fmt::format("uplink {} is already a port of bridge {}", spec.uplink, link.master),
        "uplink");
  if (!link.ipv4.empty())
    return makeError(
        Errc::conflict,
        fmt::format("uplink {} has addresses ({}); as a bridge port it would lose them and the "
                    "host its connection: give a bridge that holds the address instead (e.g. "
                    "br0 with {} as its port)",
                    spec.uplink, fmt::join(link.ipv4, ", "), spec.uplink),
        "uplink");
  return {};
}

Status NetworkService::bringUp(const NetworkSpec& spec) {
  if (spec.kind == NetworkKind::user) return {};  // all of it lives inside each QEMU
  if (spec.kind == NetworkKind::bridge) {
    PADDOCK_TRY(checkUplink(spec));
    std::string sw = switchOf(spec);
    if (sw == spec.uplink) return {};
    PADDOCK_TRY(net_.ensureBridge({sw, "", false}));
    auto info = net_.linkInfo(spec.uplink);
    if (!info) return info.error();
    if (!*info || (*info)->master != sw) PADDOCK_TRY(net_.setMaster(spec.uplink, sw));
    return {};
  }
  auto net = parseCidr(spec.subnet);
  if (!net) return net.error();
  host::BridgeConfig bridge{names_.bridge(spec.name), gatewayCidr(*net), !spec.portGroups.empty()};
  PADDOCK_TRY(net_.ensureBridge(bridge));
  auto vms = store_.listVms();
  if (!vms) return vms.error();
  if (spec.kind == NetworkKind::nat)
    PADDOCK_TRY(net_.ensureNat(
        {names_.natTable(spec.name), bridge.name, spec.subnet, activeForwards(spec, *vms)}));
  PADDOCK_TRY(makeDirs(dir(spec.name), 0700));
  auto pid = host::Dnsmasq::start(dnsmasqConfig(spec, *vms));
  if (!pid) return pid.error();
  return {};
}

void NetworkService::tearDown(const NetworkSpec& spec) {
  (void)host::Dnsmasq::stop(dir(spec.name));
  (void)net_.removeNat(names_.natTable(spec.name));
  (void)net_.removeLink(names_.bridge(spec.name));
  (void)removeAll(dir(spec.name));
}

void NetworkService::reconcile(const std::vector<VmRecord>& vms) {
  std::lock_guard lock(mutex_);
  auto all = store_.listNetworks();
  if (!all) return;
  std::set<std::string> keep;
  std::set<std::string> keepTables;
  for (const auto& n : *all) {
    if (hasHostSwitch(n)) keep.insert(names_.bridge(n.name));
    if (n.kind == NetworkKind::nat) keepTables.insert(names_.natTable(n.name));
    if (auto s = bringUp(n); !s)
      spdlog::error("network {}: cannot bring it up: {}", n.name, s.error().message);
  }
  for (const auto& vm : vms)
    if (hasProcess(vm.runtime.state))
      for (const auto& nic : vm.spec.nics) keep.insert(names_.tap(nic.mac));
  for (const auto& link : net_.listLinks(names_.prefix())) {
    if (keep.count(link)) continue;
    spdlog::info("removing leftover interface {}", link);
    (void)net_.removeLink(link);
  }
  for (const auto& table : net_.listNatTables(names_.natTablePrefix())) {
    if (keepTables.count(table)) continue;
    spdlog::info("removing leftover nftables table {}", table);
    (void)net_.removeNat(table);
  }
  std::set<std::string> known;
  for (const auto& n : *all) known.insert(n.name);
  if (DIR* d = opendir((stateDir_ + "/networks").c_str())) {
    std::vector<std::string> stale;
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && !known.count(n)) stale.push_back(n);
    }
    closedir(d);
    for (const auto& n : stale) {
      (void)host::Dnsmasq::stop(dir(n));
      (void)removeAll(dir(n));
    }
  }
}

void NetworkService::superviseOnce() {
  std::lock_guard lock(mutex_);
  auto all = store_.listNetworks();
  if (!all) return;
  for (const auto& n : *all) {
    if (!runsDnsmasq(n) || host::Dnsmasq::running(dir(n.name))) continue;
    auto vms = store_.listVms();
    if (!vms) return;
    auto pid = host::Dnsmasq::start(dnsmasqConfig(n, *vms));
    spdlog::warn("network {}: dnsmasq was not running; restarted: {}", n.name,
                 pid ? "pid " + std::to_string(*pid) : pid.error().message);
    events_.publish("network.dnsmasq_restarted", netObject(n.name),
                    {{"pid", pid ? *pid : 0}, {"error", pid ? "" : pid.error().message}});
  }
}

void NetworkService::startSupervisor() {
  supervisor_ = std::thread([this] {
    std::unique_lock lock(supervisorMutex_);
    while (
        !supervisorCv_.wait_for(lock, std::chrono::seconds(2), [&] { return supervisorStop_; })) {
      lock.unlock();
      superviseOnce();
      lock.lock();
    }
  });
}

void NetworkService::stopSupervisor() {
  {
    std::lock_guard lock(supervisorMutex_);
    supervisorStop_ = true;
  }
  supervisorCv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
}

namespace {

// `ip: auto`: the lowest address of the subnet that is not the gateway, not reserved by a NIC and
// outside the dynamic DHCP range (so no lease can hold it).
Result<std::string> freeStaticAddress(const NetworkSpec& network,
                                      const std::map<std::string, std::string>& ipOwner) {
  auto net = parseCidr(network.subnet);
  auto start = parseIpv4(network.dhcpStart);
  auto end = parseIpv4(network.dhcpEnd);
  if (!net || !start || !end)
    return makeError(Errc::internal,
                     fmt::format("network '{}' has no usable subnet or range", network.name));
  for (uint32_t ip = net->first() + 1; ip <= net->last(); ++ip) {
    if (ip >= *start && ip <= *end) continue;
    std::string text = formatIpv4(ip);
    if (!ipOwner.count(network.name + "/" + text)) return text;
  }
  return makeError(Errc::conflict,
                   fmt::format("network '{}' has no free address outside its DHCP range {}-{} for "
                               "ip=auto (create it with a smaller --dhcp-range)",
                               network.name, network.dhcpStart, network.dhcpEnd));
}

}  // namespace

Status NetworkService::prepare(VmSpec& spec, const std::vector<VmRecord>& others) {
  std::map<std::string, std::string> macOwner;
  std::map<std::string, std::string> ipOwner;  // "network/ip" → VM
  for (const auto& vm : others)
    for (const auto& n : vm.spec.nics) {
      macOwner[n.mac] = vm.spec.name;
      if (!n.ip.empty()) ipOwner[n.network + "/" + n.ip] = vm.spec.name;
    }
  static std::mt19937 rng{std::random_device{}()};
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    auto& nic = spec.nics[i];
    std::string field = fmt::format("nics[{}]", i);
    auto network = store_.getNetwork(nic.network);
    if (!network)
      return makeError(Errc::invalid_argument,
                       fmt::format("network '{}' does not exist", nic.network), field + ".network");
    if (!nic.portGroup.empty() && !findPortGroup(*network, nic.portGroup))
      return makeError(
          Errc::invalid_argument,
          fmt::format("network '{}' has no port group '{}'", nic.network, nic.portGroup),
          field + ".port_group");
    if (!nic.ip.empty() && !runsDnsmasq(*network))
      return makeError(
          Errc::invalid_argument,
          network->kind == NetworkKind::user
              ? fmt::format("network '{}' is a user network: QEMU gives each guest {}, so a NIC "
                            "cannot reserve an address",
                            nic.network, network->dhcpStart)
              : fmt::format("network '{}' is a bridge network: addresses come from {}'s "
                            "segment, so Paddock cannot reserve one (configure it in the guest)",
                            nic.network, network->uplink),
          field + ".ip");
    if (nic.ip == "auto") {
      auto picked = freeStaticAddress(*network, ipOwner);
      if (!picked) return Error{picked.error().code, picked.error().message, field + ".ip"};
      nic.ip = *picked;
    }
    if (!nic.ip.empty()) {
      auto ip = parseIpv4(nic.ip);
      if (!ip) return makeError(Errc::invalid_argument, ip.error().message, field + ".ip");
      auto net = parseCidr(network->subnet);
      if (!net->contains(*ip) || *ip < net->first() || *ip > net->last())
        return makeError(
            Errc::invalid_argument,
            fmt::format("IP {} is outside network '{}' ({})", nic.ip, nic.network, network->subnet),
            field + ".ip");
      if (*ip == net->first())
        return makeError(Errc::invalid_argument,
                         fmt::format("IP {} is the network's gateway", nic.ip), field + ".ip");
      if (auto it = ipOwner.find(nic.network + "/" + nic.ip); it != ipOwner.end())
        return makeError(Errc::conflict,
                         fmt::format("IP {} on network '{}' is already reserved by VM '{}'", nic.ip,
                                     nic.network, it->second),
                         field + ".ip");
      ipOwner[nic.network + "/" + nic.ip] = spec.name;
    }
    if (nic.mac.empty()) {
      do {
        nic.mac =
            fmt::format("02:50:44:{:02x}:{:02x}:{:02x}", rng() & 255, rng() & 255, rng() & 255);
      } while (macOwner.count(nic.mac));
    } else if (auto it = macOwner.find(nic.mac); it != macOwner.end()) {
      return makeError(Errc::conflict,
                       fmt::format("MAC {} is already used by VM '{}'", nic.mac, it->second),
                       field + ".mac");
    }
    macOwner[nic.mac] = spec.name;
  }
  return {};
}

Result<LaunchNic> NetworkService::attachLocked(const std::string& vm, const NicSpec& nic) {
  auto network = store_.getNetwork(nic.network);
  if (!network) return network.error();
  // Device ids follow the MAC too, so hot-plugging never reuses the id of a removed NIC.
  std::string id = nic.mac;
  std::erase(id, ':');
  if (network->kind == NetworkKind::user)
    return LaunchNic{id, "", nic.mac, userBackend(*network, vm, nic.mac)};
  std::string bridge = switchOf(*network);
  if (!net_.linkExists(bridge)) PADDOCK_TRY(bringUp(*network));
  host::TapConfig tap{names_.tap(nic.mac), bridge, std::nullopt};
  if (const PortGroup* pg = findPortGroup(*network, nic.portGroup)) tap.vlan = pg->vlan;
  PADDOCK_TRY(net_.ensureTap(tap));
  // A reservation must be in dnsmasq before the guest's first DISCOVER: a hot-plugged NIC asks
  // at once, and the store learns of the NIC only after the plug.
  if (!nic.ip.empty() && runsDnsmasq(*network)) {
    auto vms = store_.listVms();
    if (!vms) return vms.error();
    auto config = dnsmasqConfig(*network, *vms);
    bool known = std::any_of(config.hosts.begin(), config.hosts.end(),
                             [&](const host::DhcpHost& h) { return h.mac == nic.mac; });
    if (!known) config.hosts.push_back({nic.mac, nic.ip, vm});
    PADDOCK_TRY(host::Dnsmasq::updateHosts(config));
  }
  return LaunchNic{id, tap.name, nic.mac, {}};
}

Status NetworkService::shapeable(const VmSpec& spec, const std::string& mac) {
  auto nic = std::find_if(spec.nics.begin(), spec.nics.end(),
                          [&](const NicSpec& n) { return n.mac == mac; });
  std::string field = "resources.nic_limits." + mac;
  if (nic == spec.nics.end())
    return makeError(Errc::invalid_argument,
                     fmt::format("VM '{}' has no NIC with MAC {}", spec.name, mac), field);
  auto network = store_.getNetwork(nic->network);
  if (!network) return network.error();
  if (network->kind == NetworkKind::user)
    return makeError(Errc::invalid_argument,
                     fmt::format("NIC {} is on user network '{}': QEMU's user-mode networking has "
                                 "no host device to limit",
                                 mac, nic->network),
                     field);
  return {};
}

Status NetworkService::shape(const VmSpec& spec, const std::string& mac, const NicLimits& limits) {
  PADDOCK_TRY(shapeable(spec, mac));
  if (auto s = host::setTapRate(names_.tap(mac), {limits.rxBps, limits.txBps}); !s) {
    Error e = s.error();
    e.field = "resources.nic_limits." + mac + (e.field.empty() ? "" : "." + e.field);
    return e;
  }
  return {};
}

// QEMU's user-mode network for one NIC of `vm`: the network's addresses and domain, and the
// network's port forwards that lead to this VM.
std::vector<std::pair<std::string, std::string>> NetworkService::userBackend(
    const NetworkSpec& spec, const std::string& vm, const std::string& mac) {
  std::vector<std::pair<std::string, std::string>> out{{"net", spec.subnet},
                                                       {"dhcpstart", spec.dhcpStart}};
  if (!spec.domain.empty()) out.emplace_back("domainname", spec.domain);
  // A host port can be forwarded once: to the VM's first NIC on the network, or to a NIC
  // hot-plugged into a VM that had none there.
  if (auto rec = store_.getVm(vm))
    for (const auto& other : rec->spec.nics)
      if (other.network == spec.name) {
        if (other.mac != mac) return out;
        break;
      }
  for (const auto& f : spec.forwards)
    if (f.vm == vm)
      out.emplace_back("hostfwd", fmt::format("{}::{}-:{}", f.protocol, f.hostPort, f.guestPort));
  return out;
}

Result<std::vector<LaunchNic>> NetworkService::attach(const VmSpec& spec) {
  std::lock_guard lock(mutex_);
  std::vector<LaunchNic> out;
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    auto nic = attachLocked(spec.name, spec.nics[i]);
    if (!nic) {
      for (const auto& made : out)
        if (!made.tap.empty()) (void)net_.removeLink(made.tap);
      return nic.error();
    }
    out.push_back(*nic);
  }
  return out;
}

Result<LaunchNic> NetworkService::attachNic(const std::string& vm, const NicSpec& nic) {
  std::lock_guard lock(mutex_);
  return attachLocked(vm, nic);
}

void NetworkService::detach(const VmSpec& spec) {
  for (const auto& nic : spec.nics) detachNic(nic);
}

void NetworkService::detachNic(const NicSpec& nic) {
  (void)net_.removeLink(names_.tap(nic.mac));
}

void NetworkService::nicsChanged() {
  std::lock_guard lock(mutex_);
  auto all = store_.listNetworks();
  auto vms = store_.listVms();
  if (!all || !vms) return;
  for (const auto& n : *all) {
    if (!runsDnsmasq(n)) continue;
    if (auto s = host::Dnsmasq::updateHosts(dnsmasqConfig(n, *vms)); !s)
      spdlog::warn("network {}: cannot update DHCP reservations: {}", n.name, s.error().message);
    if (n.kind == NetworkKind::nat && !n.forwards.empty())
      if (auto s = net_.ensureNat(
              {names_.natTable(n.name), names_.bridge(n.name), n.subnet, activeForwards(n, *vms)});
          !s)
        spdlog::warn("network {}: cannot update port forwards: {}", n.name, s.error().message);
  }
}

json NetworkService::nicStats(const VmSpec& spec) {
  json out = json::array();
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    auto network = store_.getNetwork(spec.nics[i].network);
    // A user-mode NIC has no TAP, and QEMU keeps no counters for it.
    bool user = network && network->kind == NetworkKind::user;
    std::string tap = user ? "" : names_.tap(spec.nics[i].mac);
    json s = {{"network", spec.nics[i].network}, {"mac", spec.nics[i].mac}, {"tap", tap}};
    if (user) {
      out.push_back(s);
      continue;
    }
    if (auto st = net_.linkStats(tap)) {
      // The TAP's receive is the guest's transmit and the other way round.
      s["rx_bytes"] = st->txBytes;
      s["rx_packets"] = st->txPackets;
      s["rx_dropped"] = st->txDropped;
      s["tx_bytes"] = st->rxBytes;
      s["tx_packets"] = st->rxPackets;
      s["tx_dropped"] = st->rxDropped;
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace paddock
