#include "bench/tools/web_workload.h"

#include <fmt/format.h>

namespace paddock::bench {

WebPlan webPlan(const std::string& profile, const std::vector<int>& guests) {
  WebPlan plan =
      profile == "full"
          ? WebPlan{{1, 2, 4, 8, 16}, 4, std::chrono::seconds(10), std::chrono::seconds(60)}
          : WebPlan{{1, 2}, 4, std::chrono::seconds(2), std::chrono::seconds(10)};
  if (!guests.empty()) plan.guests = guests;
  return plan;
}

Result<std::string> measureWeb(const std::vector<WebServer>& servers, const WebPlan& plan) {
  WebLoadOptions o;
  o.servers = servers;
  o.connectionsPerServer = plan.connectionsPerServer;
  o.warmup = plan.warmup;
  o.duration = plan.duration;
  auto r = runWebLoad(o);
  if (!r) return r.error();
  const auto& t = r->total;
  std::uint64_t all = t.requests + t.errors;
  if (all == 0)
    return makeError(Errc::unavailable,
                     fmt::format("{} web server(s): no request was answered", servers.size()));
  if (t.errors * 100 > all)
    return makeError(Errc::internal, fmt::format("{} web server(s): {} of {} requests failed, the "
                                                 "first: {}",
                                                 servers.size(), t.errors, all, t.firstError));
  std::size_t n = servers.size();
  return fmt::format(
      "RESULT web_{0}g_req_per_s {1:.2f} req/s higher\n"
      "RESULT web_{0}g_within_300ms {2:.2f} % higher\n",
      n, t.requestsPerSecond, t.withinDeadline * 100);
}

}  // namespace paddock::bench
