// Metric names, durations, the /proc readers on a fake tree, and the history store's rollups on
// real SQLite with made-up clocks.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <sqlite3.h>

#include <gtest/gtest.h>

#include "common/files.h"
#include "common/process_probe.h"
#include "common/procfs.h"
#include "model/metrics.h"
#include "store/metrics_chunk.h"
#include "store/metrics_store.h"

namespace paddock {
namespace {

namespace fs = std::filesystem;

std::string tempDir() {
  char path[] = "/tmp/paddock-metrics-XXXXXX";
  return mkdtemp(path);
}

TEST(Metrics, DurationsParseAndGarbageNamesTheField) {
  EXPECT_EQ(*parseDuration("90s", "since"), 90000);
  EXPECT_EQ(*parseDuration("1h30m", "since"), 5400000);
  EXPECT_EQ(*parseDuration("7d", "since"), 7 * 86400000LL);
  for (const char* bad : {"", "1", "h", "1x", "-1h", "0s", "1h ", "99999999999d"}) {
    auto d = parseDuration(bad, "since");
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.error().field, "since");
  }
}

TEST(Metrics, NamesAreCheckedPerScope) {
  EXPECT_TRUE(validateMetricName("cpu_percent", false, "metric").ok());
  EXPECT_TRUE(validateMetricName("host_cpu_percent", true, "metric").ok());
  auto wrongScope = validateMetricName("host_cpu_percent", false, "metric");
  ASSERT_FALSE(wrongScope.ok());
  EXPECT_EQ(wrongScope.error().field, "metric");
  EXPECT_NE(wrongScope.error().message.find("cpu_percent"), std::string::npos);
  EXPECT_FALSE(validateMetricName("cpu", false, "metric").ok());
}

TEST(Metrics, TheFinestResolutionThatReachesBackIsChosen) {
  EXPECT_EQ(resolutionFor(3600 * 1000LL), 0);
  EXPECT_EQ(resolutionFor(6 * 3600 * 1000LL), 300000);
  EXPECT_EQ(resolutionFor(7 * 86400 * 1000LL), 3600000);
  EXPECT_EQ(resolutionFor(200 * 86400 * 1000LL), 86400000);
}

TEST(ProcReader, ReadsWaitRssHostAndKsmFromAFakeTree) {
  std::string root = tempDir();
  fs::create_directories(root + "/proc/42/task/43");
  fs::create_directories(root + "/proc/pressure");
  fs::create_directories(root + "/sys/kernel/mm/ksm");
  ASSERT_TRUE(writeFileAtomic(root + "/proc/42/task/43/schedstat", "1000 2500 7\n").ok());
  ASSERT_TRUE(writeFileAtomic(root + "/proc/42/statm", "9000 512 100 1 0 300 0\n").ok());
  ASSERT_TRUE(writeFileAtomic(root + "/proc/42/ksm_merging_pages", "17\n").ok());
  ASSERT_TRUE(
      writeFileAtomic(root + "/proc/stat", "cpu  10 0 10 70 10 0 0 0 0 0\ncpu0 1 2 3 4\n").ok());
  ASSERT_TRUE(writeFileAtomic(root + "/proc/meminfo",
                              "MemTotal:  1000 kB\nMemFree: 10 kB\nMemAvailable:  600 kB\n")
                  .ok());
  ASSERT_TRUE(writeFileAtomic(root + "/proc/pressure/cpu",
                              "some avg10=12.50 avg60=1.00 avg300=0.00 total=5\n"
                              "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
                  .ok());
  for (auto [f, v] : {std::pair{"run", "1\n"}, std::pair{"pages_shared", "5\n"},
                      std::pair{"pages_sharing", "20\n"}})
    ASSERT_TRUE(writeFileAtomic(root + "/sys/kernel/mm/ksm/" + f, v).ok());

  ProcReader proc{root};
  ProcessProbe probe(42, {43}, root);
  auto vcpu = probe.thread(0);
  ASSERT_TRUE(vcpu.ok()) << vcpu.error().message;
  EXPECT_EQ(vcpu->runNs, 1000u);
  EXPECT_EQ(vcpu->waitNs, 2500u);
  EXPECT_EQ(*proc.rssBytes(42), 512u * static_cast<std::uint64_t>(getpagesize()));
  EXPECT_EQ(*proc.ksmMergingPages(42), 17u);
  auto cpu = proc.hostCpu();
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(cpu->total, 100u);
  EXPECT_EQ(cpu->busy, 20u);  // idle and iowait are not busy
  auto mem = proc.hostMemory();
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ(mem->availableBytes, 600u * 1024);
  EXPECT_DOUBLE_EQ(*proc.pressure("cpu"), 12.5);
  auto ksm = proc.ksm();
  ASSERT_TRUE(ksm.ok());
  EXPECT_TRUE(ksm->running);
  EXPECT_EQ(ksm->pagesSharing, 20u);
  // A process that is gone, and a kernel without PSI, are not_found.
  EXPECT_EQ(proc.rssBytes(7).error().code, Errc::not_found);
  EXPECT_EQ(proc.pressure("io").error().code, Errc::not_found);
  fs::remove_all(root);
}

std::shared_ptr<const LiveSnapshot> round(std::int64_t tsMs, std::vector<LiveReading> host,
                                          std::vector<LiveVm> vms) {
  auto s = std::make_shared<LiveSnapshot>();
  s->tsMs = tsMs;
  s->host = std::move(host);
  s->vms = std::move(vms);
  return s;
}

class MetricsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tempDir();
    auto s = MetricsStore::open(dir_ + "/metrics.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<MetricsStore> store_;
};

TEST_F(MetricsStoreTest, RollupsAverageFinishedBucketsAndRetentionBoundsEachLevel) {
  // Two hours of samples every 10 s, for one VM metric with two disks, starting at a day's start.
  const std::int64_t t0 = 1700006400000;  // a multiple of one day
  const std::int64_t step = 10000;
  for (std::int64_t t = t0; t < t0 + 2 * 3600000; t += step) {
    double v = static_cast<double>((t - t0) / 300000);  // the 5-minute bucket's number
    LiveVm a{"a", VmState::running, true, t, {}};
    a.readings = {{"disk_read_bytes_per_second", "root", v},
                  {"disk_read_bytes_per_second", "data", 2 * v}};
    ASSERT_TRUE(store_->append(round(t, {}, {a})).ok());
  }
  std::int64_t now = t0 + 2 * 3600000;
  ASSERT_TRUE(store_->maintain(now).ok());
  auto counts = store_->pointCounts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)[0], 2 * 360);        // raw: only the last hour, per series
  EXPECT_EQ((*counts)[300000], 2 * 24);    // 5-minute buckets of two hours
  EXPECT_EQ((*counts)[3600000], 2 * 2);    // 1-hour buckets
  EXPECT_EQ(counts->count(86400000), 0u);  // the day is not over

