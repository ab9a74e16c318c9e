// Migration on shared storage: two paddockd that see the same directory as storage "pool" move
// a running guest by its memory alone, and a suspended one by its definition. The disk file stays
// where it is (the same inode), every record the guest wrote during the move is on it, and neither
// host deletes it when the VM leaves. A host whose "pool" is another directory, or that has none,
// is refused before anything moves, and a VM of the same name on another host never takes the disks
// over.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include "integration/guest_records.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool noCheckFiles(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(".paddock-check-", 0) == 0) return false;
  return true;
}

class SharedStorage : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/paddock-shared-XXXXXX";
    root_ = mkdtemp(tmpl);
    fs::create_directories(root_ + "/pool");
    fs::create_directories(root_ + "/elsewhere");
    auto daemon = [](std::vector<std::string> more) {
      std::vector<std::string> args = {"--listen", "127.0.0.1:0"};
      args.insert(args.end(), more.begin(), more.end());
      return std::make_unique<TestDaemon>(args);
    };
    a_ = daemon({"--shared-storage", "pool=" + root_ + "/pool"});
    b_ = daemon({"--shared-storage", "pool=" + root_ + "/pool/"});  // the same, spelt otherwise
    other_ = daemon({"--shared-storage", "pool=" + root_ + "/elsewhere"});
    none_ = daemon({});
    addPeer(*a_, "b", *b_);
    addPeer(*a_, "other", *other_);
    addPeer(*a_, "none", *none_);
    addPeer(*b_, "a", *a_);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    other_.reset();
    none_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  static void addPeer(TestDaemon& from, const std::string& name, TestDaemon& to) {
    auto added =
        from.cli({"host", "add", name, "--address", "127.0.0.1:" + std::to_string(to.tcpPort()),
                  "--token-file", to.tokenFile()});
    ASSERT_EQ(added.code, 0) << added.err;
  }
  std::string root_;
  std::unique_ptr<TestDaemon> a_, b_, other_, none_;
};

