// Guest customization: cloud-init NoCloud seeds built by paddockd (real genisoimage), read by
// the tiny guest's init, on linked clones in a network namespace of the test's own.
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

class Customization : public NetnsDaemonTest {};

const char* kSpec = R"yaml(hostname: "node-{name}"
domain: lab.test
users:
  - name: ops
    ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@lab"]
    sudo: true
nics: [static]
runcmd:
  - echo "runcmd-$(hostname)" > /tmp/runcmd-ok
  - printf 'said "%s"\n' hi >> /tmp/runcmd-ok
)yaml";

TEST_F(Customization, FiveLinkedClonesGetTheirHostnamesStaticIpsAndRunCommands) {
  auto& d = *d_;
  std::string specFile = d.stateDir() + "/web.yaml";
  ASSERT_TRUE(writeFileAtomic(specFile, kSpec));
  auto made = d.cli({"customization", "create", "web", "--file", specFile});
  ASSERT_EQ(made.code, 0) << made.err;
  ASSERT_EQ(d.cli({"network", "create", "lan", "--subnet", "10.61.0.0/24", "--dhcp-range",
                   "10.61.0.100-10.61.0.200"})
                .code,
            0);
  d.createVm("base", {{"memory_mib", 128}});
  ASSERT_EQ(d.cli({"template", "create", "tpl", "--from", "base"}).code, 0);
  auto clones = d.cli({"--json", "vm", "create", "web[1-5]", "--template", "tpl", "--nic",
                       "network=lan,ip=auto", "--customization", "web"});
  ASSERT_EQ(clones.code, 0) << clones.err;
  std::set<std::string> ips;
  for (const auto& vm : clones.json()) {
    EXPECT_EQ(vm["customization"], "web");
    ips.insert(vm["nics"][0]["ip"].get<std::string>());
  }
  ASSERT_EQ(ips.size(), 5u) << "ip=auto gave two clones one address";
  for (const auto& ip : ips) {
    int last = std::stoi(ip.substr(ip.rfind('.') + 1));
    EXPECT_TRUE(ip.rfind("10.61.0.", 0) == 0 && last >= 2 && last < 100) << ip;
  }

  auto started = d.cli({"vm", "start", "--wait-ready", "web1", "web2", "web3", "web4", "web5"});
  ASSERT_EQ(started.code, 0) << started.err;
  for (int i = 1; i <= 5; ++i) {
    std::string vm = fmt::format("web{}", i);
    auto rec = d.vm(vm);
    std::string ip = rec["nics"][0]["ip"];
    EXPECT_NE(rec["runtime"]["ready_line"].get<std::string>().find("hostname=node-" + vm),
              std::string::npos)
        << rec["runtime"]["ready_line"];
    std::string out;
    ASSERT_EQ(guestRun(d, vm, "hostname; ip -4 addr show eth0; cat /etc/resolv.conf /tmp/runcmd-ok",
                       &out),
              0)
        << out;
    EXPECT_NE(out.find("node-" + vm), std::string::npos) << out;
    EXPECT_NE(out.find("inet " + ip + "/24"), std::string::npos) << out;
    EXPECT_NE(out.find("nameserver 10.61.0.1"), std::string::npos) << out;
    EXPECT_NE(out.find("search lab.test"), std::string::npos) << out;
    EXPECT_NE(out.find("runcmd-node-" + vm), std::string::npos) << out;
    EXPECT_NE(out.find("said \"hi\""), std::string::npos) << out;
  }
  // The static addresses work on the wire: web1 reaches web5 and the gateway.
  std::string ip5 = d.vm("web5")["nics"][0]["ip"];
  std::string out;
  EXPECT_EQ(guestRun(d, "web1", "ping -c 1 -W 3 " + ip5 + " && ping -c 1 -W 3 10.61.0.1", &out), 0)
      << out;

  // The seed is a real NoCloud one: meta-data, user-data with the users, network-config v2.
  auto user = readFile(d.stateDir() + "/run/web2/cidata/user-data");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->rfind("#cloud-config\n", 0), 0u);
  EXPECT_NE(user->find("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@lab"), std::string::npos);
  auto meta = readFile(d.stateDir() + "/run/web2/cidata/meta-data");
  ASSERT_TRUE(meta);
  EXPECT_NE(meta->find("local-hostname: \"node-web2\""), std::string::npos) << *meta;

  auto refused = d.cli({"customization", "delete", "web"});
  EXPECT_EQ(refused.code, 4);
  EXPECT_NE(refused.err.find("web1"), std::string::npos) << refused.err;
  d.forceStopAll();
}

TEST_F(Customization, BadSpecsAndReferencesChangeNothing) {
  auto& d = *d_;
  std::string file = d.stateDir() + "/bad.yaml";
  auto create = [&](const std::string& yaml) {
    EXPECT_TRUE(writeFileAtomic(file, yaml));
    return d.cli({"customization", "create", "bad", "--file", file});
  };
  auto malformed = create("hostname: [unclosed\n");
  EXPECT_EQ(malformed.code, 1);
  EXPECT_NE(malformed.err.find("invalid YAML"), std::string::npos) << malformed.err;
  auto unknown = create("hostname: a\nfrobnicate: 1\n");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("bad:2: frobnicate: unknown key"), std::string::npos) << unknown.err;
  auto mode = create("nics: [dhcp, sttic]\n");
  EXPECT_EQ(mode.code, 1);
  EXPECT_NE(mode.err.find("nics[1]"), std::string::npos) << mode.err;
  auto key = create("users:\n  - name: ops\n    ssh_authorized_keys: [\"not a key\"]\n");
  EXPECT_EQ(key.code, 1);
  EXPECT_NE(key.err.find("users[0].ssh_authorized_keys[0]"), std::string::npos) << key.err;
  EXPECT_EQ(d.cli({"customization", "create", "bad", "--file", "/nonexistent.yaml"}).code, 1);
  EXPECT_EQ(d.cli({"--json", "customization", "list"}).json().size(), 0u);

  // A VM cannot name a spec that does not exist, nor be static without an address.
  auto missing = d.api().call("POST", "/v1/vms",
                              {{"name", "v"}, {"image", "tiny"}, {"customization", "nope"}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().field, "customization");
  ASSERT_TRUE(writeFileAtomic(file, "nics: [static]\n"));
  ASSERT_EQ(d.cli({"customization", "create", "st", "--file", file}).code, 0);
  ASSERT_EQ(d.cli({"network", "create", "lan", "--subnet", "10.62.0.0/24"}).code, 0);
  auto noIp = d.cli({"vm", "create", "v", "--nic", "lan", "--customization", "st"});
  EXPECT_EQ(noIp.code, 1);
  EXPECT_NE(noIp.err.find("has no IP"), std::string::npos) << noIp.err;
  EXPECT_EQ(d.cli({"vm", "show", "v"}).code, 3);
}

}  // namespace
}  // namespace paddock::test
