// What a VM is meant to be: the part an operator defines and edits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/resource_spec.h"

namespace paddock {

struct DiskSpec {
  std::string name;  // file name stem: disks/<vm>/<name>.qcow2
  uint64_t sizeMib = 0;

  bool operator==(const DiskSpec&) const = default;
};

struct NicSpec {
  std::string network;
  std::string mac;        // empty on create: Paddock allocates one
  std::string portGroup;  // a port group (VLAN) of the network; empty: untagged
  std::string ip;         // DHCP reservation on the network; empty: from the pool

  bool operator==(const NicSpec&) const = default;
};

// "02:50:44:0a:1b:2c": six lower-case hex pairs; unicast (the first octet even).
Status validateMac(const std::string& mac);

enum class Accel { automatic, kvm, tcg };
const char* accelName(Accel a);
std::optional<Accel> accelFromName(const std::string& s);

struct VmSpec {
  std::string name;
  int vcpus = 1;
  uint64_t memoryMib = 256;
  std::vector<DiskSpec> disks;
  std::vector<NicSpec> nics;
  std::string image;    // a built guest image ("tiny"); or kernel/initrd below
  std::string kernel;   // absolute path to a kernel, instead of an image
  std::string initrd;   // absolute path to an initramfs, with `kernel`
  std::string cmdline;  // extra kernel command line
  std::string description;
  Accel accel = Accel::automatic;
  std::map<std::string, std::string> labels;  // e.g. paddock.directory = the file that manages it
  ResourceSpec resources;                     // changeable while the VM runs
  // Set when the VM was deployed from a template, never changed later: the template's name and
  // whether its disks are overlays on the template's (a linked clone depends on the template).
  std::string templateName;
  bool linkedClone = false;
  // The guest customization spec whose cloud-init seed the VM gets at each start; empty: none.
  std::string customization;
  // Where the VM's disks live: empty for this host's own disk directory, else the name of a
  // shared storage (paddockd --shared-storage NAME=DIR) that other hosts see too. Set when the
  // VM is created, never changed later.
  std::string storage;

  bool operator==(const VmSpec&) const = default;
};

struct HostLimits {
  int cpus = 1;
  uint64_t memoryMib = 0;
};

// Checks one VM's own fields and, when `host` is given, that it fits the host at all.
// The Error's field names the offending JSON field (e.g. "memory_mib", "disks[1].size_mib").
Status validateVmSpec(const VmSpec& spec, const HostLimits* host);

nlohmann::json toJson(const VmSpec& spec);
// Strict: unknown fields, wrong types and missing "name" are errors naming the field.
Result<VmSpec> vmSpecFromJson(const nlohmann::json& j);
// Applies a partial update ("vcpus", "memory_mib", "disks", "description", ...) to `spec`.
Status applyVmPatch(VmSpec& spec, const nlohmann::json& patch);

}  // namespace paddock
