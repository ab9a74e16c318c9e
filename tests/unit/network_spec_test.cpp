#include "model/network_spec.h"

#include <gtest/gtest.h>

namespace paddock {
namespace {

using nlohmann::json;

NetworkSpec net(const std::string& name, NetworkKind kind, const std::string& subnet = "",
                const std::string& uplink = "") {
  NetworkSpec spec;
  spec.name = name;
  spec.kind = kind;
  spec.subnet = subnet;
  spec.uplink = uplink;
  return spec;
}

NetworkSpec completed(NetworkSpec spec) {
  auto s = completeNetworkSpec(spec);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return spec;
}

// The field the spec is refused for ("" when it is accepted).
std::string refusedField(NetworkSpec spec) {
  auto s = validateNetworkSpec(spec);
  return s.ok() ? "" : s.error().field;
}

TEST(NetworkSpec, InternalDefaultsLeaveTheGatewayOutOfTheRange) {
  auto spec = completed(net("lan", NetworkKind::internal, "10.7.0.0/24"));
  EXPECT_EQ(spec.dhcpStart, "10.7.0.10");
  EXPECT_EQ(spec.dhcpEnd, "10.7.0.253");
  EXPECT_EQ(spec.domain, "lan.paddock");
  EXPECT_EQ(refusedField(spec), "");
}

TEST(NetworkSpec, UserNetworksFollowQemusDefaultsAndItsSixteenAddresses) {
  auto spec = completed(net("u", NetworkKind::user));
  EXPECT_EQ(spec.subnet, "10.0.2.0/24");
  EXPECT_EQ(spec.dhcpStart, "10.0.2.15");
  EXPECT_EQ(spec.dhcpEnd, "10.0.2.30");
  EXPECT_EQ(refusedField(spec), "");
  auto wide = spec;
  wide.dhcpEnd = "10.0.2.31";
  EXPECT_EQ(refusedField(wide), "dhcp_end");
  auto grouped = spec;
  grouped.portGroups = {{"pg", 5}};
  EXPECT_EQ(refusedField(grouped), "port_groups");
  auto forwarded = spec;
  forwarded.forwards = {{"tcp", 8080, "web", 80}};
  EXPECT_EQ(refusedField(forwarded), "");
}

TEST(NetworkSpec, BridgeNetworksNeedAValidUplinkAndServeNoAddresses) {
  NetworkSpec spec = net("seg", NetworkKind::bridge);
  spec = completed(spec);
  EXPECT_EQ(spec.dhcpStart, "");
  EXPECT_EQ(spec.domain, "");
  EXPECT_EQ(refusedField(spec), "uplink");
  spec.uplink = "eth1";
  EXPECT_EQ(refusedField(spec), "");
  spec.uplink = "much-too-long-name0";
  EXPECT_EQ(refusedField(spec), "uplink");
  spec.uplink = "eth1";
  auto ranged = spec;
  ranged.dhcpStart = "192.168.1.10";
  EXPECT_EQ(refusedField(ranged), "dhcp_start");
  auto named = spec;
  named.domain = "lan";
  EXPECT_EQ(refusedField(named), "domain");
  auto forwarded = spec;
  forwarded.forwards = {{"tcp", 8080, "web", 80}};
  EXPECT_EQ(refusedField(forwarded), "forwards[0]");
  auto subnet = spec;
  subnet.subnet = "192.168.1.0/24";
  EXPECT_EQ(refusedField(subnet), "");
  subnet.subnet = "192.168.1.1/24";
  EXPECT_EQ(refusedField(subnet), "subnet");
}

TEST(NetworkSpec, OnlyBridgeNetworksHaveAnUplink) {
  auto spec = completed(net("lan", NetworkKind::internal, "10.7.0.0/24"));
  spec.uplink = "eth1";
  EXPECT_EQ(refusedField(spec), "uplink");
}

TEST(NetworkSpec, JsonRoundTripKeepsEveryKindAndTheUplink) {
  for (auto kind :
       {NetworkKind::internal, NetworkKind::nat, NetworkKind::bridge, NetworkKind::user}) {
    NetworkSpec spec = net("n", kind, "10.9.0.0/24", "eth1");
    auto back = networkSpecFromJson(toJson(spec));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, spec) << networkKindName(kind);
  }
  auto bad = networkSpecFromJson({{"name", "n"}, {"kind", "vswitch"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "kind");
}

TEST(NetworkSpec, LabelsRoundTripThroughJsonAndMustBeStrings) {
  NetworkSpec spec = net("n", NetworkKind::internal, "10.9.0.0/24");
  spec.labels = {{"paddock.directory", "lab"}, {"tier", "web"}};
  json j = toJson(spec);
  EXPECT_EQ(j["labels"], json({{"paddock.directory", "lab"}, {"tier", "web"}}));
  auto back = networkSpecFromJson(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, spec);

  NetworkSpec other = spec;
  other.labels["tier"] = "db";
  EXPECT_NE(other, spec);

  j["labels"]["tier"] = 3;
  auto bad = networkSpecFromJson(j);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "labels.tier");
  j["labels"] = json::array();
  EXPECT_EQ(networkSpecFromJson(j).error().field, "labels");
  // Networks stored before labels existed have none.
  j.erase("labels");
  EXPECT_TRUE(networkSpecFromJson(j)->labels.empty());
}

TEST(NetworkSpec, ForwardsParseAndRefuseWhatIsNotOne) {
  auto f = parseForward("udp:5353:dns1:53");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, (Forward{"udp", 5353, "dns1", 53}));
  EXPECT_EQ(formatForward(*f), "udp:5353:dns1:53");
  for (const char* bad : {"tcp:8080:web", "icmp:1:web:2", "tcp:0:web:80", "tcp:8080:web:70000",
                          "tcp:80a:web:80", "tcp:8080:Web_1:80"})
    EXPECT_FALSE(parseForward(bad).ok()) << bad;
}

}  // namespace
}  // namespace paddock