  auto fiveMin = store_->query("vm/a", "disk_read_bytes_per_second", t0, 300000);
  ASSERT_TRUE(fiveMin.ok());
  ASSERT_EQ(fiveMin->size(), 2u);
  const MetricSeries& data = (*fiveMin)[0];  // "disk=data" sorts first
  EXPECT_EQ(data.labels, "disk=data");
  ASSERT_EQ(data.points.size(), 24u);
  EXPECT_EQ(data.points[3].first, t0 + 3 * 300000);
  EXPECT_DOUBLE_EQ(data.points[3].second, 6.0);
  auto hours = store_->query("vm/a", "", t0, 3600000);
  ASSERT_TRUE(hours.ok());
  EXPECT_DOUBLE_EQ((*hours)[1].points[0].second, 5.5);  // mean of buckets 0..11 of "root"

  // Maintaining again changes nothing; a day later raw and 5-minute points are gone and the day
  // has its average.
  ASSERT_TRUE(store_->maintain(now).ok());
  EXPECT_EQ(*store_->pointCounts(), *counts);
  ASSERT_TRUE(store_->maintain(t0 + 86400000 + 2 * 3600000).ok());
  counts = store_->pointCounts();
  EXPECT_EQ(counts->count(0), 0u);
  EXPECT_EQ(counts->count(300000), 0u);
  EXPECT_EQ((*counts)[3600000], 2 * 2);
  EXPECT_EQ((*counts)[86400000], 2);
}

TEST_F(MetricsStoreTest, HistoryIsThereAfterReopening) {
  ASSERT_TRUE(store_->append(round(1000, {{"host_cpu_percent", "", 42}}, {})).ok());
  store_.reset();
  auto again = MetricsStore::open(dir_ + "/metrics.db");
  ASSERT_TRUE(again.ok());
  auto series = (*again)->query("host", "host_cpu_percent", 0, 0);
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ(series->front().points, (std::vector<std::pair<std::int64_t, double>>{{1000, 42}}));
}

TEST(MetricsChunk, PointsRoundTripInTimeOrderAndATornTailIsIgnored) {
  const std::int64_t start = rawChunkStart(1700000012345);
  EXPECT_EQ(start, 1699999980000);  // 28333333 whole minutes
  EXPECT_EQ(rawChunkStart(-1), -kRawChunkMs);
  EXPECT_EQ(rawChunkStart(kRawChunkMs), kRawChunkMs);
  std::string blob;
  appendRawPoint(blob, start, start + 59999, -0.0);
  appendRawPoint(blob, start, start, 1e300);
  appendRawPoint(blob, start, start + 1, 0.125);
  ASSERT_EQ(blob.size(), 3 * kRawPointBytes);
  auto points = decodeRawChunk(start, blob + "xyz");  // a torn tail is ignored
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0], (std::pair<std::int64_t, double>{start, 1e300}));  // ordered by time
  EXPECT_EQ(points[1], (std::pair<std::int64_t, double>{start + 1, 0.125}));
  EXPECT_EQ(points[2].first, start + 59999);
  EXPECT_TRUE(std::signbit(points[2].second));
}

