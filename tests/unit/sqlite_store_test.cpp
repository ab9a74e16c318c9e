// The embedded store against a real SQLite file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/sqlite/sqlite_store.h"

namespace paddock {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/paddock-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/paddock.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<SqliteStore> open() {
    auto s = SqliteStore::open(path_);
    EXPECT_TRUE(s.ok()) << s.error().message;
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

TEST_F(SqliteStoreTest, SchemaIsVersionedAndUsesWal) {
  auto s = open();
  EXPECT_EQ(s->schemaVersion(), 3);
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(SqliteStoreTest, ObjectsAreKeyedByKindAndNameAndSurviveReopening) {
  {
    auto s = open();
    ASSERT_TRUE(s->createObject("template", "a", {{"name", "a"}, {"n", 1}}).ok());
    ASSERT_TRUE(s->createObject("template", "b", {{"name", "b"}}).ok());
    ASSERT_TRUE(s->createObject("custom", "a", {{"name", "other kind"}}).ok());
    auto dup = s->createObject("template", "a", nlohmann::json::object());
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, Errc::conflict);
    ASSERT_TRUE(s->updateObject("template", "a", {{"name", "a"}, {"n", 2}}).ok());
    auto missing = s->updateObject("template", "zz", nlohmann::json::object());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, Errc::not_found);
  }
  auto s = open();
  auto a = s->getObject("template", "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)["n"], 2);
  auto all = s->listObjects("template");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0]["name"], "a");
  EXPECT_EQ((*all)[1]["name"], "b");
  ASSERT_TRUE(s->deleteObject("template", "a").ok());
  EXPECT_EQ(s->getObject("template", "a").error().code, Errc::not_found);
  EXPECT_EQ(s->deleteObject("template", "a").error().code, Errc::not_found);
  EXPECT_TRUE(s->getObject("custom", "a").ok()) << "kinds are separate";
}

TEST_F(SqliteStoreTest, VmsSurviveReopeningAndNamesAreUnique) {
  {
    auto s = open();
    ASSERT_TRUE(s->createVm(record("a")).ok());
    auto dup = s->createVm(record("a"));
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, Errc::conflict);
    VmRuntime rt;
    rt.state = VmState::running;
    rt.pid = 42;
    ASSERT_TRUE(s->updateVmRuntime("a", rt).ok());
  }
  auto s = open();
  auto a = s->getVm("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->spec.disks, (std::vector<DiskSpec>{{"root", 64}}));
  EXPECT_EQ(a->runtime.state, VmState::running);
  EXPECT_EQ(a->runtime.pid, 42);
}

TEST_F(SqliteStoreTest, MissingVmsAreNotFound) {
  auto s = open();
  EXPECT_EQ(s->getVm("ghost").error().code, Errc::not_found);
  EXPECT_EQ(s->deleteVm("ghost").error().code, Errc::not_found);
  VmSpec spec;
  spec.name = "ghost";
  EXPECT_EQ(s->updateVmSpec(spec).error().code, Errc::not_found);
}

TEST_F(SqliteStoreTest, EventsGetIncreasingIdsAndReplayAfterAnId) {
  auto s = open();
  int64_t first = 0;
  for (int i = 0; i < 5; ++i) {
    Event e;
    e.type = "vm.state";
    e.object = "vm/a";
    e.data = {{"i", i}};
    auto id = s->appendEvent(e);
    ASSERT_TRUE(id.ok());
    if (i == 0) first = *id;
  }
  auto after = s->listEvents(first + 1, 100);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].data["i"], 2);
}

TEST_F(SqliteStoreTest, SettingsRoundTrip) {
  auto s = open();
  EXPECT_FALSE(s->getSetting("k")->has_value());
  ASSERT_TRUE(s->setSetting("k", "v1").ok());
  ASSERT_TRUE(s->setSetting("k", "v2").ok());
  EXPECT_EQ(**s->getSetting("k"), "v2");
}

}  // namespace
}  // namespace paddock
