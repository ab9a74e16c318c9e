// Backup and restore against a real paddockd, real QEMU (running VMs), real qemu-storage-daemon
// (stopped VMs), real qemu-img and real guests: full and incremental backups through persistent
// dirty bitmaps, restores compared inside the guests, verify, retention, a full repository and a
// daemon killed mid-backup.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "common/subprocess.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1024 * 1024;

// Fills `mib` MiB of the guest's disk at `offsetMib` with random bytes, flushed.
void guestFill(TestDaemon& d, const std::string& vm, int offsetMib, int mib) {
  std::string out;
  ASSERT_EQ(guestRun(d, vm,
                     fmt::format("dd if=/dev/urandom of=/dev/vda bs=1M seek={} count={} "
                                 "conv=fsync 2>/dev/null; sync",
                                 offsetMib, mib),
                     &out),
            0)
      << out;
}

// SHA-256 of that region as the guest reads it.
std::string guestSum(TestDaemon& d, const std::string& vm, int offsetMib, int mib) {
  std::string out;
  EXPECT_EQ(guestRun(d, vm,
                     fmt::format("echo sum=$(dd if=/dev/vda bs=1M skip={} count={} 2>/dev/null | "
                                 "sha256sum | cut -c1-64)=",
                                 offsetMib, mib),
                     &out),
            0)
      << out;
  std::smatch m;
  std::regex sum("sum=([0-9a-f]{64})=");
  return std::regex_search(out, m, sum) ? m[1].str() : "unreadable: " + out;
}

nlohmann::json backupNow(TestDaemon& d, const std::string& vm,
                         std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--json", "backup", "create", vm};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = d.cli(args);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? r.json() : nlohmann::json::object();
}

nlohmann::json operation(TestDaemon& d, const std::string& id) {
  auto o = d.api().call("GET", "/v1/operations/" + id);
  return o ? *o : nlohmann::json::object();
}

// Starts a backup of `vm` held to `bwlimit` per second and returns its operation id once it is
// copying ("" on failure, the test failed).
std::string startSlowBackup(TestDaemon& d, const std::string& vm, const std::string& bwlimit) {
  auto op = d.cli({"--json", "backup", "create", vm, "--bwlimit", bwlimit, "--no-wait"});
  EXPECT_EQ(op.code, 0) << op.err;
  if (op.code != 0) return "";
  std::string id = std::to_string(op.json()["id"].get<int64_t>());
  EXPECT_TRUE(waitFor([&] { return operation(d, id).value("progress", 0) > 5; }, 30s));
  return id;
}

// Waits until the operation ends; its final status.
std::string finalStatus(TestDaemon& d, const std::string& id) {
  EXPECT_TRUE(waitFor([&] { return operation(d, id).value("status", "") != "running"; }, 30s));
  return operation(d, id).value("status", "");
}

