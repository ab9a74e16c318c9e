// Small, stable, non-cryptographic hashes for deriving names and addresses.
#pragma once

#include <cstdint>
#include <string>

namespace paddock {

// 32-bit FNV-1a: stable across builds and hosts, so names derived from it are too.
inline uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

}  // namespace paddock
