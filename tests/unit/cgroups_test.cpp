// The cgroup layer against fake trees: temporary directories laid out like /sys/fs/cgroup, so
// the tests check which control files get which values. The real kernel is exercised by
// tests/integration/cgroups_test.cpp on whichever layout the host has (v1 on development hosts).
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "host/cgroup_values.h"
#include "host/cgroups.h"

namespace paddock::host {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class FakeTree {
 public:
  FakeTree() {
    std::string tmpl = ::testing::TempDir() + "paddock-cgroup-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
  }
  ~FakeTree() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }

  void put(const std::string& rel, const std::string& content) {
    fs::path p = fs::path(dir_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  std::string get(const std::string& rel) const {
    std::ifstream in(fs::path(dir_) / rel);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  bool isDir(const std::string& rel) const { return fs::is_directory(fs::path(dir_) / rel); }

 private:
  std::string dir_;
};

// A v2 mount as the kernel shows it on a 4-CPU host with nothing delegated yet.
void layOutV2(FakeTree& t) {
  t.put("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  t.put("cgroup.subtree_control", "");
  t.put("cgroup.procs", "1\n");
  t.put("cpuset.cpus.effective", "0-3\n");
  t.put("cpuset.mems.effective", "0\n");
}

// v1 hierarchies as the kernel shows them on a 4-CPU host.
void layOutV1(FakeTree& t) {
  t.put("cpu/cpu.shares", "1024\n");
  t.put("cpu/cpu.cfs_period_us", "100000\n");
  t.put("cpu/cpu.cfs_quota_us", "-1\n");
  t.put("cpuacct/cpuacct.usage", "0\n");
  t.put("cpuset/cpuset.cpus", "0-3\n");
  t.put("cpuset/cpuset.effective_cpus", "0-3\n");
  t.put("cpuset/cpuset.mems", "0\n");
  t.put("memory/memory.limit_in_bytes", "9223372036854771712\n");
}

std::unique_ptr<Cgroups> make(const FakeTree& t, const std::string& root = "paddock-pd1") {
  auto cg = makeCgroups(root, t.dir());
  EXPECT_TRUE(cg.ok()) << (cg.ok() ? "" : cg.error().message);
  return cg.ok() ? std::move(cg).value() : nullptr;
}

Error failure(const Status& st) {
  EXPECT_FALSE(st.ok());
  return st.ok() ? Error{} : st.error();
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

class CgroupV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    layOutV2(tree_);
    cg_ = make(tree_);
    ASSERT_TRUE(cg_);
  }
  FakeTree tree_;
  std::unique_ptr<Cgroups> cg_;
};

TEST_F(CgroupV2Test, DetectedFromCgroupControllersAtTheMount) {
  EXPECT_EQ(cg_->version(), "v2");
  EXPECT_EQ(cg_->rootName(), "paddock-pd1");
}

TEST_F(CgroupV2Test, EnsureGroupEnablesTheControllersOnEveryAncestorAndIsIdempotent) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  EXPECT_TRUE(tree_.isDir("paddock-pd1/web"));
  EXPECT_EQ(tree_.get("cgroup.subtree_control"), "+cpu +cpuset +memory");
  EXPECT_EQ(tree_.get("paddock-pd1/cgroup.subtree_control"), "+cpu +cpuset +memory");
  // What the kernel shows once they are on: nothing more to write.
  tree_.put("cgroup.subtree_control", "cpuset cpu io memory");
  tree_.put("paddock-pd1/cgroup.subtree_control", "cpuset cpu memory");
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  EXPECT_EQ(tree_.get("cgroup.subtree_control"), "cpuset cpu io memory");
  EXPECT_EQ(tree_.get("paddock-pd1/cgroup.subtree_control"), "cpuset cpu memory");
}

TEST_F(CgroupV2Test, EnsureGroupAddsOnlyTheMissingControllers) {
  tree_.put("cgroup.subtree_control", "cpu io memory pids");
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  EXPECT_EQ(tree_.get("cgroup.subtree_control"), "+cpuset");
}

TEST_F(CgroupV2Test, ANestedRootIsCreatedLevelByLevel) {
  auto cg = make(tree_, "paddock.slice/pd1");
  ASSERT_TRUE(cg);
  ASSERT_TRUE(cg->ensureGroup("web").ok());
  EXPECT_TRUE(tree_.isDir("paddock.slice/pd1/web"));
  EXPECT_EQ(tree_.get("paddock.slice/cgroup.subtree_control"), "+cpu +cpuset +memory");
  EXPECT_EQ(tree_.get("paddock.slice/pd1/cgroup.subtree_control"), "+cpu +cpuset +memory");
}

TEST_F(CgroupV2Test, SharesCapAndCpusLandInWeightMaxAndCpuset) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->setCpu("web", cpuLimits(2000, 1.5, {3, 1, 2})).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpu.weight"), "200");
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpu.max"), "150000 100000");
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpuset.cpus"), "1-3");
}

TEST_F(CgroupV2Test, DefaultsMeanWeight100NoCapAndTheParentsCpus) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->setCpu("web", cpuLimits(2000, 1.5, {1})).ok());
  ASSERT_TRUE(cg_->setCpu("web", CpuLimits{}).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpu.weight"), "100");
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpu.max"), "max 100000");
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpuset.cpus"), "\n");
}

