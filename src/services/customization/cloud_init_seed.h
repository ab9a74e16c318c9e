// The cloud-init NoCloud seed for one VM: meta-data, user-data (#cloud-config) and
// network-config (version 2), rendered from a customization spec, and the ISO 9660 image with
// the volume label "cidata" that carries them.
//
// The YAML is written in one fixed layout (two-space indents, every string double-quoted) that
// real cloud-init reads like any YAML and the tiny image's init parses line by line; see
// guest/tiny/README.md for the subset it honours.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "model/customization_spec.h"

namespace paddock {

struct SeedNic {
  std::string mac;
  NicConfigMode mode = NicConfigMode::dhcp;
  std::string address;  // static: "A.B.C.D/PREFIX"
  std::string gateway;  // static: the network's gateway
};

struct SeedFiles {
  std::string metaData;
  std::string userData;
  std::string networkConfig;
};

SeedFiles renderSeed(const CustomizationSpec& spec, const std::string& vmName,
                     const std::vector<SeedNic>& nics);
// Writes the three files into `dir` and packs them into `isoPath` with genisoimage.
Status writeSeedIso(const SeedFiles& files, const std::string& dir, const std::string& isoPath);

}  // namespace paddock