TEST(Backups, IncrementalHoldsOnlyTheChangeAndBothRestoreTheirPointInTime) {
  TestDaemon d;
  std::string repo = d.stateDir() + "/repo";
  ASSERT_EQ(d.cli({"backup", "repo", "add", "main", "--path", repo}).code, 0);
  d.createVm("src", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 256}}}}});
  d.startVm("src");
  guestFill(d, "src", 16, 8);
  std::string first = guestSum(d, "src", 16, 8);
  std::string zeros = guestSum(d, "src", 100, 10);

  auto full = backupNow(d, "src");
  ASSERT_EQ(full["kind"], "full");
  EXPECT_EQ(full["vm_state"], "running");
  EXPECT_GE(full["bytes"].get<uint64_t>(), 8 * kMiB);
  EXPECT_LT(full["bytes"].get<uint64_t>(), 32 * kMiB) << "zeros were copied";

  guestFill(d, "src", 100, 10);
  std::string second = guestSum(d, "src", 100, 10);
  ASSERT_NE(second, zeros);
  auto inc = backupNow(d, "src");
  ASSERT_EQ(inc["kind"], "incremental") << inc.dump();
  EXPECT_EQ(inc["parent"], full["id"]);
  uint64_t incBytes = inc["bytes"].get<uint64_t>();
  EXPECT_GE(incBytes, 10 * kMiB);
  EXPECT_LT(incBytes, 12 * kMiB) << "the incremental holds more than the 10 MiB written";
  std::printf("full %llu bytes, incremental %llu bytes after writing 10 MiB\n",
              static_cast<unsigned long long>(full["bytes"].get<uint64_t>()),
              static_cast<unsigned long long>(incBytes));

  auto verify = d.cli({"--json", "backup", "verify", "src"});
  ASSERT_EQ(verify.code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.json()["backups"].size(), 2u);

  // Restore both points in time into new VMs; the guests read the data of their point.
  auto r1 = d.cli({"--json", "backup", "restore", "src", full["id"], "--as", "at-full"});
  ASSERT_EQ(r1.code, 0) << r1.err;
  auto r2 = d.cli({"--json", "backup", "restore", "src", "latest", "--as", "at-inc"});
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(r2.json()["restored_from"]["id"], inc["id"]);
  d.startVm("at-full");
  EXPECT_EQ(guestSum(d, "at-full", 16, 8), first);
  EXPECT_EQ(guestSum(d, "at-full", 100, 10), zeros);
  d.startVm("at-inc");
  EXPECT_EQ(guestSum(d, "at-inc", 16, 8), first);
  EXPECT_EQ(guestSum(d, "at-inc", 100, 10), second);

  // Over an existing VM only with --force, and only while it is stopped.
  auto exists = d.cli({"backup", "restore", "src", "latest", "--as", "at-full"});
  EXPECT_EQ(exists.code, 4);
  EXPECT_NE(exists.err.find("--force"), std::string::npos) << exists.err;
  EXPECT_EQ(d.cli({"backup", "restore", "src", "latest", "--as", "at-full", "--force"}).code, 4);
  ASSERT_EQ(d.cli({"vm", "stop", "at-full"}).code, 0);
  ASSERT_EQ(d.cli({"backup", "restore", "src", "latest", "--as", "at-full", "--force"}).code, 0);
  d.startVm("at-full");
  EXPECT_EQ(guestSum(d, "at-full", 100, 10), second);

  // A reverted snapshot rewrites the disk behind the bitmap's back: the next backup is full.
  ASSERT_EQ(d.cli({"vm", "snapshot", "create", "src", "s"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "snapshot", "revert", "src", "s"}).code, 0);
  auto afterRevert = backupNow(d, "src");
  EXPECT_EQ(afterRevert["kind"], "full");
  EXPECT_NE(afterRevert.value("reason", "").find("no change tracking"), std::string::npos)
      << afterRevert.dump();
  d.forceStopAll();
}