TEST_F(CgroupV2Test, LatencyHighKeepsTheFractionOverAShorterPeriod) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->setCpu("web", cpuLimits(0, 0.25, {}, true)).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpu.max"), "2500 10000");
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpu.weight"), "100");
  // The kernel's minimum quota is 1 ms: small caps stretch the period instead.
  ASSERT_TRUE(cg_->setCpu("web", cpuLimits(0, 0.02, {}, true)).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/cpu.max"), "1000 50000");
}

TEST_F(CgroupV2Test, MemoryLimitLandsInMemoryMaxAndTheReservationInMemoryMin) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->setMemory("web", MemoryLimits{512ull << 20, 128ull << 20}).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/memory.max"), "536870912");
  EXPECT_EQ(tree_.get("paddock-pd1/web/memory.min"), "134217728");
  ASSERT_TRUE(cg_->setMemory("web", MemoryLimits{}).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/memory.max"), "max");
  EXPECT_EQ(tree_.get("paddock-pd1/web/memory.min"), "0");
  // A reservation above the limit could never be honoured.
  EXPECT_EQ(cg_->setMemory("web", MemoryLimits{128ull << 20, 512ull << 20}).error().field,
            "memory");
}

TEST_F(CgroupV2Test, AnIoWeightEnablesTheIoControllerAndLandsInIoBfqWeight) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  EXPECT_EQ(tree_.get("cgroup.subtree_control"), "+cpu +cpuset +memory");
  // Without BFQ there is no weight file even with the controller on: unavailable, nothing set.
  EXPECT_EQ(failure(cg_->setIo("web", {500})).code, Errc::unavailable);
  EXPECT_EQ(tree_.get("paddock-pd1/cgroup.subtree_control"), "+io");  // what was written
  tree_.put("paddock-pd1/web/io.bfq.weight", "default 100\n");
  ASSERT_TRUE(cg_->setIo("web", {500}).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/io.bfq.weight"), "500");
  ASSERT_TRUE(cg_->setIo("web", {}).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/io.bfq.weight"), "100");
  EXPECT_EQ(failure(cg_->setIo("web", {1001})).field, "weight");
}

TEST_F(CgroupV2Test, AddProcessWritesItsPidToCgroupProcs) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->addProcess("web", 4242).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/cgroup.procs"), "4242");
}

