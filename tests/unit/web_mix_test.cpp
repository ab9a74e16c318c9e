#include "bench/web_mix.h"

#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

namespace paddock::bench {
namespace {

// The shares of Table 2 ("Xen and the Art of Repeated Research"), as fractions of all requests.
double tableShare(WebKind k) {
  switch (k) {
    case WebKind::staticSmall:
      return 0.70 * 0.35;
    case WebKind::staticMedium:
      return 0.70 * 0.50;
    case WebKind::staticLarge:
      return 0.70 * 0.14;
    case WebKind::staticHuge:
      return 0.70 * 0.01;
    case WebKind::post:
      return 0.30 * 0.16;
    case WebKind::adRotation:
      return 0.30 * 0.415;
    case WebKind::cookieGet:
      return 0.30 * 0.42;
    case WebKind::cgiGet:
      return 0.30 * 0.005;
  }
  return -1;
}

TEST(WebMix, TenThousandRequestsFollowTable2WithinOnePercent) {
  for (std::uint64_t offset : {0u, 1u, 4321u}) {
    WebRequestMix mix(offset);
    std::map<WebKind, int> counts;
    int staticCount = 0;
    for (int i = 0; i < 10'000; ++i) {
      WebRequest r = mix.next();
      ++counts[r.kind];
      if (r.path.rfind("/static/", 0) == 0) ++staticCount;
    }
    for (const auto& e : webMixTable()) {
      double share = counts[e.kind] / 10'000.0;
      EXPECT_NEAR(share, tableShare(e.kind), 0.01) << e.name << " offset " << offset;
      EXPECT_NEAR(share, tableShare(e.kind), 1e-4) << e.name << ": exact over 10,000";
    }
    EXPECT_NEAR(staticCount / 10'000.0, 0.70, 1e-4);
  }
}

TEST(WebMix, EveryPrefixStaysWithinOneRequestOfEachShare) {
  WebRequestMix mix;
  std::map<WebKind, int> counts;
  double worst = 0;
  for (int n = 1; n <= 20'000; ++n) {
    ++counts[mix.next().kind];
    for (const auto& e : webMixTable())
      worst = std::max(worst, std::abs(counts[e.kind] - n * tableShare(e.kind)));
  }
  EXPECT_LT(worst, 1.0);
}

TEST(WebMix, RequestsTurnThroughNineFilesPerClassAndThreeBanners) {
  WebRequestMix mix;
  std::set<std::string> paths;
  std::set<std::string> methods;
  for (int i = 0; i < 10'000; ++i) {
    WebRequest r = mix.next();
    paths.insert(r.path);
    EXPECT_EQ(r.method, r.kind == WebKind::post ? "POST" : "GET") << r.path;
    methods.insert(r.method);
  }
  for (const auto& f : staticFiles()) EXPECT_TRUE(paths.count(f.path)) << f.path;
  for (const char* p :
       {"/ad?banner=0", "/ad?banner=1", "/ad?banner=2", "/register", "/cookie", "/cgi-bin/page"})
    EXPECT_TRUE(paths.count(p)) << p;
  EXPECT_EQ(paths.size(), 36u + 3 + 3) << "36 files, 3 banners, 3 other dynamic pages";
  EXPECT_EQ(methods, (std::set<std::string>{"GET", "POST"}));
}

TEST(WebMix, StaticFilesSpreadEvenlyOverTheirSizeClasses) {
  auto files = staticFiles();
  ASSERT_EQ(files.size(), 36u);
  EXPECT_EQ(files[0].path, "/static/class0_0");
  EXPECT_EQ(files[0].bytes, 102u);
  EXPECT_EQ(files[8].bytes, 921u);            // still under 1 KB
  EXPECT_EQ(files[9].bytes, 1024u);           // class 1 from 1 KB
  EXPECT_EQ(files[17].bytes, 9216u);          // to 9 KB
  EXPECT_EQ(files[35].bytes, 9u * 102'400u);  // class 3 up to 900 KB
  for (int c = 0; c < 4; ++c) {
    double lo = 1024 * std::pow(10, c) / 10, hi = 1024 * std::pow(10, c);
    for (int i = 0; i < 9; ++i) {
      EXPECT_GE(files[static_cast<size_t>(c * 9 + i)].bytes, static_cast<std::size_t>(lo) - 1);
      EXPECT_LT(files[static_cast<size_t>(c * 9 + i)].bytes, static_cast<std::size_t>(hi));
    }
  }
}

}  // namespace
}  // namespace paddock::bench
