// NIC rate limits on real guests: what a guest receives is paced by a tbf qdisc on its TAP, what
// it sends is policed on the TAP's ingress (where the kernel can).
#include <chrono>

#include <gtest/gtest.h>

#include "common/files.h"
#include "http/http_client.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"
#include "services/network/host_names.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kGuestIp = "10.52.0.11";
constexpr const char* kGatewayIp = "10.52.0.1";

class NicLimits : public NetnsDaemonTest {
 protected:
  void SetUp() override {
    NetnsDaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto& d = *d_;
    ASSERT_EQ(d.cli({"network", "create", "lan", "--subnet", "10.52.0.0/24"}).code, 0);
    ASSERT_EQ(d.cli({"vm", "create", "shaped", "--memory", "128M", "--nic",
                     std::string("network=lan,ip=") + kGuestIp})
                  .code,
              0);
    d.startVm("shaped");
    mac_ = d.vm("shaped")["nics"][0]["mac"];
    ASSERT_TRUE(waitFor(
        [&] {
          return d.cli({"vm", "console", "shaped", "--log"})
                     .out.find(std::string("PADDOCK-NET eth0 ip=") + kGuestIp) != std::string::npos;
        },
        90s))
        << d.cli({"vm", "console", "shaped", "--log"}).out;
  }

  // PATCHes the NIC's limits; returns the HTTP status and body.
  std::pair<int, std::string> limit(const json& limits) {
    http::Client raw(http::Endpoint::unixSocket(d_->socket()));
    auto r = raw.request("PATCH", "/v1/vms/shaped",
                         json{{"resources", {{"nic_limits", {{mac_, limits}}}}}}.dump());
    if (!r.ok()) return {0, r.error().message};
    return {r->status, r->body};
  }

  std::string mac_;
};

TEST_F(NicLimits, AReceiveLimitPacesWhatTheGuestDownloads) {
  auto& d = *d_;
  std::string www = d.stateDir() + "/www";
  ASSERT_TRUE(makeDirs(www, 0755).ok());
  ASSERT_TRUE(writeFileAtomic(www + "/blob", std::string(1 << 20, 'x'), 0644).ok());
  ASSERT_EQ(
      d.inNetns({"busybox", "httpd", "-p", std::string(kGatewayIp) + ":8099", "-h", www}).exitCode,
      0);
  // The guest fetches 1 MiB and reports the seconds it took.
  auto fetchSeconds = [&] {
    return guestSeconds(d, "shaped",
                        std::string("wget -q -O /dev/null http://") + kGatewayIp + ":8099/blob");
  };
  double free = fetchSeconds();
  ASSERT_GT(free, 0) << "the guest could not fetch from the host";
  auto [status, body] = limit({{"rx_bps", 256 * 1024}});
  ASSERT_EQ(status, 200) << body;
  auto qdisc = d.inNetns({"tc", "qdisc", "show", "dev", HostNames(d.stateDir()).tap(mac_)});
  EXPECT_NE(qdisc.out.find("tbf"), std::string::npos) << qdisc.out << qdisc.err;
  // 1 MiB at no more than 256 KiB/s (+20 %) takes at least 3.3 s.
  double limited = fetchSeconds();
  EXPECT_GE(limited, 1.0 / (1.2 * 0.25)) << "unlimited " << free << " s";
  EXPECT_EQ(d.vm("shaped")["resources"]["nic_limits"][mac_]["rx_bps"], 256 * 1024);
  // Off again: as fast as before (give or take).
  ASSERT_EQ(d.cli({"vm", "set", "shaped", "--nic-limit", "0:off"}).code, 0);
  EXPECT_LT(fetchSeconds(), limited / 2);
  EXPECT_TRUE(d.vm("shaped")["resources"]["nic_limits"].empty());
}

TEST_F(NicLimits, ASendLimitPolicesWhatTheGuestUploadsOrIsRefusedClearly) {
  auto& d = *d_;
  std::string out;
  ASSERT_EQ(guestRun(d, "shaped",
                     "mkdir -p /www && dd if=/dev/zero of=/www/blob bs=64k count=16 2>/dev/null && "
                     "httpd -p 80 -h /www",
                     &out),
            0)
      << out;
  // The host fetches 1 MiB from the guest: that is what the guest sends.
  auto fetchSeconds = [&] {
    auto t0 = std::chrono::steady_clock::now();
    auto r = d.inNetns(
        {"busybox", "wget", "-q", "-O", "/dev/null", std::string("http://") + kGuestIp + "/blob"});
    if (r.exitCode != 0) return -1.0;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  double free = fetchSeconds();
  ASSERT_GT(free, 0) << "the host could not fetch from the guest";
  auto before = d.vm("shaped")["resources"];
  auto set = d.cli({"vm", "set", "shaped", "--nic-limit", mac_ + ":tx_bps=256k"});
  if (set.code != 0) {
    // Kernels without tc matchall/police cannot limit a TAP's ingress: refused, nothing changed.
    EXPECT_NE(set.err.find("no tc matchall/police"), std::string::npos) << set.err;
    EXPECT_EQ(d.vm("shaped")["resources"], before);
    auto ingress = d.inNetns({"tc", "qdisc", "show"});
    EXPECT_EQ(ingress.out.find("ingress"), std::string::npos) << ingress.out;
    GTEST_SKIP() << "SKIPPED: this kernel cannot police a TAP's ingress (tc matchall/police): "
                 << set.err;
  }
  double limited = fetchSeconds();
  EXPECT_GE(limited, 1.0 / (1.2 * 0.25)) << "unlimited " << free << " s";
}

TEST_F(NicLimits, LimitsOnUserNetworksAndUnknownNicsAreRefused) {
  auto& d = *d_;
  ASSERT_EQ(d.cli({"network", "create", "usr", "--kind", "user"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "roamer", "--memory", "128M", "--nic", "usr"}).code, 0);
  std::string mac = d.vm("roamer")["nics"][0]["mac"];
  auto user = d.cli({"vm", "set", "roamer", "--nic-limit", "0:rx_bps=1M"});
  EXPECT_NE(user.code, 0);
  EXPECT_NE(user.err.find("user-mode networking has no host device"), std::string::npos)
      << user.err;
  auto ghost = d.cli({"vm", "set", "shaped", "--nic-limit", "3:rx_bps=1M"});
  EXPECT_NE(ghost.code, 0);
  EXPECT_NE(ghost.err.find("--nic-limit '3:rx_bps=1M': VM 'shaped' has no NIC 3"),
            std::string::npos)
      << ghost.err;
  EXPECT_TRUE(d.vm("roamer")["resources"]["nic_limits"].empty());
  // A NIC that goes takes its limits along.
  ASSERT_EQ(limit({{"rx_bps", 1 << 20}}).first, 200);
  auto removed = d.api().call("PATCH", "/v1/vms/shaped", json{{"nics", json::array()}});
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_TRUE((*removed)["resources"]["nic_limits"].empty()) << removed->dump();
}

}  // namespace
}  // namespace paddock::test