TEST_F(CgroupV2Test, AddThreadMakesAThreadedSubGroupWithItsOwnLimits) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->addThread("web", "vcpu0", 4243, cpuLimits(500, 1, {2})).ok());
  EXPECT_EQ(tree_.get("paddock-pd1/web/cgroup.subtree_control"), "+cpu +cpuset");
  EXPECT_EQ(tree_.get("paddock-pd1/web/vcpu0/cgroup.type"), "threaded");
  EXPECT_EQ(tree_.get("paddock-pd1/web/vcpu0/cpu.weight"), "50");
  EXPECT_EQ(tree_.get("paddock-pd1/web/vcpu0/cpu.max"), "100000 100000");
  EXPECT_EQ(tree_.get("paddock-pd1/web/vcpu0/cpuset.cpus"), "2");
  EXPECT_EQ(tree_.get("paddock-pd1/web/vcpu0/cgroup.threads"), "4243");
  // No memory in a threaded subtree: memory is a domain controller.
  EXPECT_THAT(tree_.get("paddock-pd1/web/cgroup.subtree_control"),
              ::testing::Not(HasSubstr("memory")));
}

TEST_F(CgroupV2Test, AddThreadRefusesCpusOutsideTheVmsCpuset) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  tree_.put("paddock-pd1/web/cpuset.cpus.effective", "2-3\n");
  auto e = failure(cg_->addThread("web", "vcpu0", 4243, cpuLimits(0, 0, {1})));
  EXPECT_EQ(e.code, Errc::invalid_argument);
  EXPECT_EQ(e.field, "cpus");
  EXPECT_THAT(e.message, HasSubstr("2-3"));
  EXPECT_FALSE(tree_.isDir("paddock-pd1/web/vcpu0"));
}

TEST_F(CgroupV2Test, UsageReadsCpuStatAndMemoryCurrentIncludingSubGroups) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->addThread("web", "vcpu0", 4243, CpuLimits{}).ok());
  tree_.put("paddock-pd1/web/cpu.stat",
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 9\nnr_throttled 2\n"
            "throttled_usec 20\n");
  tree_.put("paddock-pd1/web/vcpu0/cpu.stat", "usage_usec 700\nthrottled_usec 5\n");
  tree_.put("paddock-pd1/web/memory.current", "123456\n");
  auto u = cg_->usage("web");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->cpuNs, 1500000u);
  EXPECT_EQ(u->throttledNs, 25000u);
  EXPECT_EQ(u->memoryBytes, 123456u);
}

TEST_F(CgroupV2Test, RemoveGroupRefusesAGroupWithTasksThenRemovesItIdempotently) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->addProcess("web", 4242).ok());
  ASSERT_TRUE(cg_->addThread("web", "vcpu0", 4243, CpuLimits{}).ok());
  auto e = failure(cg_->removeGroup("web"));
  EXPECT_EQ(e.code, Errc::conflict);
  EXPECT_THAT(e.message, HasSubstr("4242, 4243"));
  EXPECT_TRUE(tree_.isDir("paddock-pd1/web/vcpu0"));

  tree_.put("paddock-pd1/web/cgroup.procs", "");
  tree_.put("paddock-pd1/web/vcpu0/cgroup.threads", "");
  EXPECT_TRUE(cg_->removeGroup("web").ok());
  EXPECT_FALSE(tree_.isDir("paddock-pd1/web"));
  EXPECT_TRUE(cg_->removeGroup("web").ok());
}

TEST_F(CgroupV2Test, ListGroupsFindsLeftoversAndRemoveRootWaitsForThem) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  ASSERT_TRUE(cg_->ensureGroup("db").ok());
  auto again = make(tree_);
  ASSERT_TRUE(again);
  EXPECT_THAT(again->listGroups(), ElementsAre("db", "web"));
  EXPECT_EQ(failure(again->removeRoot()).code, Errc::conflict);
  ASSERT_TRUE(again->removeGroup("db").ok());
  ASSERT_TRUE(again->removeGroup("web").ok());
  EXPECT_THAT(again->listGroups(), IsEmpty());
  EXPECT_TRUE(again->removeRoot().ok());
  EXPECT_FALSE(tree_.isDir("paddock-pd1"));
  EXPECT_TRUE(again->removeRoot().ok());
}