TEST_F(MetricsStoreTest, PointsFlushedInPiecesOfOneMinuteAllComeBack) {
  // A read flushes the pending points of the current minute; later points of the same minute
  // are appended to the chunk already on disk, also across a reopening. Values with zero bytes
  // and bytes that are not UTF-8 test that the chunk stays binary.
  const std::int64_t t0 = 1700000080000;  // 40 s into a minute
  std::vector<std::pair<std::int64_t, double>> want;
  auto add = [&](std::int64_t t, double v) {
    ASSERT_TRUE(store_->append(round(t, {{"host_cpu_percent", "", v}}, {})).ok());
    want.emplace_back(t, v);
  };
  add(t0, 0.0);
  add(t0 + 1000, -1.5e-300);
  ASSERT_TRUE(store_->query("host", "", 0, 0).ok());  // flushes
  add(t0 + 2000, 255.0);
  add(t0 + 30000, 3.0);  // the next minute
  store_.reset();
  auto again = MetricsStore::open(dir_ + "/metrics.db");
  ASSERT_TRUE(again.ok());
  store_ = std::move(*again);
  add(t0 + 3000, 4.0);
  auto series = store_->query("host", "host_cpu_percent", 0, 0);
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 1u);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(series->front().points, want);
  EXPECT_EQ(store_->pointCounts()->at(0), 5);
  auto since = store_->query("host", "host_cpu_percent", t0 + 2000, 0);  // inside a chunk
  ASSERT_EQ(since->front().points.size(), 3u);
  EXPECT_EQ(since->front().points.front().first, t0 + 2000);
}

TEST_F(MetricsStoreTest, AMinutesRoundsReachTheFileWhenTheNextMinuteBegins) {
  // Seen through a second connection, without a read or a close that would flush: the rounds
  // of a minute stay in memory until the first round of a later minute arrives, then they are
  // on disk (one chunk row) and the new round is not.
  auto bytesOnDisk = [&]() -> std::int64_t {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir_ + "/metrics.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(length(data)), 0) FROM raw", -1, &st,
                       nullptr);
    std::int64_t bytes = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
      bytes = sqlite3_column_int64(st, 0) * 1000000 + sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return bytes;  // rows × 10^6 + bytes
  };
  const std::int64_t t0 = 1700000080000;  // 40 s into a minute
  for (std::int64_t t = t0; t < t0 + 20000; t += 1000)
    ASSERT_TRUE(store_->append(round(t, {{"host_cpu_percent", "", 1}}, {})).ok());
  EXPECT_EQ(bytesOnDisk(), 0);
  ASSERT_TRUE(store_->append(round(t0 + 20000, {{"host_cpu_percent", "", 2}}, {})).ok());
  EXPECT_EQ(bytesOnDisk(), 1000000 + 20 * static_cast<std::int64_t>(kRawPointBytes));
  ASSERT_TRUE(store_->append(round(t0 + 21000, {{"host_cpu_percent", "", 3}}, {})).ok());
  EXPECT_EQ(bytesOnDisk(), 1000000 + 20 * static_cast<std::int64_t>(kRawPointBytes));
}

TEST(MetricsStoreUpgrade, RawPointsOfAVersion1FileAreKept) {
  std::string dir = tempDir();
  std::string path = dir + "/metrics.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* v1 = R"(
    CREATE TABLE series (id INTEGER PRIMARY KEY, object TEXT NOT NULL, name TEXT NOT NULL,
      labels TEXT NOT NULL, UNIQUE(object, name, labels));
    CREATE TABLE points (series INTEGER NOT NULL, step INTEGER NOT NULL, ts INTEGER NOT NULL,
      value REAL NOT NULL, PRIMARY KEY(series, step, ts)) WITHOUT ROWID;
    CREATE TABLE rollups (step INTEGER PRIMARY KEY, done_until INTEGER NOT NULL);
    PRAGMA user_version = 1;
    INSERT INTO series VALUES (7, 'host', 'host_cpu_percent', '');
    INSERT INTO points VALUES (7, 0, 1000, 1.0), (7, 0, 61000, 2.0), (7, 300000, 0, 1.5);)";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  {
    auto store = MetricsStore::open(path);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto raw = (*store)->query("host", "", 0, 0);
    ASSERT_TRUE(raw.ok());
    ASSERT_EQ(raw->size(), 1u);
    EXPECT_EQ(raw->front().points,
              (std::vector<std::pair<std::int64_t, double>>{{1000, 1.0}, {61000, 2.0}}));
    EXPECT_EQ(*(*store)->pointCounts(),
              (std::map<std::int64_t, std::int64_t>{{0, 2}, {300000, 1}}));
  }
  auto store = MetricsStore::open(path);  // opening again converts nothing twice
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->pointCounts()->at(0), 2);
  store->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace paddock
