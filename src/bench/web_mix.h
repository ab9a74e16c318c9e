// The web-hosting workload's request mix: Table 2 of "Xen and the Art of Repeated Research"
// (after SPECweb99). 70 % static files in four size classes of 9 files each (35 % < 1 KB, 50 %
// 1–10 KB, 14 % 10–100 KB, 1 % 100 KB–1 MB), 30 % dynamic requests (16 % POSTs of a registration
// form, 41.5 % ad-banner rotation GETs over 3 banners, 42 % GETs with a cookie, 0.5 % CGI GETs).
//
// The sequence is deterministic: smooth weighted round-robin over the eight kinds (nginx's
// upstream algorithm), so every 10,000 consecutive requests hold exactly the table's shares and
// after any number of requests each kind's count is less than one request off its share; within
// a kind the files and banners are taken in turn. A load generator gives each connection another
// start offset so that they do not ask for the same thing at the same time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace paddock::bench {

enum class WebKind {
  staticSmall,   // < 1 KB
  staticMedium,  // 1–10 KB
  staticLarge,   // 10–100 KB
  staticHuge,    // 100 KB–1 MB
  post,          // a user registration form
  adRotation,    // GET of one of 3 banners
  cookieGet,     // GET with a cookie; the answer sets one (< 1 KB)
  cgiGet,        // a small generated page
};
inline constexpr std::size_t kWebKinds = 8;

struct WebMixEntry {
  WebKind kind;
  const char* name;
  int weight;  // in 1/10,000 of all requests
};

// Table 2 flattened: the static shares are 70 % of the class shares, the dynamic ones 30 %.
const std::array<WebMixEntry, kWebKinds>& webMixTable();

struct WebRequest {
  WebKind kind;
  std::string method;  // GET or POST
  std::string path;    // e.g. /static/class1_4, /ad?banner=2, /register
};

// One of the 36 static files a server under test holds.
struct StaticFile {
  std::string path;  // /static/classC_I
  std::size_t bytes;
};
// Class c (0..3), file i (0..8): (i + 1) × 1024 × 10^c / 10 bytes, so each class's nine files
// are spread evenly over its range (102 B .. 922 KB).
std::vector<StaticFile> staticFiles();

class WebRequestMix {
 public:
  // `offset` requests of the sequence are skipped (a connection's own starting point).
  explicit WebRequestMix(std::uint64_t offset = 0);
  WebRequest next();

 private:
  WebKind pick();
  std::array<std::int64_t, kWebKinds> current_{};
  std::array<std::uint64_t, kWebKinds> taken_{};  // per kind, for turning through files
};

}  // namespace paddock::bench
