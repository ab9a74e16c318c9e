// Declarative directory: plan, dry run, converge, idempotence, and files that change nothing.
#include <gtest/gtest.h>

#include "common/files.h"
#include "integration/harness.h"

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

}  // namespace
}  // namespace paddock::test
