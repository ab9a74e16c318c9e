// The web-hosting workload (the paper's Figures 3 and 7): web servers (nginx and the dynamic
// handler of guest/debian/workloads/web-serve.sh) driven by our load generator with the Table 2
// mix, reported per number of servers as requests/s and the share answered within 300 ms.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "bench/web_load.h"
#include "common/result.h"

namespace paddock::bench {

struct WebPlan {
  std::vector<int> guests;  // the sizes measured, ascending
  int connectionsPerServer = 4;
  std::chrono::milliseconds warmup{2000};
  std::chrono::milliseconds duration{10000};
};

// quick: 1 and 2 guests, 2 s warm-up + 10 s; full: 1, 2, 4, 8, 16 guests, 10 s + 60 s.
// `guests`, when not empty, replaces the profile's sizes.
WebPlan webPlan(const std::string& profile, const std::vector<int>& guests = {});

// The memory of each web guest (the paper's guests had 98 MB; the debian image wants more).
inline constexpr int kWebGuestMemoryMib = 512;
// Where web-serve.sh keeps its files in a guest, and the port nginx listens on there.
inline constexpr const char* kWebGuestDir = "/var/tmp/paddock-web";
inline constexpr int kWebGuestPort = 80;

// Drives all of `servers` as the plan says: the lines web_{N}g_req_per_s and
// web_{N}g_within_300ms for N = servers.size(), or an error naming the first failure when more
// than 1 % of the requests failed (a server that is down is not a measurement).
Result<std::string> measureWeb(const std::vector<WebServer>& servers, const WebPlan& plan);

}  // namespace paddock::bench
