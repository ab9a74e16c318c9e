#include "store/metrics_store.h"

#include <sqlite3.h>

#include <algorithm>

#include <fmt/format.h>

#include "store/metrics_chunk.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/statement.h"

namespace paddock {

namespace {

// Version 2: raw points are packed per series and minute into `raw` (store/metrics_chunk.h);
// `points` holds the rollup levels. Version 1 kept raw points in `points` (step 0); open()
// converts them.
const char* const kSchema = R"(
  CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    object TEXT NOT NULL,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE(object, name, labels));
  CREATE TABLE IF NOT EXISTS raw (
    series INTEGER NOT NULL,
    start INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY(series, start)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL,
    step INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY(series, step, ts)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rollups (step INTEGER PRIMARY KEY, done_until INTEGER NOT NULL);)";
constexpr int kSchemaVersion = 2;

// The finest rollup level is computed from whole raw chunks.
static_assert(kResolutions[1].stepMs % kRawChunkMs == 0);

Error sqlError(sqlite3* db, const char* what) {
  return makeError(Errc::internal, fmt::format("metrics store: {}: {}", what, sqlite3_errmsg(db)));
}

}  // namespace

Result<std::unique_ptr<MetricsStore>> MetricsStore::open(const std::string& path) {
  auto db = openSqlite(path, "metrics store");
  if (!db) return db.error();
  std::unique_ptr<MetricsStore> store(new MetricsStore(*db));
  PADDOCK_TRY(store->exec(kSchema));
  PADDOCK_TRY(store->upgrade());
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

Status MetricsStore::upgrade() {
  Statement version(db_, "PRAGMA user_version");
  if (!version.step()) return sqlError(db_, "cannot read the schema version");
  if (version.columnInt(0) >= kSchemaVersion) return {};
  PADDOCK_TRY(exec("BEGIN IMMEDIATE"));
  std::vector<RawPoint> old;
  Statement read(db_, "SELECT series, ts, value FROM points WHERE step=0");
  while (read.step()) old.push_back({read.columnInt(0), read.columnInt(1), read.columnDouble(2)});
  Status s = writeRaw(old);
  if (s)
    s = exec(fmt::format("DELETE FROM points WHERE step=0; PRAGMA user_version = {}; COMMIT",
                         kSchemaVersion));
  if (!s) (void)exec("ROLLBACK");
  return s;
}

Status MetricsStore::writeRaw(std::vector<RawPoint>& points) {
  // Grouped by series and chunk, and in key order: each chunk is one row, written next to the
  // one before it. A chunk already on disk (written by an earlier flush of the same minute, or
  // before a restart) gets the new points appended.
  std::sort(points.begin(), points.end(), [](const RawPoint& a, const RawPoint& b) {
    return a.series != b.series ? a.series < b.series : a.ts < b.ts;
  });
  Statement upsert(
      db_,
      "INSERT INTO raw(series, start, data) VALUES(?,?,?) "
      "ON CONFLICT(series, start) DO UPDATE SET data = CAST(data || excluded.data AS BLOB)");
  std::string blob;
  for (size_t i = 0; i < points.size();) {
    std::int64_t series = points[i].series, start = rawChunkStart(points[i].ts);
    blob.clear();
    for (; i < points.size() && points[i].series == series && rawChunkStart(points[i].ts) == start;
         ++i)
      appendRawPoint(blob, start, points[i].ts, points[i].value);
    upsert.reset();
    upsert.bind(1, series);
    upsert.bind(2, start);
    upsert.bindBlob(3, blob);
    if (upsert.run() != SQLITE_DONE) return sqlError(db_, "cannot add points");
  }
  return {};
}

Status MetricsStore::append(std::shared_ptr<const LiveSnapshot> round) {
  std::lock_guard lock(mutex_);
  std::int64_t minute = rawChunkStart(round->tsMs);
  pending_.push_back(std::move(round));
  size_t done = 0;  // rounds of the minutes before this one
  while (done < pending_.size() && rawChunkStart(pending_[done]->tsMs) < minute) ++done;
  return done == 0 ? Status{} : flushLocked(done);
}

Status MetricsStore::flushLocked(size_t rounds) {
  rounds = std::min(rounds, pending_.size());
  if (rounds == 0) return {};
  std::vector<std::shared_ptr<const LiveSnapshot>> pending(
      std::make_move_iterator(pending_.begin()),
      std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(rounds)));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(rounds));
  PADDOCK_TRY(exec("BEGIN IMMEDIATE"));
  std::vector<RawPoint> points;
  auto add = [&](std::string_view vm, const std::vector<LiveReading>& readings,
                 std::int64_t tsMs) -> Status {
    for (const auto& r : readings) {
      auto id = seriesId(vm, r);
      if (!id) return id.error();
      points.push_back({*id, tsMs, r.value});
    }
    return {};
  };
  Status s;
  for (size_t r = 0; s && r < pending.size(); ++r) {
    const LiveSnapshot& round = *pending[r];
    s = add("", round.host, round.tsMs);
    for (size_t i = 0; s && i < round.vms.size(); ++i)
      s = add(round.vms[i].name, round.vms[i].readings, round.tsMs);
  }
  if (s) s = writeRaw(points);
  if (s) s = exec("COMMIT");
  if (!s) (void)exec("ROLLBACK");
  return s;
}

