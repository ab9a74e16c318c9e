#include "model/vm_spec.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "common/names.h"

namespace paddock {

using nlohmann::json;

Status validateMac(const std::string& mac) {
  bool ok = mac.size() == 17;
  for (size_t i = 0; ok && i < mac.size(); ++i) {
    char c = mac[i];
    ok = i % 3 == 2 ? c == ':' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  if (!ok)
    return makeError(Errc::invalid_argument,
                     fmt::format("'{}' is not a MAC address (use six lower-case hex pairs, e.g. "
                                 "02:50:44:0a:1b:2c)",
                                 mac));
  int first = std::stoi(mac.substr(0, 2), nullptr, 16);
  if (first & 1)
    return makeError(Errc::invalid_argument, fmt::format("MAC {} is a multicast address", mac));
  return {};
}

const char* accelName(Accel a) {
  switch (a) {
    case Accel::automatic:
      return "auto";
    case Accel::kvm:
      return "kvm";
    case Accel::tcg:
      return "tcg";
  }
  return "auto";
}

std::optional<Accel> accelFromName(const std::string& s) {
  if (s == "auto") return Accel::automatic;
  if (s == "kvm") return Accel::kvm;
  if (s == "tcg") return Accel::tcg;
  return std::nullopt;
}

namespace {

constexpr int kMaxVcpus = 288;  // q35's limit without x2apic tricks; the host check is tighter

Error fieldError(const std::string& field, const std::string& message) {
  return makeError(Errc::invalid_argument, message, field);
}

Result<std::string> getString(const json& j, const std::string& field) {
  if (!j.is_string()) return fieldError(field, fmt::format("field '{}' must be a string", field));
  return j.get<std::string>();
}

Result<int64_t> getInt(const json& j, const std::string& field) {
  if (!j.is_number_integer())
    return fieldError(field, fmt::format("field '{}' must be an integer", field));
  return j.get<int64_t>();
}

Result<DiskSpec> diskFromJson(const json& j, const std::string& where) {
  if (!j.is_object()) return fieldError(where, fmt::format("field '{}' must be an object", where));
  DiskSpec d;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string field = where + "." + it.key();
    if (it.key() == "name") {
      auto s = getString(it.value(), field);
      if (!s) return s.error();
      d.name = *s;
    } else if (it.key() == "size_mib") {
      auto v = getInt(it.value(), field);
      if (!v) return v.error();
      if (*v <= 0) return fieldError(field, fmt::format("field '{}' must be positive", field));
      d.sizeMib = static_cast<uint64_t>(*v);
    } else {
      return fieldError(field, fmt::format("unknown field '{}'", field));
    }
  }
  return d;
}

Result<NicSpec> nicFromJson(const json& j, const std::string& where) {
  if (!j.is_object()) return fieldError(where, fmt::format("field '{}' must be an object", where));
  NicSpec n;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string field = where + "." + it.key();
    std::string* target = it.key() == "network"      ? &n.network
                          : it.key() == "mac"        ? &n.mac
                          : it.key() == "port_group" ? &n.portGroup
                          : it.key() == "ip"         ? &n.ip
                                                     : nullptr;
    if (!target) return fieldError(field, fmt::format("unknown field '{}'", field));
    auto s = getString(it.value(), field);
    if (!s) return s.error();
    *target = *s;
  }
  return n;
}

Status setField(VmSpec& spec, const std::string& key, const json& v, bool creating) {
  if (key == "name" && creating) {
    auto s = getString(v, key);
    if (!s) return s.error();
    spec.name = *s;
  } else if (key == "vcpus") {
    auto n = getInt(v, key);
    if (!n) return n.error();
    if (*n <= 0 || *n > kMaxVcpus)
      return fieldError(key, fmt::format("vcpus must be between 1 and {} (got {})", kMaxVcpus, *n));
    spec.vcpus = static_cast<int>(*n);
  } else if (key == "memory_mib") {
    auto n = getInt(v, key);
    if (!n) return n.error();
    if (*n <= 0) return fieldError(key, fmt::format("memory_mib must be positive (got {})", *n));
    spec.memoryMib = static_cast<uint64_t>(*n);
  } else if (key == "disks") {
    if (!v.is_array()) return fieldError(key, "field 'disks' must be an array");
    std::vector<DiskSpec> disks;
    for (size_t i = 0; i < v.size(); ++i) {
      auto d = diskFromJson(v[i], fmt::format("disks[{}]", i));
      if (!d) return d.error();
      disks.push_back(*d);
    }
    spec.disks = std::move(disks);
  } else if (key == "nics") {
    if (!v.is_array()) return fieldError(key, "field 'nics' must be an array");
    std::vector<NicSpec> nics;
    for (size_t i = 0; i < v.size(); ++i) {
      auto n = nicFromJson(v[i], fmt::format("nics[{}]", i));
      if (!n) return n.error();
      nics.push_back(*n);
    }
    spec.nics = std::move(nics);
  } else if (key == "image" || key == "kernel" || key == "initrd" || key == "cmdline" ||
             key == "description" || key == "customization") {
    auto s = getString(v, key);
    if (!s) return s.error();
    (key == "image"           ? spec.image
     : key == "kernel"        ? spec.kernel
     : key == "initrd"        ? spec.initrd
     : key == "cmdline"       ? spec.cmdline
     : key == "customization" ? spec.customization
                              : spec.description) = *s;
  } else if (key == "accel") {
    auto s = getString(v, key);
    if (!s) return s.error();
    auto a = accelFromName(*s);
    if (!a) return fieldError(key, fmt::format("accel must be auto, kvm or tcg (got '{}')", *s));
    spec.accel = *a;
  } else if (key == "resources") {
    auto r = resourceSpecFromJson(v);
    if (!r) return r.error();
    spec.resources = *r;
  } else if (key == "template" || key == "linked_clone" || key == "storage") {
    if (!creating && key == "storage")
      return fieldError(key, "'storage' is set when a VM is created and cannot be changed");
    if (!creating)
      return fieldError(key, fmt::format("'{}' is set when a VM is deployed from a template and "
                                         "cannot be changed",
                                         key));
    if (key == "template" || key == "storage") {
      auto s = getString(v, key);
      if (!s) return s.error();
      if (key == "template")
        spec.templateName = *s;
      else
        spec.storage = *s == "local" ? "" : *s;
    } else {
      if (!v.is_boolean()) return fieldError(key, "field 'linked_clone' must be a boolean");
      spec.linkedClone = v.get<bool>();
    }
  } else if (key == "labels") {
    if (!v.is_object()) return fieldError(key, "field 'labels' must be an object of strings");
    std::map<std::string, std::string> labels;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_string())
        return fieldError("labels." + it.key(),
                          fmt::format("label '{}' must be a string", it.key()));
      labels[it.key()] = it.value().get<std::string>();
    }
    spec.labels = std::move(labels);
  } else {
    return fieldError(key, fmt::format("unknown field '{}'", key));
  }
  return {};
}

}  // namespace