TEST(Backups, StoppedVmsRetentionAndBadInput) {
  TestDaemon d;
  std::string repo = d.stateDir() + "/repo";
  ASSERT_EQ(d.cli({"backup", "repo", "add", "main", "--path", repo}).code, 0);
  d.createVm("cold", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 128}}}}});
  auto b1 = backupNow(d, "cold");
  ASSERT_EQ(b1["kind"], "full");
  EXPECT_EQ(b1["vm_state"], "stopped");
  // The bitmap made by the storage daemon survives into the running VM and its clean stop.
  d.startVm("cold");
  guestFill(d, "cold", 32, 4);
  std::string data = guestSum(d, "cold", 32, 4);
  ASSERT_EQ(d.cli({"vm", "stop", "cold"}).code, 0);
  auto b2 = backupNow(d, "cold");
  ASSERT_EQ(b2["kind"], "incremental") << b2.dump();
  EXPECT_GE(b2["bytes"].get<uint64_t>(), 4 * kMiB);
  EXPECT_LT(b2["bytes"].get<uint64_t>(), 6 * kMiB);
  auto b3 = backupNow(d, "cold", {"--full"});
  ASSERT_EQ(b3["kind"], "full");
  auto b4 = backupNow(d, "cold");
  ASSERT_EQ(b4["kind"], "incremental");
  EXPECT_EQ(b4["parent"], b3["id"]);

  // Deleting a backup something is built on is refused; pruning keeps whole chains.
  auto base = d.cli({"backup", "delete", "cold", b3["id"]});
  EXPECT_EQ(base.code, 4);
  EXPECT_NE(base.err.find(b4["id"].get<std::string>()), std::string::npos) << base.err;
  auto dry = d.cli({"--json", "backup", "prune", "cold", "--keep-last", "1", "--dry-run"});
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_EQ(dry.json()["removed"], (nlohmann::json{b2["id"], b1["id"]}));
  EXPECT_EQ(d.cli({"--json", "backup", "list", "cold"}).json()["backups"].size(), 4u);
  auto pruned = d.cli({"--json", "backup", "prune", "cold", "--keep-last", "1"});
  ASSERT_EQ(pruned.code, 0) << pruned.err;
  EXPECT_EQ(pruned.json()["kept"], (nlohmann::json{b3["id"], b4["id"]}));
  EXPECT_FALSE(fs::exists(repo + "/cold/" + b1["id"].get<std::string>()));
  ASSERT_EQ(d.cli({"backup", "verify", "cold"}).code, 0);
  auto restored = d.cli({"backup", "restore", "cold", "latest", "--as", "warm"});
  ASSERT_EQ(restored.code, 0) << restored.err;
  d.startVm("warm");
  EXPECT_EQ(guestSum(d, "warm", 32, 4), data);
  d.forceStopAll();

  // A corrupted file fails verify (and restore), naming the problem.
  std::string file = repo + "/cold/" + b4["id"].get<std::string>() + "/root.qcow2";
  {
    std::FILE* f = std::fopen(file.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 70000, SEEK_SET);
    std::fputc('X', f);
    std::fclose(f);
  }
  auto bad = d.cli({"backup", "verify", "cold"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("SHA-256 mismatch"), std::string::npos) << bad.out;
  auto badRestore = d.cli({"backup", "restore", "cold", b4["id"], "--as", "never"});
  EXPECT_NE(badRestore.code, 0);
  EXPECT_NE(badRestore.err.find("does not verify"), std::string::npos) << badRestore.err;
  EXPECT_EQ(d.cli({"vm", "show", "never"}).code, 3);

  // Bad input: clear errors, nothing changed.
  auto dup = d.api().call("POST", "/v1/backup-repos", {{"name", "main"}, {"path", "/tmp/x"}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().field, "name");
  auto relative = d.api().call("POST", "/v1/backup-repos", {{"name", "rel"}, {"path", "rel/x"}});
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().field, "path");
  std::string ro = d.stateDir() + "/ro";
  ASSERT_EQ(mkdir(ro.c_str(), 0755), 0);
  ASSERT_EQ(mount("none", ro.c_str(), "tmpfs", MS_RDONLY, "size=1m"), 0) << strerror(errno);
  auto notWritable = d.cli({"backup", "repo", "add", "ro", "--path", ro});
  umount(ro.c_str());
  EXPECT_NE(notWritable.code, 0);
  EXPECT_NE(notWritable.err.find("not writable"), std::string::npos) << notWritable.err;
  auto badLimit =
      d.api().call("POST", "/v1/vms/cold/backups", {{"repo", "main"}, {"bwlimit_mib", -1}});
  ASSERT_FALSE(badLimit);
  EXPECT_EQ(badLimit.error().field, "bwlimit_mib");
  auto noRepo = d.api().call("POST", "/v1/vms/cold/backups", {{"repo", "nope"}});
  ASSERT_FALSE(noRepo);
  EXPECT_EQ(noRepo.error().field, "repo");
  EXPECT_EQ(d.cli({"backup", "create", "nope"}).code, 3);
  EXPECT_EQ(d.cli({"backup", "prune", "cold"}).code, 1);  // nothing to keep given
  auto repos = d.cli({"--json", "backup", "repo", "list"}).json()["repos"];
  ASSERT_EQ(repos.size(), 1u);
  EXPECT_EQ(repos[0]["backups"], 2);  // b3 and b4 (its file corrupt, its manifest readable)
}

