// Declarative directory: plan, dry run, converge, idempotence, files that change nothing,
// networks declared beside the VMs, and resource controls changed live.
#include <unistd.h>

#include <sstream>

#include <gtest/gtest.h>

#include "common/files.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"
#include "services/network/host_names.h"

namespace paddock::test {
namespace {

const char* kSite = R"(directory: site
profiles:
  small:
    vcpus: 1
    memory: 128M
    image: tiny
    disks:
      - {name: root, size: 64M}
vms:
  app1:
    include: small
    description: first
    state: running
  app2:
    include: small
    memory: 160M
  app3:
    include: small
    state: stopped
)";

std::string writeSite(TestDaemon& d, const std::string& name, const std::string& text) {
  std::string path = d.stateDir() + "/" + name;
  EXPECT_TRUE(writeFileAtomic(path, text).ok());
  return path;
}

nlohmann::json vmList(TestDaemon& d) {
  auto r = d.api().call("GET", "/v1/vms");
  EXPECT_TRUE(r.ok());
  nlohmann::json specs = nlohmann::json::array();
  for (auto v : (*r)["vms"]) {
    v.erase("runtime");
    v.erase("updated_at");
    specs.push_back(v);
  }
  return specs;
}

TEST(Apply, DryRunPrintsThePlanAndChangesNothing) {
  TestDaemon d;
  auto file = writeSite(d, "site.yaml", kSite);
  auto r = d.cli({"apply", "-f", file, "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("+ create app1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Plan: 3 to create"), std::string::npos) << r.out;
  EXPECT_EQ(vmList(d).size(), 0u);
}

TEST(Apply, ConvergesAndASecondApplyHasNothingToDo) {
  TestDaemon d;
  auto file = writeSite(d, "site.yaml", kSite);
  auto r = d.cli({"apply", "-f", file});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("app1: PADDOCK-READY hostname=app1"), std::string::npos) << r.out;
  EXPECT_EQ(d.vm("app1")["state"], "running");
  EXPECT_EQ(d.vm("app2")["state"], "stopped");
  EXPECT_EQ(d.vm("app2")["memory_mib"], 160);
  EXPECT_EQ(d.vm("app1")["labels"]["paddock.directory"], "site");

  auto again = d.cli({"--json", "apply", "-f", file});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(again.json()["plan"]["nothing_to_do"].get<bool>()) << again.out;

  // Change one VM's memory (it runs: restart), drop another: the plan says so, apply does it.
  std::string changed = kSite;
  changed.replace(changed.find("    description: first"), 22,
                  "    description: first\n    memory: 192M");
  changed.erase(changed.find("  app3:"));
  auto file2 =
      writeSite(d, "site2.yaml", "directory: site\n" + changed.substr(changed.find("profiles:")));
  auto plan = d.cli({"apply", "-f", file2, "--dry-run"});
  EXPECT_NE(plan.out.find("~ update app1 (shut down and restart): memory_mib"), std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("- delete app3"), std::string::npos) << plan.out;
  auto applied = d.cli({"apply", "-f", file2});
  ASSERT_EQ(applied.code, 0) << applied.err;
  EXPECT_EQ(d.vm("app1")["memory_mib"], 192);
  EXPECT_EQ(d.vm("app1")["state"], "running");
  EXPECT_EQ(d.cli({"vm", "show", "app3"}).code, 3);
  EXPECT_TRUE(d.cli({"--json", "apply", "-f", file2}).json()["plan"]["nothing_to_do"].get<bool>());
}

TEST(Apply, BrokenFilesChangeNothingAndNameFileLineAndField) {
  TestDaemon d;
  auto good = writeSite(d, "site.yaml", kSite);
  ASSERT_EQ(d.cli({"apply", "-f", good, "--no-wait-ready"}).code, 0);
  auto before = vmList(d);

  auto syntax = writeSite(d, "syntax.yaml", "directory: site\nvms:\n  app1: {include: small\n");
  auto r = d.cli({"apply", "-f", syntax});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("syntax.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("syntax"), std::string::npos) << r.err;

  std::string unknownProfile = kSite;
  unknownProfile.replace(unknownProfile.find("include: small\n    memory: 160M"), 14,
                         "include: huge");
  auto up = writeSite(d, "profile.yaml", unknownProfile);
  r = d.cli({"apply", "-f", up});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("profile.yaml:15:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("huge"), std::string::npos) << r.err;

  std::string zero = kSite;
  zero.replace(zero.find("memory: 160M"), 12, "memory: 0");
  auto z = writeSite(d, "zero.yaml", zero);
  r = d.cli({"apply", "-f", z});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("zero.yaml:16:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("memory"), std::string::npos) << r.err;

  std::string tooBig = kSite;
  tooBig.replace(tooBig.find("memory: 160M"), 12, "vcpus: 4096");
  auto tb = writeSite(d, "big.yaml", tooBig);
  r = d.cli({"apply", "-f", tb});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("vcpus"), std::string::npos) << r.err;

  EXPECT_EQ(vmList(d), before);
}

// The CPU cap the host enforces on a VM's cgroup, in host CPUs; 0: none, -1: no group.
double cgroupCpuCap(TestDaemon& d, const std::string& vm) {
  bool v2 = pathExists("/sys/fs/cgroup/cgroup.controllers");
  std::string group = std::string(v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu") + "/paddock-" +
                      HostNames(d.stateDir()).prefix() + "/" + vm + "/";
  double quota = 0, period = 0;
  if (v2) {
    auto max = readFile(group + "cpu.max");
    if (!max) return -1;
    std::istringstream in(*max);
    std::string q;
    in >> q >> period;
    quota = q == "max" ? 0 : std::stod(q);
  } else {
    auto q = readFile(group + "cpu.cfs_quota_us");
    auto p = readFile(group + "cpu.cfs_period_us");
    if (!q || !p) return -1;
    quota = std::max(0.0, std::stod(*q));
    period = std::stod(*p);
  }
  return period > 0 ? quota / period : -1;
}

TEST(Apply, ResourcesChangeLiveOnARunningVmAndASecondApplyHasNothingToDo) {
  if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: a CPU limit needs cgroups (root)";
  TestDaemon d;
  std::string site = R"(directory: site
vms:
  app1:
    image: tiny
    memory: 128M
    state: running
    resources:
      cpu_limit: 0.5
      balloon: 96M
)";
  auto file = writeSite(d, "res.yaml", site);
  auto r = d.cli({"apply", "-f", file, "--no-wait-ready"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto shown = d.cli({"--json", "vm", "show", "app1"});
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_EQ(shown.json()["resources"]["cpu_limit"], 0.5) << shown.out;
  EXPECT_EQ(shown.json()["resources"]["balloon_mib"], 96) << shown.out;
  EXPECT_NEAR(cgroupCpuCap(d, "app1"), 0.5, 1e-9);
  pid_t pid = d.vm("app1")["runtime"].value("pid", 0);
  ASSERT_GT(pid, 0);

  auto again = d.cli({"apply", "-f", file});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("Nothing to do: 1 VM matches the directory."), std::string::npos)
      << again.out;

  // A bad value is refused with its line before anything changes.
  std::string bad = site;
  bad.replace(bad.find("balloon: 96M"), 12, "cpu_shares: -1");
  auto refused = d.cli({"apply", "-f", writeSite(d, "bad.yaml", bad)});
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.err.find("bad.yaml:9: vms.app1.resources.cpu_shares: cpu_shares must be"),
            std::string::npos)
      << refused.err;
  // So is one only the daemon can judge (more CPUs than the host has).
  std::string tooMany = site;
  tooMany.replace(tooMany.find("cpu_limit: 0.5"), 14, "cpu_limit: 4096");
  auto host = d.cli({"apply", "-f", writeSite(d, "many.yaml", tooMany)});
  EXPECT_NE(host.code, 0);
  EXPECT_NE(host.err.find("many.yaml:8: VM 'app1': cpu_limit 4096 is more than the host's"),
            std::string::npos)
      << host.err;
  EXPECT_EQ(d.vm("app1")["resources"]["cpu_limit"], 0.5);

  std::string changed = site;
  changed.replace(changed.find("cpu_limit: 0.5"), 14, "cpu_limit: 0.25");
  auto file2 = writeSite(d, "res2.yaml", changed);
  auto plan = d.cli({"apply", "-f", file2, "--dry-run"});
  EXPECT_NE(plan.out.find("~ update app1: resources.cpu_limit 0.5 → 0.25\n"), std::string::npos)
      << plan.out;
  auto applied = d.cli({"apply", "-f", file2});
  ASSERT_EQ(applied.code, 0) << applied.err;
  auto vm = d.vm("app1");
  EXPECT_EQ(vm["resources"]["cpu_limit"], 0.25);
  EXPECT_EQ(vm["resources"]["balloon_mib"], 96);
  EXPECT_EQ(vm["state"], "running");
  EXPECT_EQ(vm["runtime"].value("pid", 0), pid) << "changed live, not by a restart";
  EXPECT_NEAR(cgroupCpuCap(d, "app1"), 0.25, 1e-9);
  EXPECT_TRUE(d.cli({"--json", "apply", "-f", file2}).json()["plan"]["nothing_to_do"].get<bool>());
}

// Networks make bridges, so this daemon runs in a network namespace of its own.
class ApplyNetworks : public NetnsDaemonTest {};

TEST_F(ApplyNetworks, CreatesANetworkBeforeItsVmAndDeletesItAfterTheVm) {
  auto& d = *d_;
  auto file = writeSite(d, "lab.yaml", R"(directory: lab
networks:
  back: {kind: internal, subnet: 10.58.0.0/24, dhcp_range: 10.58.0.50-10.58.0.99}
vms:
  db1:
    image: tiny
    memory: 128M
    nics: [{network: back, ip: 10.58.0.20}]
)");
  auto dry = d.cli({"apply", "-f", file, "--dry-run"});
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("+ create network back (internal, 10.58.0.0/24)\n+ create db1"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("; networks: 1 to create, 0 to delete."), std::string::npos) << dry.out;
  EXPECT_EQ(d.cli({"network", "show", "back"}).code, 3);

  auto r = d.cli({"apply", "-f", file});
  ASSERT_EQ(r.code, 0) << r.err;
  auto net = d.api().call("GET", "/v1/networks/back");
  ASSERT_TRUE(net.ok()) << net.error().message;
  EXPECT_EQ((*net)["labels"]["paddock.directory"], "lab");
  EXPECT_EQ((*net)["subnet"], "10.58.0.0/24");
  EXPECT_EQ((*net)["dhcp_start"], "10.58.0.50");
  EXPECT_EQ((*net)["bridge_up"], true) << net->dump();
  auto vm = d.vm("db1");
  ASSERT_EQ(vm["nics"].size(), 1u) << vm.dump();
  EXPECT_EQ(vm["nics"][0]["network"], "back");
  EXPECT_EQ(vm["nics"][0]["ip"], "10.58.0.20");
  EXPECT_EQ(vm["nics"][0]["mac"].get<std::string>().substr(0, 9), "02:50:44:");
  net = d.api().call("GET", "/v1/networks/back");
  ASSERT_EQ((*net)["nics"].size(), 1u) << net->dump();
  EXPECT_EQ((*net)["nics"][0]["vm"], "db1");

  auto again = d.cli({"apply", "-f", file});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("Nothing to do: 1 network and 1 VM match the directory."),
            std::string::npos)
      << again.out;

  std::string moved = R"(directory: lab
networks:
  back: {kind: internal, subnet: 10.59.0.0/24}
vms: {}
)";
  auto changed = d.cli({"apply", "-f", writeSite(d, "moved.yaml", moved)});
  EXPECT_NE(changed.code, 0);
  EXPECT_NE(changed.err.find("moved.yaml:3: network 'back' differs from the file (subnet "
                             "10.58.0.0/24 → 10.59.0.0/24, dhcp_range"),
            std::string::npos)
      << changed.err;
  EXPECT_EQ(d.vm("db1")["nics"].size(), 1u);

  // A file without a networks: key leaves the directory's networks alone.
  auto noSection =
      d.cli({"apply", "-f", writeSite(d, "nonet.yaml", "directory: lab\nvms: {}\n"), "--dry-run"});
  ASSERT_EQ(noSection.code, 0) << noSection.err;
  EXPECT_NE(noSection.out.find("- delete db1\n"), std::string::npos) << noSection.out;
  EXPECT_EQ(noSection.out.find("network"), std::string::npos) << noSection.out;

  auto empty = writeSite(d, "empty.yaml", "directory: lab\nnetworks: {}\nvms: {}\n");
  auto plan = d.cli({"apply", "-f", empty, "--dry-run"});
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("- delete db1\n- delete network back\n"), std::string::npos) << plan.out;
  auto removed = d.cli({"apply", "-f", empty});
  ASSERT_EQ(removed.code, 0) << removed.err;
  EXPECT_EQ(d.cli({"vm", "show", "db1"}).code, 3);
  EXPECT_EQ(d.cli({"network", "show", "back"}).code, 3);
  EXPECT_EQ(paddockLinks(d), std::vector<std::string>{});
  auto last = d.cli({"apply", "-f", empty});
  EXPECT_NE(last.out.find("Nothing to do: 0 VMs match the directory."), std::string::npos)
      << last.out;
}

TEST(Apply, CountClonesATemplateAndReapplyingChangesNothing) {
  TestDaemon d;
  d.createVm("base", {{"memory_mib", 128}});
  ASSERT_EQ(d.cli({"template", "create", "tpl", "--from", "base"}).code, 0);
  const char* farm = R"(directory: farm
vms:
  web:
    template: tpl
    count: 3
    memory: 160M
    state: running
)";
  auto file = writeSite(d, "farm.yaml", farm);
  auto r = d.cli({"apply", "-f", file});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* name : {"web1", "web2", "web3"}) {
    auto vm = d.vm(name);
    EXPECT_EQ(vm["state"], "running") << name;
    EXPECT_EQ(vm["template"], "tpl");
    EXPECT_EQ(vm["linked_clone"], true);
    EXPECT_EQ(vm["memory_mib"], 160) << "the file's memory wins over the template's";
    EXPECT_EQ(vm["disks"], d.vm("base")["disks"]) << "disks come from the template";
    EXPECT_TRUE(pathExists(d.stateDir() + "/disks/" + std::string(name) + "/root.qcow2"));
  }
  // The template-derived definition is what the plan compares: nothing to do the second time.
  auto again = d.cli({"--json", "apply", "-f", file, "--dry-run"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.json()["nothing_to_do"], true) << again.out;
  EXPECT_EQ(again.json()["summary"]["unchanged"], 3) << again.out;
  // Fewer VMs: the one the file no longer lists goes.
  writeSite(d, "farm.yaml",
            std::string(farm).replace(std::string(farm).find("count: 3"), 8, "count: 2"));
  ASSERT_EQ(d.cli({"apply", "-f", file}).code, 0);
  EXPECT_EQ(d.cli({"vm", "show", "web3"}).code, 3);
  // A template that does not exist is refused before anything changes.
  writeSite(d, "bad.yaml", "directory: farm\nvms:\n  x:\n    template: nope\n");
  auto bad = d.cli({"apply", "-f", d.stateDir() + "/bad.yaml"});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("template 'nope' does not exist"), std::string::npos) << bad.err;
  EXPECT_EQ(d.cli({"vm", "show", "web1"}).code, 0) << "a refused apply deletes nothing";
  d.forceStopAll();
}

}  // namespace
}  // namespace paddock::test