TEST_F(CgroupV2Test, BadValuesAreRefusedNamingTheFieldAndWriteNothing) {
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  struct Case {
    CpuLimits limits;
    std::string field;
  } cases[] = {
      {cpuLimits(-1, 0), "shares"},    {cpuLimits(kMaxShares + 1, 0), "shares"},
      {cpuLimits(0, 4.5), "limit"},    {cpuLimits(0, -1), "limit"},
      {cpuLimits(0, 0.001), "limit"},  {cpuLimits(0, 0, {0, 4}), "cpus"},
      {cpuLimits(0, 0, {-1}), "cpus"},
  };
  for (const auto& c : cases) {
    auto e = failure(cg_->setCpu("web", c.limits));
    EXPECT_EQ(e.code, Errc::invalid_argument) << e.message;
    EXPECT_EQ(e.field, c.field) << e.message;
  }
  EXPECT_FALSE(fs::exists(tree_.dir() + "/paddock-pd1/web/cpu.weight"));
  EXPECT_THAT(failure(cg_->setCpu("web", cpuLimits(0, 4.5))).message, HasSubstr("4 CPUs"));
}

TEST_F(CgroupV2Test, BadNamesAndIdsAreRefused) {
  EXPECT_EQ(failure(cg_->ensureGroup("../etc")).field, "vm");
  EXPECT_EQ(failure(cg_->ensureGroup("cpu.max")).field, "vm");
  EXPECT_EQ(failure(cg_->ensureGroup("")).field, "vm");
  ASSERT_TRUE(cg_->ensureGroup("web").ok());
  EXPECT_EQ(failure(cg_->addThread("web", "a/b", 1, CpuLimits{})).field, "sub");
  EXPECT_EQ(failure(cg_->addThread("web", "vcpu0", 0, CpuLimits{})).field, "tid");
  EXPECT_EQ(failure(cg_->addProcess("web", -3)).field, "pid");
  auto root = makeCgroups("../x", tree_.dir());
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.error().code, Errc::invalid_argument);
}

TEST_F(CgroupV2Test, OperationsOnAGroupNotEnsuredSayWhatIsMissing) {
  auto e = failure(cg_->setCpu("web", CpuLimits{}));
  EXPECT_EQ(e.code, Errc::not_found);
  EXPECT_THAT(e.message, HasSubstr("ensureGroup"));
  EXPECT_EQ(failure(cg_->addProcess("web", 1)).code, Errc::not_found);
  EXPECT_FALSE(cg_->usage("web").ok());
  EXPECT_TRUE(cg_->removeGroup("web").ok());
}

TEST(CgroupV2Detection, MissingControllersMakeItUnavailableNamingThem) {
  FakeTree t;
  layOutV2(t);
  t.put("cgroup.controllers", "cpu io memory pids\n");
  auto cg = makeCgroups("paddock-pd1", t.dir());
  ASSERT_FALSE(cg.ok());
  EXPECT_EQ(cg.error().code, Errc::unavailable);
  EXPECT_THAT(cg.error().message, HasSubstr("cpuset"));
}

TEST(CgroupDetection, NeitherLayoutIsUnavailableWithTheReason) {
  FakeTree t;
  t.put("cpu/cpu.shares", "1024\n");
  auto cg = makeCgroups("paddock-pd1", t.dir());
  ASSERT_FALSE(cg.ok());
  EXPECT_EQ(cg.error().code, Errc::unavailable);
  EXPECT_THAT(cg.error().message, HasSubstr("cpuacct, cpuset, memory"));
  EXPECT_THAT(cg.error().message, HasSubstr("cgroup.controllers"));
}

TEST(CgroupV1Fake, DetectedWithoutCgroupControllersAndSeedsNewCpusets) {
  FakeTree t;
  layOutV1(t);
  auto cg = make(t);
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->version(), "v1");
  ASSERT_TRUE(cg->ensureGroup("web").ok());
  for (const char* ctl : {"cpu", "cpuacct", "cpuset", "memory"})
    EXPECT_TRUE(t.isDir(std::string(ctl) + "/paddock-pd1/web")) << ctl;
  EXPECT_EQ(t.get("cpuset/paddock-pd1/cpuset.mems"), "0");
  EXPECT_EQ(t.get("cpuset/paddock-pd1/web/cpuset.mems"), "0");
  EXPECT_EQ(t.get("cpuset/paddock-pd1/web/cpuset.cpus"), "0-3");
}

