#include "common/trash.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace paddock {
namespace {

namespace fs = std::filesystem;

class TrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/paddock-trash-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  // A folder with a file of `bytes` bytes in it.
  std::string folder(const std::string& parent, const std::string& name, size_t bytes) {
    fs::create_directories(parent + "/" + name);
    std::ofstream(parent + "/" + name + "/root.qcow2") << std::string(bytes, 'x');
    return parent + "/" + name;
  }
  static size_t entries(const std::string& dir) {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
  }

  std::string root_;
};

TEST_F(TrashTest, ADiscardedFolderIsGoneAtOnceAndDeletedAfterwards) {
  std::string vm = folder(root_ + "/disks", "vm1", 1 << 20);
  Trash trash(root_ + "/trash");
  ASSERT_TRUE(trash.discard(vm));
  EXPECT_FALSE(fs::exists(vm));
  trash.drain();
  EXPECT_EQ(entries(root_ + "/trash"), 0u);
  EXPECT_EQ(entries(root_ + "/disks"), 0u);
}

TEST_F(TrashTest, TwoFoldersOfTheSameNameDoNotCollide) {
  Trash trash(root_ + "/trash");
  ASSERT_TRUE(trash.discard(folder(root_ + "/a", "vm", 10)));
  ASSERT_TRUE(trash.discard(folder(root_ + "/b", "vm", 10)));
  EXPECT_FALSE(fs::exists(root_ + "/a/vm"));
  EXPECT_FALSE(fs::exists(root_ + "/b/vm"));
  trash.drain();
  EXPECT_EQ(entries(root_ + "/trash"), 0u);
}

TEST_F(TrashTest, WhatACrashLeftInTheTrashIsDeletedAtTheNextStart) {
  folder(root_ + "/trash", "123-1-vm", 4096);
  Trash trash(root_ + "/trash");
  trash.drain();
  EXPECT_EQ(entries(root_ + "/trash"), 0u);
}

TEST_F(TrashTest, PendingDeletionsFinishWhenTheTrashIsDestroyed) {
  {
    Trash trash(root_ + "/trash");
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(trash.discard(folder(root_ + "/disks", "vm" + std::to_string(i), 1 << 16)));
  }
  EXPECT_EQ(entries(root_ + "/trash"), 0u);
}

TEST_F(TrashTest, AMissingPathIsNoErrorAndAPathOnAnotherFilesystemIsDeletedInPlace) {
  Trash trash(root_ + "/trash");
  EXPECT_TRUE(trash.discard(root_ + "/no-such-folder"));
  // /dev/shm is a tmpfs: a rename from there into the trash fails with EXDEV.
  char tmpl[] = "/dev/shm/paddock-trash-test.XXXXXX";
  if (!mkdtemp(tmpl)) GTEST_SKIP() << "no /dev/shm here to test a second filesystem";
  std::string other = folder(tmpl, "vm", 100);
  EXPECT_TRUE(trash.discard(other));
  EXPECT_FALSE(fs::exists(other));
  EXPECT_EQ(entries(root_ + "/trash"), 0u);
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace paddock