TEST(Backups, AFullRepositoryFailsCleanly) {
  TestDaemon d;
  std::string small = d.stateDir() + "/small";
  ASSERT_EQ(mkdir(small.c_str(), 0755), 0);
  ASSERT_EQ(mount("none", small.c_str(), "tmpfs", 0, "size=6m"), 0) << strerror(errno);
  ASSERT_EQ(d.cli({"backup", "repo", "add", "small", "--path", small}).code, 0);
  d.createVm("big", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 128}}}}});
  auto first = backupNow(d, "big");  // empty disk: fits
  ASSERT_EQ(first["kind"], "full");
  d.startVm("big");
  guestFill(d, "big", 8, 12);
  auto full = d.cli({"backup", "create", "big"});
  EXPECT_EQ(full.code, 1);
  EXPECT_NE(full.err.find("is full"), std::string::npos) << full.err;
  // Nothing half-made stays; the earlier backup still verifies and the next one is possible.
  auto entries = fs::directory_iterator(small + "/big");
  EXPECT_EQ(std::distance(entries, fs::directory_iterator()), 1);
  EXPECT_EQ(d.cli({"backup", "verify", "big"}).code, 0);
  d.forceStopAll();
  umount2(small.c_str(), MNT_DETACH);
}

// The daemon dies mid-backup (the VM's QEMU carries on): the earlier backups still verify, the
// half-made one is gone after restart, and the next backup is a correct incremental.
TEST(Backups, KillingTheDaemonMidBackupKeepsEarlierBackupsSound) {
  TestDaemon d;
  std::string repo = d.stateDir() + "/repo";
  ASSERT_EQ(d.cli({"backup", "repo", "add", "main", "--path", repo}).code, 0);
  d.createVm("live", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 128}}}}});
  d.startVm("live");
  guestFill(d, "live", 0, 4);
  auto full = backupNow(d, "live");
  ASSERT_EQ(full["kind"], "full");
  guestFill(d, "live", 16, 16);
  std::string data = guestSum(d, "live", 16, 16);

  ASSERT_NE(startSlowBackup(d, "live", "2M"), "");
  ASSERT_TRUE(fs::exists(repo + "/live"));
  d.kill9();
  d.start();
  auto list = d.cli({"--json", "backup", "list", "live"}).json()["backups"];
  ASSERT_EQ(list.size(), 1u);
  int partials = 0;
  for (const auto& e : fs::directory_iterator(repo + "/live"))
    if (e.path().filename().string().rfind(".partial-", 0) == 0) ++partials;
  EXPECT_EQ(partials, 0);
  EXPECT_EQ(d.cli({"backup", "verify", "live"}).code, 0);
  EXPECT_EQ(d.vm("live")["state"], "running");

  // The next backup clears the orphaned job and is still incremental on the full one.
  auto next = backupNow(d, "live");
  ASSERT_EQ(next["kind"], "incremental") << next.dump();
  EXPECT_EQ(next["parent"], full["id"]);
  auto restored = d.cli({"backup", "restore", "live", "latest", "--as", "back"});
  ASSERT_EQ(restored.code, 0) << restored.err;
  d.startVm("back");
  EXPECT_EQ(guestSum(d, "back", 16, 16), data);
  d.forceStopAll();
}

