#include "engine/qemu/nic_device.h"

#include <set>

#include <fmt/format.h>

#include "engine/qemu/qemu_argv.h"

namespace paddock {

namespace {

// Backend properties that QMP takes as lists of strings (NetdevUserOptions).
const std::set<std::string> kListProperties = {"hostfwd", "guestfwd", "dnssearch"};

}  // namespace

std::string QemuProperties::toOption() const {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i == 0) {
      out = qemuOptEscape(items[i].second);
      continue;
    }
    out += "," + items[i].first + "=" + qemuOptEscape(items[i].second);
  }
  return out;
}

nlohmann::json QemuProperties::toQmp() const {
  nlohmann::json args = nlohmann::json::object();
  for (const auto& [name, value] : items) {
    if (kListProperties.count(name)) {
      // QAPI's ['String']: a list of {"str": ...}, one per repetition on the command line.
      if (!args.contains(name)) args[name] = nlohmann::json::array();
      args[name].push_back({{"str", value}});
    } else {
      args[name] = value;
    }
  }
  return args;
}

std::string QemuProperties::get(const std::string& name) const {
  for (const auto& [n, v] : items)
    if (n == name) return v;
  return "";
}

std::string nicNetdevId(const std::string& nicId) {
  return "net-" + nicId;
}

std::string nicDeviceId(const std::string& nicId) {
  return "nic-" + nicId;
}

NicDevice nicDevice(const LaunchNic& nic, const std::string& bus) {
  NicDevice d;
  if (nic.tap.empty()) {
    d.netdev.items = {{"type", "user"}, {"id", nicNetdevId(nic.id)}};
    d.netdev.items.insert(d.netdev.items.end(), nic.user.begin(), nic.user.end());
  } else {
    d.netdev.items = {{"type", "tap"},
                      {"id", nicNetdevId(nic.id)},
                      {"ifname", nic.tap},
                      {"script", "no"},
                      {"downscript", "no"}};
  }
  d.device.items = {{"driver", "virtio-net-pci"},
                    {"netdev", nicNetdevId(nic.id)},
                    {"mac", nic.mac},
                    {"id", nicDeviceId(nic.id)},
                    // No option ROM: guests boot from -kernel, and iPXE would only chatter on the
                    // console.
                    {"romfile", ""}};
  if (!bus.empty()) d.device.items.emplace_back("bus", bus);
  return d;
}

std::string nicPortId(int index) {
  return fmt::format("{}{}", kNicPortPrefix, index);
}

QemuProperties nicPortDevice(int index) {
  return QemuProperties{{{"driver", "pcie-root-port"},
                         {"id", nicPortId(index)},
                         {"chassis", std::to_string(index + 1)},
                         {"io-reserve", "0"}}};
}

}  // namespace paddock
