// The one builder of NIC devices: the same properties go on the command line (boot NICs) and into
// QMP netdev_add/device_add (hot-plug), so a hot-plugged NIC is exactly what a boot NIC would be.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/launch_spec.h"

namespace paddock {

// One QEMU object's properties in command-line order. The first is the backend type (-netdev:
// "type") or the driver (-device: "driver"); every value is a string.
struct QemuProperties {
  std::vector<std::pair<std::string, std::string>> items;

  // "tap,id=net-1,ifname=..." for -netdev/-device: the first value bare, commas doubled.
  std::string toOption() const;
  // {"type": "tap", "id": "net-1", ...} for netdev_add/device_add; the list-valued properties
  // of the user backend (hostfwd, guestfwd, dnssearch) become [{"str": ...}, ...].
  nlohmann::json toQmp() const;
  // The value of `name`, or "" if absent.
  std::string get(const std::string& name) const;
};

struct NicDevice {
  QemuProperties netdev;  // tap backend (user backend when the NIC has no TAP), id net-<id>
  QemuProperties device;  // virtio-net-pci frontend, id nic-<id>
};

std::string nicNetdevId(const std::string& nicId);  // "net-<id>"
std::string nicDeviceId(const std::string& nicId);  // "nic-<id>"

// `bus`: the PCIe root port the NIC goes on; empty leaves the choice to QEMU (pcie.0).
NicDevice nicDevice(const LaunchNic& nic, const std::string& bus);

// Every VM gets this many PCIe root ports, one per NIC it may ever have (the model allows 8), so
// any valid NIC list can be reached on a running VM. q35's pcie.0 does not support hot-plug.
inline constexpr int kNicPorts = 8;
inline constexpr const char* kNicPortPrefix = "hp";
std::string nicPortId(int index);  // "hp<index>"
// pcie-root-port with its own chassis (QEMU wants unique chassis/slot pairs) and no I/O window
// (virtio-net behind a PCIe port is modern-only and has no I/O BAR; 8 windows of 4 KiB would eat
// a large part of the 64 KiB I/O space).
QemuProperties nicPortDevice(int index);

}  // namespace paddock