TEST(CgroupV1Fake, SharesCapCpusAndMemoryLandInTheV1Files) {
  FakeTree t;
  layOutV1(t);
  auto cg = make(t);
  ASSERT_TRUE(cg);
  ASSERT_TRUE(cg->ensureGroup("web").ok());
  ASSERT_TRUE(cg->setCpu("web", cpuLimits(2000, 0.5, {2, 3}, true)).ok());
  EXPECT_EQ(t.get("cpu/paddock-pd1/web/cpu.shares"), "2048");
  EXPECT_EQ(t.get("cpu/paddock-pd1/web/cpu.cfs_period_us"), "10000");
  EXPECT_EQ(t.get("cpu/paddock-pd1/web/cpu.cfs_quota_us"), "5000");
  EXPECT_EQ(t.get("cpuset/paddock-pd1/web/cpuset.cpus"), "2-3");
  ASSERT_TRUE(cg->setMemory("web", MemoryLimits{1ull << 30}).ok());
  EXPECT_EQ(t.get("memory/paddock-pd1/web/memory.limit_in_bytes"), "1073741824");
  ASSERT_TRUE(cg->setMemory("web", MemoryLimits{}).ok());
  EXPECT_EQ(t.get("memory/paddock-pd1/web/memory.limit_in_bytes"), "-1");
}

TEST(CgroupV1Fake, IoWeightsNeedTheBlkioHierarchyAndBfq) {
  FakeTree without;
  layOutV1(without);
  auto cg = make(without);
  ASSERT_TRUE(cg);
  ASSERT_TRUE(cg->ensureGroup("web").ok());
  EXPECT_THAT(failure(cg->setIo("web", {300})).message, HasSubstr("no blkio"));

  FakeTree with;
  layOutV1(with);
  with.put("blkio/blkio.reset_stats", "");
  cg = make(with);
  ASSERT_TRUE(cg);
  ASSERT_TRUE(cg->ensureGroup("web").ok());
  EXPECT_TRUE(with.isDir("blkio/paddock-pd1/web"));
  EXPECT_THAT(failure(cg->setIo("web", {300})).message, HasSubstr("bfq"));
  with.put("blkio/paddock-pd1/web/blkio.bfq.weight", "100\n");
  ASSERT_TRUE(cg->setIo("web", {300}).ok());
  EXPECT_EQ(with.get("blkio/paddock-pd1/web/blkio.bfq.weight"), "300");
  ASSERT_TRUE(cg->addProcess("web", 4242).ok());
  EXPECT_EQ(with.get("blkio/paddock-pd1/web/cgroup.procs"), "4242");
}

TEST(CgroupValues, SharesMapLinearlyAroundTheDefault) {
  EXPECT_EQ(v1CpuShares(0), 1024);
  EXPECT_EQ(v1CpuShares(1000), 1024);
  EXPECT_EQ(v1CpuShares(500), 512);
  EXPECT_EQ(v1CpuShares(1), 2);
  EXPECT_EQ(v1CpuShares(kMaxShares), 102400);
  EXPECT_EQ(v2CpuWeight(0), 100);
  EXPECT_EQ(v2CpuWeight(1), 1);
  EXPECT_EQ(v2CpuWeight(250), 25);
  EXPECT_EQ(v2CpuWeight(kMaxShares), 10000);
}

TEST(CgroupValues, CpuListsRoundTripInTheKernelFormat) {
  auto cpus = parseCpuList("0-3,8,10-11\n");
  ASSERT_TRUE(cpus);
  EXPECT_EQ(cpus->size(), 7u);
  EXPECT_EQ(formatCpuList(*cpus), "0-3,8,10-11");
  EXPECT_EQ(formatCpuList({}), "");
  EXPECT_TRUE(parseCpuList("")->empty());
  EXPECT_FALSE(parseCpuList("3-1"));
  EXPECT_FALSE(parseCpuList("a"));
  EXPECT_FALSE(parseCpuList("1,,2"));
}

}  // namespace
}  // namespace paddock::host
