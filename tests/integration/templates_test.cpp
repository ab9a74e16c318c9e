// Templates and clones against a real paddockd, real qemu-img and real guests.
#include <sys/stat.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "common/subprocess.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

// Written with printf's %s so the console's echo of the command never contains the marker.
const std::string kMarker = "TPL-MARK-0001";

std::string backingOf(const std::string& qcow2) {
  auto out = runCommand({"qemu-img", "info", "--output=json", "-U", qcow2});
  EXPECT_TRUE(out.ok() && out->exitCode == 0) << qcow2;
  if (!out.ok()) return "";
  auto j = nlohmann::json::parse(out->out, nullptr, false);
  return j.is_object() ? j.value("backing-filename", "") : "";
}

std::string sha256(const std::string& path) {
  auto out = runCommand({"sha256sum", path});
  EXPECT_TRUE(out.ok() && out->exitCode == 0) << path;
  return out.ok() ? out->out.substr(0, 64) : "";
}

TEST(Templates, LinkedAndFullClonesFromATemplate) {
  TestDaemon d;
  d.createVm("base", {{"memory_mib", 128}});
  d.startVm("base");
  guestWriteDiskHead(d, "base", "TPL-MARK-", "0001");

  // A running VM cannot become a template; nothing is made.
  auto running = d.cli({"template", "create", "tpl", "--from", "base"});
  EXPECT_EQ(running.code, 4) << running.err;
  EXPECT_NE(running.err.find("stop it"), std::string::npos) << running.err;
  EXPECT_NE(running.err.find("--snapshot"), std::string::npos) << running.err;
  EXPECT_EQ(d.cli({"--json", "template", "list"}).json().size(), 0u);

  ASSERT_EQ(d.cli({"vm", "shutdown", "base", "--timeout", "60s"}).code, 0);
  auto made = d.cli({"--json", "template", "create", "tpl", "--from", "base", "--description",
                     "tiny with a marker"});
  ASSERT_EQ(made.code, 0) << made.err;
  EXPECT_EQ(made.json()["source_vm"], "base");
  std::string tplDisk = d.stateDir() + "/templates/tpl/root.qcow2";
  struct stat st {};
  ASSERT_EQ(stat(tplDisk.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u) << "template disks are read-only";
  std::string tplSum = sha256(tplDisk);
  EXPECT_EQ(d.cli({"template", "create", "tpl", "--from", "base"}).code, 4) << "name exists";

  // Five linked clones in one command: overlays on the template's disk, each its own host name.
  auto clones = d.cli({"--json", "vm", "create", "web[1-5]", "--template", "tpl"});
  ASSERT_EQ(clones.code, 0) << clones.err;
  ASSERT_EQ(clones.json().size(), 5u);
  for (int i = 1; i <= 5; ++i) {
    std::string vm = fmt::format("web{}", i);
    EXPECT_EQ(backingOf(d.stateDir() + "/disks/" + vm + "/root.qcow2"),
              "../../templates/tpl/root.qcow2")
        << vm;
    EXPECT_EQ(d.vm(vm)["template"], "tpl");
    EXPECT_EQ(d.vm(vm)["linked_clone"], true);
  }
  auto started = d.cli({"vm", "start", "web1", "web2", "web3", "web4", "web5", "--wait-ready"});
  ASSERT_EQ(started.code, 0) << started.err;
  for (int i = 1; i <= 5; ++i) {
    auto vm = d.vm(fmt::format("web{}", i));
    EXPECT_NE(vm["runtime"]["ready_line"].get<std::string>().find(fmt::format("hostname=web{}", i)),
              std::string::npos)
        << vm.dump();
  }
  // Each clone reads the template's data and writes only to its own overlay.
  EXPECT_NE(guestDiskHead(d, "web2").find(kMarker), std::string::npos);
  guestWriteDiskHead(d, "web1", "CLONE-ONE-", "XXX");
  EXPECT_NE(guestDiskHead(d, "web1").find("CLONE-ONE-XXX"), std::string::npos);
  EXPECT_NE(guestDiskHead(d, "web2").find(kMarker), std::string::npos) << "web1's write leaked";
  EXPECT_EQ(sha256(tplDisk), tplSum) << "a clone changed the template";

  auto show = d.cli({"--json", "template", "show", "tpl"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_EQ(show.json()["linked_clones"].size(), 5u);
  auto refused = d.cli({"template", "delete", "tpl"});
  EXPECT_EQ(refused.code, 4);
  EXPECT_NE(refused.err.find("web1"), std::string::npos) << refused.err;
  EXPECT_TRUE(pathExists(tplDisk));

  // A full clone has its own copy and outlives the template.
  auto full =
      d.cli({"--json", "vm", "create", "solo", "--template", "tpl", "--full", "--memory", "160M"});
  ASSERT_EQ(full.code, 0) << full.err;
  EXPECT_EQ(full.json()["memory_mib"], 160);
  EXPECT_EQ(backingOf(d.stateDir() + "/disks/solo/root.qcow2"), "");
  d.forceStopAll();
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(d.cli({"vm", "delete", fmt::format("web{}", i)}).code, 0);
  auto deleted = d.cli({"template", "delete", "tpl"});
  ASSERT_EQ(deleted.code, 0) << deleted.err;
  EXPECT_FALSE(pathExists(d.stateDir() + "/templates/tpl"));
  d.startVm("solo");
  EXPECT_NE(guestDiskHead(d, "solo").find(kMarker), std::string::npos);
  d.forceStopAll();
}

TEST(Templates, BadInputChangesNothing) {
  TestDaemon d;
  d.createVm("base");
  ASSERT_EQ(d.cli({"template", "create", "tpl", "--from", "base"}).code, 0);
  d.createVm("web2");
  auto& api = d.api();

  auto badName = api.call("POST", "/v1/templates", {{"name", "Bad_Name"}, {"from_vm", "base"}});
  ASSERT_FALSE(badName);
  EXPECT_EQ(badName.error().field, "name");
  auto noVm = api.call("POST", "/v1/templates", {{"name", "t2"}, {"from_vm", "nope"}});
  ASSERT_FALSE(noVm);
  EXPECT_EQ(noVm.error().code, Errc::not_found);
  auto field = api.call("POST", "/v1/templates/tpl/deploy", {{"name", "x"}, {"image", "tiny"}});
  ASSERT_FALSE(field);
  EXPECT_EQ(field.error().field, "image");
  auto linked = api.call("POST", "/v1/templates/tpl/deploy", {{"name", "x"}, {"linked", "yes"}});
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().field, "linked");
  auto vcpus = api.call("POST", "/v1/templates/tpl/deploy", {{"name", "x"}, {"vcpus", 0}});
  ASSERT_FALSE(vcpus);
  EXPECT_EQ(vcpus.error().field, "vcpus");
  auto taken = api.call("POST", "/v1/templates/tpl/deploy", {{"name", "base"}});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, Errc::conflict);
  auto patch = api.call("PATCH", "/v1/vms/base", {{"template", "tpl"}});
  ASSERT_FALSE(patch);
  EXPECT_EQ(patch.error().field, "template");
  auto direct =
      api.call("POST", "/v1/vms", {{"name", "sneaky"}, {"image", "tiny"}, {"template", "tpl"}});
  ASSERT_FALSE(direct) << "a VM cannot claim a template without being deployed from it";
  EXPECT_EQ(direct.error().field, "template");

  EXPECT_EQ(d.cli({"vm", "create", "x", "--template", "tpl", "--disk", "root=1G"}).code, 1);
  EXPECT_EQ(d.cli({"vm", "create", "x", "--template", "tpl", "--linked", "--full"}).code, 1);
  EXPECT_EQ(d.cli({"vm", "create", "x", "--template", "nope"}).code, 3);
  auto range = d.cli({"vm", "create", "web[1-3]", "--template", "tpl"});
  EXPECT_EQ(range.code, 4) << "web2 exists";
  EXPECT_NE(range.err.find("web2"), std::string::npos) << range.err;
  auto backwards = d.cli({"vm", "create", "web[3-1]", "--template", "tpl"});
  EXPECT_EQ(backwards.code, 1);
  EXPECT_NE(backwards.err.find("runs backwards"), std::string::npos) << backwards.err;

  auto vms = d.cli({"--json", "vm", "list"}).json();
  EXPECT_EQ(vms.size(), 2u) << vms.dump();
  EXPECT_EQ(d.cli({"--json", "template", "list"}).json().size(), 1u);
  EXPECT_FALSE(pathExists(d.stateDir() + "/disks/x"));
  EXPECT_FALSE(pathExists(d.stateDir() + "/disks/web1"));
}

// A full clone of a disk with 768 MiB of data is under way when the daemon is killed: the copier
// dies with it, and the next start removes the half-made disks and registers nothing.
TEST(Templates, KilledDuringFullCloneLeavesNothingBehind) {
  TestDaemon d;
  d.createVm("big", {{"disks", {{{"name", "root"}, {"size_mib", 1024}}}}});
  auto wrote = runCommand({"qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 768M",
                           d.stateDir() + "/disks/big/root.qcow2"});
  ASSERT_TRUE(wrote.ok() && wrote->exitCode == 0) << (wrote.ok() ? wrote->err : "");
  ASSERT_EQ(d.cli({"template", "create", "tpl", "--from", "big"}).code, 0);

  auto op = d.api().call("POST", "/v1/templates/tpl/deploy", {{"name", "copy"}, {"linked", false}});
  ASSERT_TRUE(op) << op.error().message;
  std::string partial = d.stateDir() + "/disks/.partial-copy";
  ASSERT_TRUE(waitFor([&] { return pathExists(partial + "/root.qcow2"); }, 20s));
  d.kill9();
  // qemu-img convert must not outlive the daemon (it would write on after the cleanup).
  EXPECT_TRUE(waitFor(
      [&] {
        auto ps = runCommand({"pgrep", "-f", "convert.*" + partial});
        return ps.ok() && ps->exitCode != 0;
      },
      5s))
      << "the copier outlived the daemon";
  d.start();
  EXPECT_FALSE(pathExists(partial));
  EXPECT_FALSE(pathExists(d.stateDir() + "/disks/copy"));
  EXPECT_EQ(d.cli({"vm", "show", "copy"}).code, 3);
  // The template is intact and deploys.
  auto again = d.cli({"--json", "vm", "create", "copy", "--template", "tpl", "--full"});
  ASSERT_EQ(again.code, 0) << again.err;
  auto cmp = runCommand({"qemu-img", "compare", "-U", d.stateDir() + "/templates/tpl/root.qcow2",
                         d.stateDir() + "/disks/copy/root.qcow2"});
  ASSERT_TRUE(cmp.ok());
  EXPECT_EQ(cmp->exitCode, 0) << cmp->out << cmp->err;
}

// With --snapshot a running VM becomes a template as its disks were at that instant; it keeps
// running, and what it writes afterwards is not in the template.
TEST(Templates, ARunningVmIsCopiedAtOneInstantWithSnapshot) {
  TestDaemon d;
  d.createVm("live", {{"memory_mib", 128}});
  d.startVm("live");
  guestWriteDiskHead(d, "live", "BEFORE-COPY-", "1");
  auto made = d.cli({"--json", "template", "create", "hot", "--from", "live", "--snapshot"});
  ASSERT_EQ(made.code, 0) << made.err;
  EXPECT_EQ(d.vm("live")["state"], "running");
  guestWriteDiskHead(d, "live", "AFTER-COPY--", "2");
  struct stat st {};
  ASSERT_EQ(stat((d.stateDir() + "/templates/hot/root.qcow2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  ASSERT_EQ(d.cli({"vm", "create", "copy", "--template", "hot", "--full"}).code, 0);
  d.startVm("copy");
  EXPECT_NE(guestDiskHead(d, "copy").find("BEFORE-COPY-1"), std::string::npos);
  EXPECT_NE(guestDiskHead(d, "live").find("AFTER-COPY--2"), std::string::npos);
  d.forceStopAll();
}

}  // namespace
}  // namespace paddock::test
