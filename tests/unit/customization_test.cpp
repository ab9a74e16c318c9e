// Customization specs from YAML and the NoCloud seed rendered from them.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "directory_file/customization_file.h"
#include "services/customization/cloud_init_seed.h"

namespace paddock {
namespace {

const char* kSpec = R"yaml(hostname: "node-{name}"
domain: lab.test
users:
  - name: ops
    ssh_authorized_keys: ["ssh-ed25519 AAAA ops@lab"]
    sudo: true
    shell: /bin/bash
nics: [static, dhcp, none]
nameservers: [9.9.9.9]
runcmd:
  - echo "quoted \ back" > /tmp/x
)yaml";

TEST(CustomizationYaml, ParsesEveryField) {
  auto spec = parseCustomizationYaml(kSpec, "web");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(customizedHostname(*spec, "web1"), "node-web1");
  EXPECT_EQ(spec->domain, "lab.test");
  ASSERT_EQ(spec->users.size(), 1u);
  EXPECT_EQ(spec->users[0].name, "ops");
  EXPECT_TRUE(spec->users[0].sudo);
  EXPECT_EQ(spec->users[0].shell, "/bin/bash");
  EXPECT_EQ(spec->nics, (std::vector<NicConfigMode>{NicConfigMode::static_ip, NicConfigMode::dhcp,
                                                    NicConfigMode::none}));
  EXPECT_EQ(spec->runcmd, std::vector<std::string>{"echo \"quoted \\ back\" > /tmp/x"});
  // JSON round trip (what the store keeps).
  CustomizationRecord r{"web", "", kSpec, *spec, 1};
  auto back = customizationFromJson(toJson(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->spec, *spec);
}

TEST(CustomizationYaml, ErrorsNameTheLineAndKey) {
  struct Case {
    const char* yaml;
    const char* expected;
  } cases[] = {
      {"hostname: [x\n", ": invalid YAML: end of sequence flow not found"},
      {"runcmd: [a]\nsurprise: 1\n", "web:2: surprise: unknown key 'surprise'"},
      {"hostname: Bad_Host\n", "web:1: hostname: host name 'Bad_Host' contains"},
      {"domain: -bad-\n", "web:1: domain: '-bad-' is not a DNS domain"},
      {"users:\n  - sudo: true\n", "web:2: users[0]: needs a name"},
      {"users:\n  - name: Root\n", "web:2: users[0].name: 'Root' is not a user name"},
      {"users:\n  - name: a\n    sudo: maybe\n", "web:3: users[0].sudo: 'maybe' is not true"},
      {"nics: [dhcp, bridge]\n", "web:1: nics[1]: 'bridge' is not dhcp, static or none"},
      {"nameservers: [1.2.3]\n", "web:1: nameservers[0]"},
      {"runcmd: \"one string\"\n", "web:1: runcmd: expected a list of shell commands"},
      {"- a list\n", "web:1: expected a map of customization settings"},
  };
  for (const auto& c : cases) {
    auto spec = parseCustomizationYaml(c.yaml, "web");
    ASSERT_FALSE(spec) << c.yaml;
    EXPECT_NE(spec.error().message.find(c.expected), std::string::npos)
        << c.yaml << " -> " << spec.error().message;
  }
}

TEST(CloudInitSeed, RendersNoCloudFilesThatYamlReadsBack) {
  auto spec = parseCustomizationYaml(kSpec, "web");
  ASSERT_TRUE(spec);
  std::vector<SeedNic> nics = {
      {"02:50:44:00:00:01", NicConfigMode::static_ip, "10.7.0.5/24", "10.7.0.1"},
      {"02:50:44:00:00:02", NicConfigMode::dhcp, "", ""},
      {"02:50:44:00:00:03", NicConfigMode::none, "", ""},
  };
  auto seed = renderSeed(*spec, "web1", nics);

  auto meta = YAML::Load(seed.metaData);
  EXPECT_EQ(meta["instance-id"].as<std::string>(), "paddock-web1");
  EXPECT_EQ(meta["local-hostname"].as<std::string>(), "node-web1");

  EXPECT_EQ(seed.userData.rfind("#cloud-config\n", 0), 0u);
  auto user = YAML::Load(seed.userData);
  EXPECT_EQ(user["hostname"].as<std::string>(), "node-web1");
  EXPECT_EQ(user["fqdn"].as<std::string>(), "node-web1.lab.test");
  EXPECT_EQ(user["users"][0]["name"].as<std::string>(), "ops");
  EXPECT_EQ(user["users"][0]["ssh_authorized_keys"][0].as<std::string>(),
            "ssh-ed25519 AAAA ops@lab");
  EXPECT_EQ(user["users"][0]["sudo"].as<std::string>(), "ALL=(ALL) NOPASSWD:ALL");
  EXPECT_EQ(user["runcmd"][0].as<std::string>(), "echo \"quoted \\ back\" > /tmp/x");

  auto net = YAML::Load(seed.networkConfig);
  EXPECT_EQ(net["version"].as<int>(), 2);
  auto e0 = net["ethernets"]["nic0"];
  EXPECT_EQ(e0["match"]["macaddress"].as<std::string>(), "02:50:44:00:00:01");
  EXPECT_FALSE(e0["dhcp4"].as<bool>());
  EXPECT_EQ(e0["addresses"][0].as<std::string>(), "10.7.0.5/24");
  EXPECT_EQ(e0["routes"][0]["to"].as<std::string>(), "0.0.0.0/0");
  EXPECT_EQ(e0["routes"][0]["via"].as<std::string>(), "10.7.0.1");
  EXPECT_EQ(e0["nameservers"]["addresses"][0].as<std::string>(), "9.9.9.9");
  EXPECT_EQ(e0["nameservers"]["search"][0].as<std::string>(), "lab.test");
  EXPECT_TRUE(net["ethernets"]["nic1"]["dhcp4"].as<bool>());
  EXPECT_FALSE(net["ethernets"]["nic2"]["dhcp4"].as<bool>());
  EXPECT_FALSE(net["ethernets"]["nic2"]["addresses"]);
}

TEST(CloudInitSeed, HostnameDefaultsToTheVmNameAndDnsToTheGateway) {
  CustomizationSpec spec;
  spec.nics = {NicConfigMode::static_ip};
  auto seed = renderSeed(
      spec, "db1", {{"02:50:44:00:00:09", NicConfigMode::static_ip, "10.8.0.9/24", "10.8.0.1"}});
  EXPECT_EQ(YAML::Load(seed.metaData)["local-hostname"].as<std::string>(), "db1");
  auto net = YAML::Load(seed.networkConfig);
  EXPECT_EQ(net["ethernets"]["nic0"]["nameservers"]["addresses"][0].as<std::string>(), "10.8.0.1");
  EXPECT_FALSE(YAML::Load(seed.userData)["runcmd"]);
}

}  // namespace
}  // namespace paddock
