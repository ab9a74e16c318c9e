#include "store/metrics_store.h"

#include <sqlite3.h>

#include <algorithm>

#include <fmt/format.h>

#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/statement.h"

namespace paddock {

namespace {

const char* const kSchema = R"(
  CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    object TEXT NOT NULL,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE(object, name, labels));
  CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL,
    step INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY(series, step, ts)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rollups (step INTEGER PRIMARY KEY, done_until INTEGER NOT NULL);
  PRAGMA user_version = 1;)";

Error sqlError(sqlite3* db, const char* what) {
  return makeError(Errc::internal, fmt::format("metrics store: {}: {}", what, sqlite3_errmsg(db)));
}

}  // namespace

Result<std::unique_ptr<MetricsStore>> MetricsStore::open(const std::string& path) {
  auto db = openSqlite(path, "metrics store");
  if (!db) return db.error();
  std::unique_ptr<MetricsStore> store(new MetricsStore(*db));
  PADDOCK_TRY(store->exec(kSchema));
  return store;
}

MetricsStore::~MetricsStore() {
  close();
}

void MetricsStore::close() {
  std::lock_guard lock(mutex_);
  if (!db_) return;
  (void)flushLocked();
  sqlite3_close(db_);
  db_ = nullptr;
}

Status MetricsStore::exec(const std::string& sql) {
  return execSql(db_, sql, "metrics store");
}

Result<std::int64_t> MetricsStore::seriesId(std::string_view vm, const LiveReading& reading) {
  std::string_view metric = reading.metric;
  if (auto it = ids_.find(std::tuple{vm, metric, std::string_view(reading.label)});
      it != ids_.end())
    return it->second;
  std::string object = vm.empty() ? "host" : fmt::format("vm/{}", vm);
  std::string labels;
  if (!reading.label.empty()) {
    const MetricInfo* info = findMetric(metric);
    labels = fmt::format("{}={}", info && *info->label ? info->label : "label", reading.label);
  }
  Statement insert(db_, "INSERT OR IGNORE INTO series(object, name, labels) VALUES(?,?,?)");
  insert.bind(1, object);
  insert.bind(2, std::string(metric));
  insert.bind(3, labels);
  if (insert.run() != SQLITE_DONE) return sqlError(db_, "cannot add a series");
  Statement select(db_, "SELECT id FROM series WHERE object=? AND name=? AND labels=?");
  select.bind(1, object);
  select.bind(2, std::string(metric));
  select.bind(3, labels);
  if (!select.step()) return sqlError(db_, "cannot find a series");
  std::int64_t id = select.columnInt(0);
  ids_.emplace(std::tuple{std::string(vm), std::string(metric), reading.label}, id);
  return id;
}

Status MetricsStore::append(std::shared_ptr<const LiveSnapshot> round) {
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(round));
  if (pending_.back()->tsMs - pending_.front()->tsMs < kFlushEveryMs) return {};
  return flushLocked();
}

Status MetricsStore::flushLocked() {
  if (pending_.empty()) return {};
  auto pending = std::move(pending_);
  pending_.clear();
  struct Row {
    std::int64_t series, ts;
    double value;
  };
  PADDOCK_TRY(exec("BEGIN IMMEDIATE"));
  std::vector<Row> rows;
  auto add = [&](std::string_view vm, const std::vector<LiveReading>& readings,
                 std::int64_t tsMs) -> Status {
    for (const auto& r : readings) {
      auto id = seriesId(vm, r);
      if (!id) return id.error();
      rows.push_back({*id, tsMs, r.value});
    }
    return {};
  };
  for (const auto& round : pending) {
    Status s = add("", round->host, round->tsMs);
    for (size_t i = 0; s && i < round->vms.size(); ++i)
      s = add(round->vms[i].name, round->vms[i].readings, round->tsMs);
    if (!s) {
      (void)exec("ROLLBACK");
      return s;
    }
  }
  // In key order, each insert lands next to the one before: fewer B-tree pages touched.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.series != b.series ? a.series < b.series : a.ts < b.ts;
  });
  Statement st(db_, "INSERT OR REPLACE INTO points(series, step, ts, value) VALUES(?,0,?,?)");
  for (const auto& r : rows) {
    st.reset();
    st.bind(1, r.series);
    st.bind(2, r.ts);
    st.bind(3, r.value);
    if (st.run() != SQLITE_DONE) {
      auto e = sqlError(db_, "cannot add a point");
      (void)exec("ROLLBACK");
      return e;
    }
  }
  return exec("COMMIT");
}

