// The cgroup layer against the real kernel. Each test works under a root group of its own
// ("paddock-test-<random>") that it removes again, and kills every process it starts. The file
// checks are written for both layouts; the v2 implementation is otherwise covered by unit tests on
// a fake tree (tests/unit/cgroups_test.cpp), since the development hosts run v1.
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "common/subprocess.h"
#include "host/cgroups.h"

namespace paddock::host {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kMount = "/sys/fs/cgroup";

std::string randomHex(int digits) {
  static std::mt19937 rng{std::random_device{}()};
  std::string out;
  for (int i = 0; i < digits; ++i) out += "0123456789abcdef"[rng() % 16];
  return out;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// utime + stime of a process, in seconds.
double cpuSeconds(pid_t pid) {
  auto stat = readFile(fmt::format("/proc/{}/stat", pid));
  if (!stat) return -1;
  std::istringstream in(stat->substr(stat->rfind(')') + 2));
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() < 13) return -1;  // fields[0] is field 3 (state): utime is 14, stime 15
  return static_cast<double>(std::stoull(fields[11]) + std::stoull(fields[12])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The value of a "Key:\tvalue" line in /proc/<pid>/task/<tid>/status.
std::string taskStatus(pid_t pid, pid_t tid, const std::string& key) {
  auto text = readFile(fmt::format("/proc/{}/task/{}/status", pid, tid));
  if (!text) return {};
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0)
      return line.substr(line.find_first_not_of(" \t", key.size() + 1));
  return {};
}

struct SchedAttr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
};

uint64_t schedRuntime(pid_t tid) {
  SchedAttr attr{};
  if (syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0) return 0;
  return attr.runtime;
}

CpuLimits cpuLimits(int shares, double limitCpus, std::vector<int> cpus = {},
                    bool latencyHigh = false) {
  CpuLimits l;
  l.shares = shares;
  l.limitCpus = limitCpus;
  l.cpus = std::move(cpus);
  l.latencyHigh = latencyHigh;
  return l;
}

class CgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: cgroup tests need root (they create cgroups)";
    root_ = "paddock-test-" + randomHex(8);
    auto cg = makeCgroups(root_, kMount);
    if (!cg) GTEST_SKIP() << "SKIPPED: no usable cgroups on this host: " << cg.error().message;
    cg_ = std::move(cg).value();
  }

  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      int status;
      waitpid(pid, &status, 0);
    }
    if (!cg_) return;
    for (const auto& vm : cg_->listGroups()) {
      auto st = cg_->removeGroup(vm);
      EXPECT_TRUE(st.ok()) << st.error().message;
    }
    auto st = cg_->removeRoot();
    EXPECT_TRUE(st.ok()) << st.error().message;
    for (const auto& dir : rootDirs()) EXPECT_FALSE(pathExists(dir)) << dir << " left behind";
  }

  bool v1() const { return cg_->version() == "v1"; }

  std::vector<std::string> rootDirs() const {
    if (!v1()) return {fmt::format("{}/{}", kMount, root_)};
    std::vector<std::string> out;
    for (const char* ctl : {"cpu", "cpuacct", "cpuset", "memory"})
      out.push_back(fmt::format("{}/{}/{}", kMount, ctl, root_));
    return out;
  }

  // A control file of a group below the root; `ctl` picks the v1 hierarchy.
  std::string control(const std::string& ctl, const std::string& rel, const std::string& file) {
    std::string dir = v1() ? fmt::format("{}/{}/{}", kMount, ctl, root_) : kMount + "/" + root_;
    auto text = readFile(fmt::format("{}/{}/{}", dir, rel, file));
    EXPECT_TRUE(text.ok()) << (text.ok() ? "" : text.error().message);
    return text.ok() ? trimmed(*text) : "";
  }

  pid_t spawn(const std::vector<std::string>& argv) {
    auto pid = spawnDetached(argv, "/dev/null");
    EXPECT_TRUE(pid.ok()) << (pid.ok() ? "" : pid.error().message);
    if (!pid.ok()) return -1;
    children_.push_back(*pid);
    return *pid;
  }

  // A child process with a second thread, like QEMU's vCPU threads; returns {pid, tid}.
  std::pair<pid_t, pid_t> spawnThreaded() {
    int fds[2];
    if (pipe(fds) != 0) return {-1, -1};
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      pthread_t thread;
      pthread_create(
          &thread, nullptr,
          [](void* fd) -> void* {
            pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
            (void)!::write(*static_cast<int*>(fd), &tid, sizeof tid);
            for (;;) pause();
          },
          &fds[1]);
      for (;;) pause();
    }
    close(fds[1]);
    children_.push_back(pid);
    pid_t tid = -1;
    if (::read(fds[0], &tid, sizeof tid) != sizeof tid) tid = -1;
    close(fds[0]);
    return {pid, tid};
  }

  void killChild(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    std::erase(children_, pid);
  }

  std::string root_;
  std::unique_ptr<Cgroups> cg_;
  std::vector<pid_t> children_;
};

