// The caching store over a real SQLite file: reads come from memory, and what it answers is
// what SQLite holds (checked by reopening the file without the cache).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/caching_store.h"
#include "store/sqlite/sqlite_store.h"

namespace paddock {
namespace {

class CachingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/paddock-cache-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/paddock.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<CachingStore> open() {
    auto inner = SqliteStore::open(path_);
    EXPECT_TRUE(inner.ok()) << inner.error().message;
    auto s = CachingStore::open(std::move(*inner));
    EXPECT_TRUE(s.ok()) << s.error().message;
    return std::move(*s);
  }
  std::unique_ptr<SqliteStore> openUncached() {
    auto s = SqliteStore::open(path_);
    return std::move(*s);
  }
  static VmRecord record(const std::string& name) {
    VmRecord r;
    r.spec.name = name;
    r.spec.image = "tiny";
    r.spec.disks = {{"root", 64}};
    r.createdAtMs = r.updatedAtMs = 1000;
    return r;
  }
  std::string dir_, path_;
};

TEST_F(CachingStoreTest, ItLoadsWhatIsStoredAndWritesThrough) {
  {
    auto s = openUncached();
    ASSERT_TRUE(s->createVm(record("b")).ok());
  }
  auto s = open();
  ASSERT_TRUE(s->createVm(record("a")).ok());
  auto dup = s->createVm(record("b"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict);

  VmSpec spec = record("a").spec;
  spec.memoryMib = 512;
  ASSERT_TRUE(s->updateVmSpec(spec).ok());
  VmRuntime rt;
  rt.state = VmState::running;
  rt.pid = 42;
  ASSERT_TRUE(s->updateVmRuntime("a", rt).ok());

  auto list = s->listVms();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].spec.name, "a");  // in name order, like SQLite's
  EXPECT_EQ((*list)[0].spec.memoryMib, 512u);
  EXPECT_EQ((*list)[0].runtime.pid, 42);

  auto stored = openUncached()->getVm("a");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->spec.memoryMib, 512u);
  EXPECT_EQ(stored->runtime.pid, 42);
  // The timestamp SQLite set on the update is the one the cache answers with.
  EXPECT_EQ(s->getVm("a")->updatedAtMs, stored->updatedAtMs);
  EXPECT_GT(stored->updatedAtMs, 1000);
}

TEST_F(CachingStoreTest, MissingAndDeletedVmsAndNetworksAreNotFound) {
  auto s = open();
  EXPECT_EQ(s->getVm("nope").error().code, Errc::not_found);
  EXPECT_EQ(s->updateVmSpec(record("nope").spec).error().code, Errc::not_found);
  EXPECT_EQ(s->deleteVm("nope").error().code, Errc::not_found);
  ASSERT_TRUE(s->createVm(record("a")).ok());
  ASSERT_TRUE(s->deleteVm("a").ok());
  EXPECT_EQ(s->getVm("a").error().code, Errc::not_found);
  EXPECT_EQ(openUncached()->getVm("a").error().code, Errc::not_found);

  NetworkSpec n;
  n.name = "lan";
  ASSERT_TRUE(s->createNetwork(n).ok());
  EXPECT_EQ(s->createNetwork(n).error().code, Errc::conflict);
  EXPECT_EQ(s->listNetworks()->size(), 1u);
  EXPECT_EQ(openUncached()->getNetwork("lan")->name, "lan");
  ASSERT_TRUE(s->deleteNetwork("lan").ok());
  EXPECT_EQ(s->getNetwork("lan").error().code, Errc::not_found);
  EXPECT_EQ(s->deleteNetwork("lan").error().code, Errc::not_found);
}

}  // namespace
}  // namespace paddock