Status MetricsStore::maintain(std::int64_t nowMs) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(flushLocked());
  PADDOCK_TRY(exec("BEGIN IMMEDIATE"));
  auto fail = [&](const char* what) {
    auto e = sqlError(db_, what);
    (void)exec("ROLLBACK");
    return e;
  };
  for (size_t level = 1; level < std::size(kResolutions); ++level) {
    std::int64_t step = kResolutions[level].stepMs;
    std::int64_t source = kResolutions[level - 1].stepMs;
    std::int64_t until = nowMs / step * step;  // buckets before this one are finished
    std::int64_t from = 0;
    Statement done(db_, "SELECT done_until FROM rollups WHERE step=?");
    done.bind(1, step);
    if (done.step()) {
      from = done.columnInt(0);
    } else {
      Statement first(db_, "SELECT min(ts) FROM points WHERE step=?");
      first.bind(1, source);
      if (!first.step()) return fail("cannot read the oldest point");
      from = first.columnInt(0) / step * step;
    }
    if (until <= from) continue;
    Statement roll(db_,
                   "INSERT OR REPLACE INTO points(series, step, ts, value) "
                   "SELECT series, ?1, (ts / ?1) * ?1, avg(value) FROM points "
                   "WHERE step=?2 AND ts>=?3 AND ts<?4 GROUP BY series, ts / ?1");
    roll.bind(1, step);
    roll.bind(2, source);
    roll.bind(3, from);
    roll.bind(4, until);
    if (roll.run() != SQLITE_DONE) return fail("cannot roll points up");
    Statement mark(db_, "INSERT OR REPLACE INTO rollups(step, done_until) VALUES(?,?)");
    mark.bind(1, step);
    mark.bind(2, until);
    if (mark.run() != SQLITE_DONE) return fail("cannot record a rollup");
  }
  for (const auto& r : kResolutions) {
    Statement drop(db_, "DELETE FROM points WHERE step=? AND ts<?");
    drop.bind(1, r.stepMs);
    drop.bind(2, nowMs - r.keepMs);
    if (drop.run() != SQLITE_DONE) return fail("cannot drop old points");
  }
  return exec("COMMIT");
}

Result<std::vector<MetricSeries>> MetricsStore::query(const std::string& object,
                                                      const std::string& name, std::int64_t sinceMs,
                                                      std::int64_t stepMs) {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(flushLocked());
  Statement st(
      db_,
      "SELECT s.name, s.labels, p.ts, p.value FROM series s JOIN points p ON p.series=s.id "
      "WHERE s.object=?1 AND (?2='' OR s.name=?2) AND p.step=?3 AND p.ts>=?4 "
      "ORDER BY s.name, s.labels, p.ts");
  st.bind(1, object);
  st.bind(2, name);
  st.bind(3, stepMs);
  st.bind(4, sinceMs);
  std::vector<MetricSeries> out;
  while (st.step()) {
    std::string n = st.columnText(0), labels = st.columnText(1);
    if (out.empty() || out.back().name != n || out.back().labels != labels)
      out.push_back(MetricSeries{object, n, labels, {}});
    out.back().points.emplace_back(st.columnInt(2), st.columnDouble(3));
  }
  return out;
}

Result<std::map<std::int64_t, std::int64_t>> MetricsStore::pointCounts() {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(flushLocked());
  Statement st(db_, "SELECT step, count(*) FROM points GROUP BY step");
  std::map<std::int64_t, std::int64_t> out;
  while (st.step()) out[st.columnInt(0)] = st.columnInt(1);
  return out;
}

}  // namespace paddock
