// The raw history's on-disk unit: the points of one series in one minute, packed into a blob of
// 12 bytes per point (the time in ms after the chunk's start, 4 bytes, then the value as an
// IEEE double, 8 bytes; both little-endian). One row per series per minute instead of one per
// sample is what keeps a 1 s collector's SQLite cost small; chunks only ever grow by appending.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace paddock {

inline constexpr std::int64_t kRawChunkMs = 60'000;
inline constexpr size_t kRawPointBytes = 12;

// The start of the chunk that holds a point at `tsMs`.
inline std::int64_t rawChunkStart(std::int64_t tsMs) {
  std::int64_t q = tsMs / kRawChunkMs;
  if (tsMs < 0 && q * kRawChunkMs != tsMs) --q;  // floor, also before 1970 (tests)
  return q * kRawChunkMs;
}

// Appends the point at `tsMs` (inside the chunk that starts at `startMs`) to `blob`.
inline void appendRawPoint(std::string& blob, std::int64_t startMs, std::int64_t tsMs,
                           double value) {
  auto offset = static_cast<std::uint32_t>(tsMs - startMs);
  auto bits = std::bit_cast<std::uint64_t>(value);
  for (int i = 0; i < 4; ++i) blob.push_back(static_cast<char>(offset >> (8 * i)));
  for (int i = 0; i < 8; ++i) blob.push_back(static_cast<char>(bits >> (8 * i)));
}

// The points of a chunk blob, in time order; a trailing partial point is ignored.
inline std::vector<std::pair<std::int64_t, double>> decodeRawChunk(std::int64_t startMs,
                                                                   const std::string& blob) {
  std::vector<std::pair<std::int64_t, double>> out;
  out.reserve(blob.size() / kRawPointBytes);
  auto byte = [&](size_t i) {
    return static_cast<std::uint64_t>(static_cast<unsigned char>(blob[i]));
  };
  for (size_t p = 0; p + kRawPointBytes <= blob.size(); p += kRawPointBytes) {
    std::uint64_t offset = 0, bits = 0;
    for (int i = 0; i < 4; ++i) offset |= byte(p + i) << (8 * i);
    for (int i = 0; i < 8; ++i) bits |= byte(p + 4 + i) << (8 * i);
    out.emplace_back(startMs + static_cast<std::int64_t>(offset), std::bit_cast<double>(bits));
  }
  // Appended in time order unless the clock stepped back; keep the view ordered regardless.
  if (!std::is_sorted(out.begin(), out.end(),
                      [](const auto& a, const auto& b) { return a.first < b.first; }))
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace paddock