Status MetricsStore::rollUpRaw(std::int64_t step, std::int64_t from, std::int64_t until) {
  Statement read(db_,
                 "SELECT series, start, data FROM raw WHERE start>=? AND start<? "
                 "ORDER BY series, start");
  read.bind(1, from);
  read.bind(2, until);
  Statement write(db_, "INSERT OR REPLACE INTO points(series, step, ts, value) VALUES(?,?,?,?)");
  std::int64_t series = -1, bucket = 0, count = 0;
  double sum = 0;
  auto emit = [&]() -> Status {
    if (count == 0) return {};
    write.reset();
    write.bind(1, series);
    write.bind(2, step);
    write.bind(3, bucket);
    write.bind(4, sum / static_cast<double>(count));
    if (write.run() != SQLITE_DONE) return sqlError(db_, "cannot roll points up");
    return {};
  };
  while (read.step()) {
    std::int64_t s = read.columnInt(0), start = read.columnInt(1);
    // Chunks are whole inside one bucket (the static_assert above), in key order.
    std::int64_t b = start / step * step;
    if (s != series || b != bucket) {
      PADDOCK_TRY(emit());
      series = s, bucket = b, count = 0, sum = 0;
    }
    for (const auto& [ts, value] : decodeRawChunk(start, read.columnBlob(2))) {
      sum += value;
      ++count;
    }
  }
  return emit();
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
      Statement first(db_, source == 0 ? "SELECT min(start) FROM raw"
                                       : "SELECT min(ts) FROM points WHERE step=?");
      if (source != 0) first.bind(1, source);
      if (!first.step()) return fail("cannot read the oldest point");
      from = first.columnInt(0) / step * step;
    }
    if (until <= from) continue;
    if (source == 0) {
      if (Status s = rollUpRaw(step, from, until); !s) {
        (void)exec("ROLLBACK");
        return s;
      }
    } else {
      Statement roll(db_,
                     "INSERT OR REPLACE INTO points(series, step, ts, value) "
                     "SELECT series, ?1, (ts / ?1) * ?1, avg(value) FROM points "
                     "WHERE step=?2 AND ts>=?3 AND ts<?4 GROUP BY series, ts / ?1");
      roll.bind(1, step);
      roll.bind(2, source);
      roll.bind(3, from);
      roll.bind(4, until);
      if (roll.run() != SQLITE_DONE) return fail("cannot roll points up");
    }
    Statement mark(db_, "INSERT OR REPLACE INTO rollups(step, done_until) VALUES(?,?)");
    mark.bind(1, step);
    mark.bind(2, until);
    if (mark.run() != SQLITE_DONE) return fail("cannot record a rollup");
  }
  // A raw chunk goes when its newest possible point is older than raw history keeps.
  Statement dropRaw(db_, "DELETE FROM raw WHERE start<=?");
  dropRaw.bind(1, nowMs - kResolutions[0].keepMs - kRawChunkMs);
  if (dropRaw.run() != SQLITE_DONE) return fail("cannot drop old points");
  for (const auto& r : kResolutions) {
    if (r.stepMs == 0) continue;
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
  std::vector<MetricSeries> out;
  auto seriesOf = [&](std::string n, std::string labels) -> MetricSeries& {
    if (out.empty() || out.back().name != n || out.back().labels != labels)
      out.push_back(MetricSeries{object, std::move(n), std::move(labels), {}});
    return out.back();
  };
  if (stepMs == 0) {
    Statement st(db_,
                 "SELECT s.name, s.labels, r.start, r.data FROM series s JOIN raw r "
                 "ON r.series=s.id WHERE s.object=?1 AND (?2='' OR s.name=?2) AND r.start>?3 "
                 "ORDER BY s.name, s.labels, r.start");
    st.bind(1, object);
    st.bind(2, name);
    st.bind(3, sinceMs - kRawChunkMs);
    while (st.step()) {
      auto& points = seriesOf(st.columnText(0), st.columnText(1)).points;
      for (const auto& p : decodeRawChunk(st.columnInt(2), st.columnBlob(3)))
        if (p.first >= sinceMs) points.push_back(p);
    }
    std::erase_if(out, [](const MetricSeries& m) { return m.points.empty(); });
    return out;
  }
  Statement st(
      db_,
      "SELECT s.name, s.labels, p.ts, p.value FROM series s JOIN points p ON p.series=s.id "
      "WHERE s.object=?1 AND (?2='' OR s.name=?2) AND p.step=?3 AND p.ts>=?4 "
      "ORDER BY s.name, s.labels, p.ts");
  st.bind(1, object);
  st.bind(2, name);
  st.bind(3, stepMs);
  st.bind(4, sinceMs);
  while (st.step())
    seriesOf(st.columnText(0), st.columnText(1))
        .points.emplace_back(st.columnInt(2), st.columnDouble(3));
  return out;
}

Result<std::map<std::int64_t, std::int64_t>> MetricsStore::pointCounts() {
  std::lock_guard lock(mutex_);
  PADDOCK_TRY(flushLocked());
  std::map<std::int64_t, std::int64_t> out;
  Statement raw(db_, "SELECT coalesce(sum(length(data)), 0) FROM raw");
  if (raw.step() && raw.columnInt(0) > 0)
    out[0] = raw.columnInt(0) / static_cast<std::int64_t>(kRawPointBytes);
  Statement st(db_, "SELECT step, count(*) FROM points GROUP BY step");
  while (st.step()) out[st.columnInt(0)] = st.columnInt(1);
  return out;
}

}  // namespace paddock