TEST_F(CgroupsTest, CreatingAndRemovingAGroupAreIdempotent) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  for (const auto& dir : rootDirs()) EXPECT_TRUE(pathExists(dir + "/web")) << dir;
  if (v1()) {
    EXPECT_NE(control("cpuset", "web", "cpuset.mems"), "");
  }
  EXPECT_THAT(cg_->listGroups(), UnorderedElementsAre("web"));

  ASSERT_TRUE(cg_->removeGroup("web").ok());
  ASSERT_TRUE(cg_->removeGroup("web").ok());
  for (const auto& dir : rootDirs()) EXPECT_FALSE(pathExists(dir + "/web")) << dir;
  EXPECT_THAT(cg_->listGroups(), IsEmpty());
}

TEST_F(CgroupsTest, SharesCapAndMemoryLandInTheControlFiles) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->setCpu("web", cpuLimits(2000, 0.5)).ok());
  ASSERT_TRUE(cg_->setMemory("web", MemoryLimits{256ull << 20}).ok());
  if (v1()) {
    EXPECT_EQ(control("cpu", "web", "cpu.shares"), "2048");
    EXPECT_EQ(control("cpu", "web", "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(control("cpu", "web", "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(control("memory", "web", "memory.limit_in_bytes"), "268435456");
  } else {
    EXPECT_EQ(control("", "web", "cpu.weight"), "200");
    EXPECT_EQ(control("", "web", "cpu.max"), "50000 100000");
    EXPECT_EQ(control("", "web", "memory.max"), "268435456");
  }

  ASSERT_TRUE(cg_->setCpu("web", cpuLimits(0, 0.5, {}, true)).ok());
  if (v1()) {
    EXPECT_EQ(control("cpu", "web", "cpu.shares"), "1024");
    EXPECT_EQ(control("cpu", "web", "cpu.cfs_period_us"), "10000");
    EXPECT_EQ(control("cpu", "web", "cpu.cfs_quota_us"), "5000");
  } else {
    EXPECT_EQ(control("", "web", "cpu.max"), "5000 10000");
  }

  ASSERT_TRUE(cg_->setCpu("web", CpuLimits{}).ok());
  ASSERT_TRUE(cg_->setMemory("web", MemoryLimits{}).ok());
  if (v1()) {
    EXPECT_EQ(control("cpu", "web", "cpu.cfs_quota_us"), "-1");
    EXPECT_EQ(control("memory", "web", "memory.limit_in_bytes"), "9223372036854771712");
  } else {
    EXPECT_EQ(control("", "web", "cpu.max"), "max 100000");
    EXPECT_EQ(control("", "web", "memory.max"), "max");
  }
}

TEST_F(CgroupsTest, ValuesTheHostCannotHonourAreRefusedNamingTheField) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  unsigned cpus = std::thread::hardware_concurrency();
  auto tooMany = cg_->setCpu("web", cpuLimits(0, cpus + 1.0));
  ASSERT_FALSE(tooMany.ok());
  EXPECT_EQ(tooMany.error().field, "limit");
  EXPECT_THAT(tooMany.error().message, HasSubstr(fmt::format("{} CPUs", cpus)));
  auto noSuchCpu = cg_->setCpu("web", cpuLimits(0, 0, {static_cast<int>(cpus) + 3}));
  ASSERT_FALSE(noSuchCpu.ok());
  EXPECT_EQ(noSuchCpu.error().field, "cpus");
  auto shares = cg_->setCpu("web", cpuLimits(-5, 0));
  ASSERT_FALSE(shares.ok());
  EXPECT_EQ(shares.error().field, "shares");
  auto noProcess = cg_->addProcess("web", 999999999);
  ASSERT_FALSE(noProcess.ok());
  EXPECT_EQ(noProcess.error().code, Errc::not_found);
}