TEST_F(SharedStorage, AGuestMovesLiveByItsMemoryAndSuspendedByItsDefinitionOnTheSameDisk) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  std::string disk = root_ + "/pool/s1/root.qcow2";

  // Bad input first: nothing is made.
  auto unknown = a.cli({"vm", "create", "x1", "--storage", "nope"});
  EXPECT_EQ(unknown.code, 1) << unknown.err;
  EXPECT_NE(unknown.err.find("no shared storage 'nope'"), std::string::npos) << unknown.err;
  EXPECT_EQ(a.cli({"vm", "show", "x1"}).code, 3);
  auto bad = a.api().call("POST", "/v1/vms", {{"name", "x2"}, {"image", "tiny"}, {"storage", 7}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "storage");

  auto made = a.cli({"--json", "vm", "create", "s1", "--memory", "256M", "--disk", "root=256M",
                     "--storage", "pool"});
  ASSERT_EQ(made.code, 0) << made.err;
  EXPECT_EQ(made.json()["storage"], "pool");
  ASSERT_TRUE(fs::exists(disk)) << "the disk is made on the shared storage";
  EXPECT_FALSE(fs::exists(a.stateDir() + "/disks/s1"));
  auto changed = a.api().call("PATCH", "/v1/vms/s1", {{"storage", "local"}});
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().field, "storage");
  ino_t inode = inodeOf(disk);

  a.startVm("s1");
  ASSERT_EQ(guestRun(a, "s1", kWriter), 0);
  ASSERT_TRUE(waitFor([&] { return guestCount(a, "s1") > 5; }, 30s));

  // Not the same files behind the name, no such storage, or moving it stopped: refused, and
  // the guest goes on here.
  auto elsewhere = a.cli({"vm", "migrate", "s1", "--to", "other", "--live"});
  EXPECT_NE(elsewhere.code, 0);
  EXPECT_NE(elsewhere.err.find("not the directory the source sees"), std::string::npos)
      << elsewhere.err;
  auto missing = a.cli({"vm", "migrate", "s1", "--to", "none", "--live"});
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.err.find("no shared storage 'pool'"), std::string::npos) << missing.err;
  EXPECT_EQ(other_->cli({"vm", "show", "s1"}).code, 3);
  EXPECT_EQ(none_->cli({"vm", "show", "s1"}).code, 3);
  EXPECT_TRUE(noCheckFiles(root_ + "/pool")) << "the source removes its check file";
  EXPECT_EQ(a.vm("s1")["state"], "running");

  int before = guestCount(a, "s1");
  auto moved = a.cli({"--json", "vm", "migrate", "s1", "--to", "b", "--live"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  std::cout << "shared-storage live migration: " << moved.json().dump() << "\n";
  EXPECT_TRUE(moved.json()["shared_storage"].get<bool>());
  EXPECT_EQ(moved.json()["disk_bytes"].get<std::uint64_t>(), 0u) << "no disk byte is copied";
  EXPECT_EQ(a.cli({"vm", "show", "s1"}).code, 3);
  EXPECT_EQ(b.vm("s1")["state"], "running");
  EXPECT_EQ(b.vm("s1")["storage"], "pool");
  EXPECT_EQ(inodeOf(disk), inode) << "the same file, not a copy";
  EXPECT_TRUE(noCheckFiles(root_ + "/pool"));
  auto owner = readFile(root_ + "/pool/s1/.paddock-owner");
  EXPECT_TRUE(owner && owner->find(b.stateDir()) != std::string::npos)
      << "the disks are marked as b's now (only b deletes them)";
  int there = guestCount(b, "s1");
  EXPECT_GE(there, before);
  EXPECT_TRUE(waitFor([&] { return guestCount(b, "s1") > there; }, 20s)) << "it goes on writing";

  // A VM of that name elsewhere never takes the disks over.
  auto taken = a.cli({"vm", "create", "s1", "--disk", "root=64M", "--storage", "pool"});
  EXPECT_EQ(taken.code, 4) << taken.err;
  EXPECT_EQ(inodeOf(disk), inode);
  EXPECT_EQ(a.cli({"vm", "show", "s1"}).code, 3);

  // And back; then every record written on both hosts is on the one disk.
  auto back = b.cli({"vm", "migrate", "s1", "--to", "a", "--live"});
  ASSERT_EQ(back.code, 0) << back.err;
  EXPECT_EQ(a.vm("s1")["state"], "running");
  EXPECT_EQ(b.cli({"vm", "show", "s1"}).code, 3);
  EXPECT_EQ(inodeOf(disk), inode);
  Records records = checkRecords(a, "s1");
  EXPECT_GT(records.written, there);
  EXPECT_EQ(records.bad, 0) << "records lost on the way";

  // Suspended, it moves by its definition alone too: the saved state is on the storage.
  ASSERT_EQ(a.cli({"vm", "suspend", "s1"}).code, 0);
  auto cold = a.cli({"--json", "vm", "migrate", "s1", "--to", "b"});
  ASSERT_EQ(cold.code, 0) << cold.err;
  EXPECT_EQ(cold.json()["bytes_total"].get<std::uint64_t>(), 0u) << "nothing is copied";
  EXPECT_EQ(a.cli({"vm", "show", "s1"}).code, 3);
  EXPECT_EQ(b.vm("s1")["state"], "suspended");
  EXPECT_EQ(inodeOf(disk), inode);
  EXPECT_TRUE(noCheckFiles(root_ + "/pool"));
  ASSERT_EQ(b.cli({"vm", "resume", "s1"}).code, 0);
  std::string out;
  EXPECT_EQ(guestRun(b, "s1", "echo alive", &out), 0) << out;
  // Deleting the VM deletes its disks, on the shared storage too.
  ASSERT_EQ(b.cli({"vm", "delete", "s1", "--force"}).code, 0);
  EXPECT_FALSE(fs::exists(root_ + "/pool/s1"));
}

}  // namespace
}  // namespace paddock::test
