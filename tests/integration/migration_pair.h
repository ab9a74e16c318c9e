// Two real paddockd on 127.0.0.1 (TCP, bearer tokens), "a" knowing "b" as a peer, and what the
// migration tests check on them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/subprocess.h"
#include "integration/harness.h"

namespace paddock::test {

namespace fs = std::filesystem;

inline std::string sha256(const std::string& path) {
  auto out = runCommand({"sha256sum", path});
  EXPECT_TRUE(out.ok() && out->exitCode == 0) << path;
  return out.ok() ? out->out.substr(0, 64) : "";
}

inline std::string diskOf(TestDaemon& d, const std::string& vm) {
  return d.stateDir() + "/disks/" + vm + "/root.qcow2";
}

inline void qemuIoWrite(const std::string& disk, const std::string& command) {
  auto wrote = runCommand({"qemu-io", "-f", "qcow2", "-c", command, disk});
  ASSERT_TRUE(wrote.ok() && wrote->exitCode == 0) << (wrote.ok() ? wrote->err : "");
}

// Nothing of an arriving VM is left in the target's state dir.
inline bool noIncoming(TestDaemon& d) {
  std::error_code ec;
  return !fs::exists(d.stateDir() + "/incoming", ec) ||
         fs::is_empty(d.stateDir() + "/incoming", ec);
}

class MigrationPair : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<TestDaemon>(std::vector<std::string>{"--listen", "127.0.0.1:0"});
    b_ = std::make_unique<TestDaemon>(std::vector<std::string>{"--listen", "127.0.0.1:0"});
    addPeer();
  }
  void addPeer() {
    auto added =
        a_->cli({"host", "add", "b", "--address", "127.0.0.1:" + std::to_string(b_->tcpPort()),
                 "--token-file", b_->tokenFile()});
    ASSERT_EQ(added.code, 0) << added.err;
  }
  std::unique_ptr<TestDaemon> a_, b_;
};

}  // namespace paddock::test
