// Disk files through qemu-img.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace paddock {

Status createQcow2(const std::string& path, uint64_t sizeMib);
// Grows a qcow2 file; shrinking is refused (it would destroy guest data).
Status growQcow2(const std::string& path, uint64_t sizeMib);
Result<uint64_t> qcow2VirtualSizeMib(const std::string& path);

}  // namespace paddock
