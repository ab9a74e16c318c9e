// Guest customization specs (vCenter's "customization specifications"): named, reusable
// settings that Paddock turns into a cloud-init NoCloud seed for each VM that names one.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock {

inline constexpr const char* kCustomizationKind = "customization";

struct GuestUser {
  std::string name;
  std::vector<std::string> sshAuthorizedKeys;
  bool sudo = false;  // passwordless sudo
  std::string shell;  // empty: the image's default
  bool operator==(const GuestUser&) const = default;
};

enum class NicConfigMode { dhcp, static_ip, none };

struct CustomizationSpec {
  // May contain {name}, replaced with the VM's name; empty: the VM's name.
  std::string hostname;
  std::string domain;  // fqdn = hostname.domain when set
  std::vector<GuestUser> users;
  // Per NIC, in the VM's NIC order; NICs beyond the list use DHCP. static_ip takes the NIC's
  // reserved IP and its network's prefix and gateway.
  std::vector<NicConfigMode> nics;
  // For static NICs; empty: the network's gateway (it runs Paddock's DNS).
  std::vector<std::string> nameservers;
  std::vector<std::string> runcmd;  // shell commands, run once at first boot
  bool operator==(const CustomizationSpec&) const = default;
};

struct CustomizationRecord {
  std::string name;
  std::string description;
  std::string yaml;  // as the user wrote it
  CustomizationSpec spec;
  int64_t createdAtMs = 0;
};

const char* nicConfigModeName(NicConfigMode m);
// The hostname for VM `vmName`: {name} expanded; the VM's name when the spec sets none.
std::string customizedHostname(const CustomizationSpec& spec, const std::string& vmName);

nlohmann::json toJson(const CustomizationSpec& spec);
nlohmann::json toJson(const CustomizationRecord& r);
Result<CustomizationRecord> customizationFromJson(const nlohmann::json& j);

}  // namespace paddock