TEST_F(CgroupsTest, AQuarterCpuCapHoldsABusyProcessToAQuarter) {
  ASSERT_TRUE(cg_->ensureGroup("busy").ok());
  ASSERT_TRUE(cg_->setCpu("busy", cpuLimits(0, 0.25)).ok());
  // v1 charges memory where it was allocated, so the loop starts (exec) after the move.
  pid_t pid = spawn({"sh", "-c", "sleep 0.2; exec sh -c 'while :; do :; done'"});
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(cg_->addProcess("busy", pid).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  double before = cpuSeconds(pid);
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  double used = cpuSeconds(pid) - before;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(used, 0.0);
  EXPECT_LE(used / wall, 0.30) << used << " CPU seconds in " << wall << " s";
  std::cout << "busy process used " << used / wall * 100 << " % of a CPU\n";

  auto usage = cg_->usage("busy");
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_GT(usage->cpuNs, 300'000'000u);  // the ~0.8 s it ran
  EXPECT_GT(usage->throttledNs, 0u);
  EXPECT_GT(usage->memoryBytes, 0u);
}

TEST_F(CgroupsTest, AddThreadPinsOnlyThatThread) {
  if (std::thread::hardware_concurrency() < 2)
    GTEST_SKIP() << "SKIPPED: pinning to CPU 1 needs a host with 2 CPUs or more";
  auto [pid, tid] = spawnThreaded();
  ASSERT_GT(pid, 0);
  ASSERT_GT(tid, 0);
  std::string allCpus = taskStatus(pid, pid, "Cpus_allowed_list");
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->addProcess("web", pid).ok());
  ASSERT_TRUE(cg_->addThread("web", "vcpu0", tid, cpuLimits(0, 0, {1})).ok());
  ASSERT_TRUE(cg_->addThread("web", "vcpu0", tid, cpuLimits(0, 0, {1})).ok());

  EXPECT_EQ(taskStatus(pid, tid, "Cpus_allowed_list"), "1");
  EXPECT_EQ(taskStatus(pid, pid, "Cpus_allowed_list"), allCpus);
  if (v1()) {
    EXPECT_EQ(control("cpuset", "web/vcpu0", "tasks"), std::to_string(tid));
  }

  auto blocked = cg_->removeGroup("web");
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, Errc::conflict);
  EXPECT_THAT(blocked.error().message, HasSubstr(std::to_string(tid)));
  killChild(pid);
  EXPECT_TRUE(cg_->removeGroup("web").ok());
}

TEST_F(CgroupsTest, OnV1ASubGroupMustStayWithinItsVmGroupsCapAndCpus) {
  if (!v1()) GTEST_SKIP() << "SKIPPED: cgroup v2 allows sub-group caps above the parent's";
  if (std::thread::hardware_concurrency() < 2)
    GTEST_SKIP() << "SKIPPED: needs a host with 2 CPUs or more";
  auto [pid, tid] = spawnThreaded();
  ASSERT_GT(tid, 0);
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->setCpu("web", cpuLimits(0, 0.5)).ok());
  auto cap = cg_->addThread("web", "vcpu0", tid, cpuLimits(0, 1));
  ASSERT_FALSE(cap.ok());
  EXPECT_EQ(cap.error().field, "limit");
  EXPECT_THAT(cap.error().message, HasSubstr("at most its VM group's"));

  ASSERT_TRUE(cg_->addThread("web", "vcpu0", tid, cpuLimits(0, 0.25, {1})).ok());
  auto narrow = cg_->setCpu("web", cpuLimits(0, 0.5, {0}));
  ASSERT_FALSE(narrow.ok());
  EXPECT_EQ(narrow.error().code, Errc::conflict);
  EXPECT_EQ(narrow.error().field, "cpus");
  EXPECT_THAT(narrow.error().message, HasSubstr("change the sub-groups first"));
  EXPECT_EQ(taskStatus(pid, tid, "Cpus_allowed_list"), "1");
}

TEST_F(CgroupsTest, RemoveGroupRefusesWhileAProcessIsInItThenCleansUp) {
  pid_t pid = spawn({"sleep", "600"});
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->addProcess("web", pid).ok());
  auto blocked = cg_->removeGroup("web");
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, Errc::conflict);
  EXPECT_THAT(blocked.error().message, HasSubstr(std::to_string(pid)));
  for (const auto& dir : rootDirs()) EXPECT_TRUE(pathExists(dir + "/web")) << dir;

  killChild(pid);
  ASSERT_TRUE(cg_->removeGroup("web").ok());
  for (const auto& dir : rootDirs()) EXPECT_FALSE(pathExists(dir + "/web")) << dir;
}

TEST_F(CgroupsTest, ANewInstanceFindsTheGroupsLeftBehind) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->ensureGroup("db").ok());
  auto again = makeCgroups(root_, kMount);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_THAT((*again)->listGroups(), UnorderedElementsAre("db", "web"));
  EXPECT_EQ((*again)->removeRoot().error().code, Errc::conflict);
  for (const auto& vm : (*again)->listGroups()) ASSERT_TRUE((*again)->removeGroup(vm).ok());
  EXPECT_TRUE((*again)->removeRoot().ok());
  for (const auto& dir : rootDirs()) EXPECT_FALSE(pathExists(dir)) << dir;
}

TEST_F(CgroupsTest, LatencyHighSetsAndClearsAShortSliceOnAThread) {
  auto [pid, tid] = spawnThreaded();
  ASSERT_GT(tid, 0);
  uint64_t before = schedRuntime(tid);
  ASSERT_TRUE(setThreadLatencyHigh(tid, true).ok());
  uint64_t during = schedRuntime(tid);
  if (during == before)
    GTEST_SKIP() << "SKIPPED: this kernel ignores slice requests for SCHED_OTHER (before 6.12)";
  EXPECT_EQ(during, 1000000u);
  ASSERT_TRUE(setThreadLatencyHigh(tid, false).ok());
  EXPECT_EQ(schedRuntime(tid), before);
  EXPECT_EQ(setThreadLatencyHigh(999999999, true).error().code, Errc::not_found);
}

}  // namespace
}  // namespace paddock::host