// The VM's QEMU dies mid-backup: the backup fails and leaves nothing, the earlier one still
// verifies, and as the killed QEMU never stored its bitmaps (they live in its memory until it
// closes the image) the next backup is a full one.
TEST(Backups, KillingQemuMidBackupFailsItAndTheNextBackupIsFull) {
  TestDaemon d;
  std::string repo = d.stateDir() + "/repo";
  ASSERT_EQ(d.cli({"backup", "repo", "add", "main", "--path", repo}).code, 0);
  d.createVm("q", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 64}}}}});
  d.startVm("q");
  ASSERT_EQ(backupNow(d, "q")["kind"], "full");
  guestFill(d, "q", 0, 16);
  std::string id = startSlowBackup(d, "q", "1M");
  ASSERT_NE(id, "");
  pid_t qemu = d.vm("q")["runtime"]["pid"].get<pid_t>();
  ASSERT_EQ(::kill(qemu, SIGKILL), 0);
  EXPECT_EQ(finalStatus(d, id), "failed");
  EXPECT_EQ(d.vm("q")["state"], "crashed");
  auto entries = fs::directory_iterator(repo + "/q");
  EXPECT_EQ(std::distance(entries, fs::directory_iterator()), 1);
  EXPECT_EQ(d.cli({"backup", "verify", "q"}).code, 0);
  auto next = backupNow(d, "q");
  EXPECT_EQ(next["kind"], "full");
  EXPECT_NE(next.value("reason", "").find("no change tracking"), std::string::npos) << next.dump();
  d.forceStopAll();
}

// Cancelling a backup removes what it made and leaves the chain as it was.
TEST(Backups, CancelledBackupLeavesNothing) {
  TestDaemon d;
  std::string repo = d.stateDir() + "/repo";
  ASSERT_EQ(d.cli({"backup", "repo", "add", "main", "--path", repo}).code, 0);
  d.createVm("c", {{"memory_mib", 128}, {"disks", {{{"name", "root"}, {"size_mib", 64}}}}});
  auto full = backupNow(d, "c");
  d.startVm("c");
  guestFill(d, "c", 0, 16);
  std::string id = startSlowBackup(d, "c", "1M");
  ASSERT_NE(id, "");
  ASSERT_EQ(d.cli({"operation", "cancel", id}).code, 0);
  EXPECT_EQ(finalStatus(d, id), "cancelled") << operation(d, id).dump();

  // Ctrl-C on a CLI waiting for a backup cancels it too.
  std::string log = d.stateDir() + "/cli.log";
  auto cli = spawnDetached(
      {PADDOCK_BIN, "--host", d.socket(), "backup", "create", "c", "--bwlimit", "1M"}, log);
  ASSERT_TRUE(cli.ok()) << cli.error().message;
  ASSERT_TRUE(waitFor(
      [&] {
        auto ops = d.api().call("GET", "/v1/operations");
        if (!ops) return false;
        for (const auto& o : (*ops)["operations"])
          if (o.value("kind", "") == "vm.backup" && o.value("status", "") == "running" &&
              o.value("progress", 0) > 5)
            return true;
        return false;
      },
      30s));
  ASSERT_EQ(::kill(*cli, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(*cli, &status, 0), *cli);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 4) << describeWaitStatus(status);
  auto printed = readFile(log);
  ASSERT_TRUE(printed.ok());
  EXPECT_NE(printed->find("cancelled"), std::string::npos) << *printed;
  EXPECT_EQ(d.cli({"--json", "backup", "list", "c"}).json()["backups"].size(), 1u);
  auto entries = fs::directory_iterator(repo + "/c");
  EXPECT_EQ(std::distance(entries, fs::directory_iterator()), 1);
  auto next = backupNow(d, "c");
  EXPECT_EQ(next["kind"], "incremental");
  EXPECT_EQ(next["parent"], full["id"]);
  d.forceStopAll();
}

}  // namespace
}  // namespace paddock::test
