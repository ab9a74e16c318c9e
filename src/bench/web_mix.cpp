#include "bench/web_mix.h"

#include <fmt/format.h>

namespace paddock::bench {

namespace {

constexpr int kTotalWeight = 10'000;
constexpr int kFilesPerClass = 9;
constexpr int kBanners = 3;

int staticClass(WebKind k) {
  return k == WebKind::staticSmall    ? 0
         : k == WebKind::staticMedium ? 1
         : k == WebKind::staticLarge  ? 2
         : k == WebKind::staticHuge   ? 3
                                      : -1;
}

std::string staticPath(int cls, int file) {
  return fmt::format("/static/class{}_{}", cls, file);
}

}  // namespace

const std::array<WebMixEntry, kWebKinds>& webMixTable() {
  // 70 % × (35, 50, 14, 1) % and 30 % × (16, 41.5, 42, 0.5) %, in 1/10,000.
  static const std::array<WebMixEntry, kWebKinds> table = {{
      {WebKind::staticSmall, "static < 1 KB", 2450},
      {WebKind::staticMedium, "static 1-10 KB", 3500},
      {WebKind::staticLarge, "static 10-100 KB", 980},
      {WebKind::staticHuge, "static 100 KB-1 MB", 70},
      {WebKind::post, "POST registration", 480},
      {WebKind::adRotation, "GET ad rotation", 1245},
      {WebKind::cookieGet, "GET with cookie", 1260},
      {WebKind::cgiGet, "CGI GET", 15},
  }};
  return table;
}

std::vector<StaticFile> staticFiles() {
  std::vector<StaticFile> out;
  std::size_t scale = 1024;
  for (int cls = 0; cls < 4; ++cls, scale *= 10)
    for (int i = 0; i < kFilesPerClass; ++i)
      out.push_back({staticPath(cls, i), static_cast<std::size_t>(i + 1) * scale / 10});
  return out;
}

WebRequestMix::WebRequestMix(std::uint64_t offset) {
  for (std::uint64_t i = 0; i < offset % kTotalWeight; ++i) (void)next();
}

WebKind WebRequestMix::pick() {
  const auto& table = webMixTable();
  std::size_t best = 0;
  for (std::size_t i = 0; i < kWebKinds; ++i) {
    current_[i] += table[i].weight;
    if (current_[i] > current_[best]) best = i;
  }
  current_[best] -= kTotalWeight;
  return table[best].kind;
}

WebRequest WebRequestMix::next() {
  WebKind kind = pick();
  std::uint64_t n = taken_[static_cast<std::size_t>(kind)]++;
  if (int cls = staticClass(kind); cls >= 0)
    return {kind, "GET", staticPath(cls, static_cast<int>(n % kFilesPerClass))};
  switch (kind) {
    case WebKind::post:
      return {kind, "POST", "/register"};
    case WebKind::adRotation:
      return {kind, "GET", fmt::format("/ad?banner={}", n % kBanners)};
    case WebKind::cookieGet:
      return {kind, "GET", "/cookie"};
    default:
      return {kind, "GET", "/cgi-bin/page"};
  }
}

}  // namespace paddock::bench