Status validateVmSpec(const VmSpec& spec, const HostLimits* host) {
  if (auto s = validateName(spec.name, "VM name"); !s) return fieldError("name", s.error().message);
  if (spec.vcpus <= 0 || spec.vcpus > kMaxVcpus)
    return fieldError("vcpus", fmt::format("vcpus must be between 1 and {}", kMaxVcpus));
  if (spec.memoryMib < 16)
    return fieldError("memory_mib",
                      fmt::format("memory must be at least 16M (got {}M)", spec.memoryMib));
  std::set<std::string> diskNames;
  for (size_t i = 0; i < spec.disks.size(); ++i) {
    const auto& d = spec.disks[i];
    std::string field = fmt::format("disks[{}]", i);
    if (auto s = validateName(d.name, "disk name"); !s)
      return fieldError(field + ".name", s.error().message);
    if (!diskNames.insert(d.name).second)
      return fieldError(field + ".name", fmt::format("disk name '{}' is used twice", d.name));
    if (d.sizeMib == 0) return fieldError(field + ".size_mib", "disk size must be positive");
  }
  std::set<std::string> macs;
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    const auto& n = spec.nics[i];
    std::string field = fmt::format("nics[{}]", i);
    if (auto s = validateName(n.network, "network name"); !s)
      return fieldError(field + ".network", s.error().message);
    if (!n.mac.empty()) {
      if (auto s = validateMac(n.mac); !s) return fieldError(field + ".mac", s.error().message);
      if (!macs.insert(n.mac).second)
        return fieldError(field + ".mac", fmt::format("MAC {} is used twice", n.mac));
    }
    if (!n.portGroup.empty())
      if (auto s = validateName(n.portGroup, "port group name"); !s)
        return fieldError(field + ".port_group", s.error().message);
  }
  if (spec.nics.size() > 8) return fieldError("nics", "a VM has at most 8 NICs");
  // A VM from a template boots what the template boots (filled in when it is deployed).
  if (spec.image.empty() && spec.kernel.empty() && spec.templateName.empty())
    return fieldError("image", "a VM needs an image (e.g. \"tiny\") or a kernel to boot");
  if (!spec.image.empty() && !spec.kernel.empty())
    return fieldError("kernel", "give either an image or a kernel, not both");
  if (!spec.image.empty())
    if (auto s = validateName(spec.image, "image name"); !s)
      return fieldError("image", s.error().message);
  if (!spec.kernel.empty() && spec.kernel.front() != '/')
    return fieldError("kernel", "kernel must be an absolute path");
  if (!spec.initrd.empty() && spec.initrd.front() != '/')
    return fieldError("initrd", "initrd must be an absolute path");
  if (!spec.templateName.empty())
    if (auto s = validateName(spec.templateName, "template name"); !s)
      return fieldError("template", s.error().message);
  if (!spec.customization.empty())
    if (auto s = validateName(spec.customization, "customization name"); !s)
      return fieldError("customization", s.error().message);
  if (!spec.storage.empty())
    if (auto s = validateName(spec.storage, "storage name"); !s)
      return fieldError("storage", s.error().message);
  if (spec.linkedClone && spec.templateName.empty())
    return fieldError("linked_clone", "only a VM deployed from a template is a linked clone");
  if (spec.description.size() > 1024)
    return fieldError("description", "description is longer than 1024 characters");
  if (host) {
    if (spec.vcpus > host->cpus)
      return makeError(Errc::unprocessable,
                       fmt::format("vcpus {} exceeds the host's {} CPUs", spec.vcpus, host->cpus),
                       "vcpus");
    if (spec.memoryMib > host->memoryMib)
      return makeError(
          Errc::unprocessable,
          fmt::format("memory {}M exceeds the host's {}M", spec.memoryMib, host->memoryMib),
          "memory_mib");
  }
  for (const auto& [disk, limits] : spec.resources.diskLimits)
    if (!diskNames.count(disk))
      return fieldError("resources.disk_limits." + disk,
                        fmt::format("VM '{}' has no disk '{}'", spec.name, disk));
  for (const auto& [mac, limits] : spec.resources.nicLimits)
    if (std::none_of(spec.nics.begin(), spec.nics.end(),
                     [&](const NicSpec& n) { return n.mac == mac; }))
      return fieldError("resources.nic_limits." + mac,
                        fmt::format("VM '{}' has no NIC with MAC {}", spec.name, mac));
  return validateResources(spec.resources, spec.vcpus, spec.memoryMib, host ? host->cpus : 0);
}

json toJson(const VmSpec& spec) {
  json disks = json::array();
  for (const auto& d : spec.disks) disks.push_back({{"name", d.name}, {"size_mib", d.sizeMib}});
  json nics = json::array();
  for (const auto& n : spec.nics)
    nics.push_back(
        {{"network", n.network}, {"mac", n.mac}, {"port_group", n.portGroup}, {"ip", n.ip}});
  return {{"name", spec.name},
          {"vcpus", spec.vcpus},
          {"memory_mib", spec.memoryMib},
          {"disks", disks},
          {"nics", nics},
          {"image", spec.image},
          {"kernel", spec.kernel},
          {"initrd", spec.initrd},
          {"cmdline", spec.cmdline},
          {"description", spec.description},
          {"accel", accelName(spec.accel)},
          {"labels", spec.labels},
          {"resources", toJson(spec.resources)},
          {"template", spec.templateName},
          {"linked_clone", spec.linkedClone},
          {"customization", spec.customization},
          {"storage", spec.storage.empty() ? "local" : spec.storage}};
}

Result<VmSpec> vmSpecFromJson(const json& j) {
  if (!j.is_object()) return fieldError("", "a VM definition must be a JSON object");
  if (!j.contains("name")) return fieldError("name", "field 'name' is required");
  VmSpec spec;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (auto s = setField(spec, it.key(), it.value(), true); !s) return s.error();
  return spec;
}

Status applyVmPatch(VmSpec& spec, const json& patch) {
  if (!patch.is_object()) return fieldError("", "an update must be a JSON object");
  VmSpec updated = spec;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.key() == "name") return fieldError("name", "a VM cannot be renamed");
    if (auto s = setField(updated, it.key(), it.value(), false); !s) return s;
  }
  spec = std::move(updated);
  return {};
}

}  // namespace paddock
