// History of metrics in an SQLite file of its own (STATE_DIR/metrics.db), apart from the main
// store so that sampling never competes with API requests for its lock, with vCenter-style
// rollups: raw points for an hour, then 5-minute, 1-hour and 1-day averages (model/metrics.h).
//
// Size: raw points are packed 12 bytes each into one row per series and minute
// (store/metrics_chunk.h), rolled-up points take one row each. A VM has 8 series, 1 per vCPU, 6
// per disk and NIC; a series holds at most an hour of raw points (3600 at 1 s) + 288 + 720 + 365
// rolled-up points. docs/monitoring.md has the bytes this takes, measured.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/result.h"
#include "model/live_snapshot.h"
#include "model/metrics.h"

struct sqlite3;

namespace paddock {

class MetricsStore {
 public:
  static Result<std::unique_ptr<MetricsStore>> open(const std::string& path);
  ~MetricsStore();  // close()
  // Writes what is pending and closes the file (checkpointing its WAL). Idempotent; nothing
  // else may be called after it.
  void close();

  // A collector round: every reading of the host (object "host") and of each VM ("vm/<name>") is
  // a raw point at the snapshot's time. Rounds are kept in memory and the rounds of a minute
  // (one raw chunk, store/metrics_chunk.h) are written in one transaction once the next minute's
  // first round arrives (and everything before any read, and on close). So a 1 s collector costs
  // one SQLite commit and one row written per series per minute, not one per round and reading;
  // a crash loses at most the current minute's raw points.
  Status append(std::shared_ptr<const LiveSnapshot> round);
  // Averages every finished bucket of each rollup level from the level below (once; a bucket is
  // finished when `nowMs` is past its end) and drops points older than their level keeps.
  Status maintain(std::int64_t nowMs);
  // The series of `object` (all its metrics, or only `name`) with their points at resolution
  // `stepMs` (0: raw) from `sinceMs` on.
  Result<std::vector<MetricSeries>> query(const std::string& object, const std::string& name,
                                          std::int64_t sinceMs, std::int64_t stepMs);
  // Points per resolution (step in ms → count), for tests and `host stats`.
  Result<std::map<std::int64_t, std::int64_t>> pointCounts();

 private:
  explicit MetricsStore(sqlite3* db) : db_(db) {}
  Status exec(const std::string& sql);
  // The id of the series of `reading` of VM `vm` ("" for the host), added when new.
  Result<std::int64_t> seriesId(std::string_view vm, const LiveReading& reading);
  // Converts an older schema's file. Called by open().
  Status upgrade();
  struct RawPoint {
    std::int64_t series, ts;
    double value;
  };
  // Adds raw points to their chunks (reorders `points`). Inside a transaction.
  Status writeRaw(std::vector<RawPoint>& points);
  // Averages the raw chunks in [from, until) into level `step`'s points. Inside a transaction.
  Status rollUpRaw(std::int64_t step, std::int64_t from, std::int64_t until);
  // Writes the first `rounds` pending rounds (all by default). Caller holds mutex_.
  Status flushLocked(size_t rounds = SIZE_MAX);

  std::mutex mutex_;
  sqlite3* db_;
  // (VM or "", metric, label value) → series id; looked up without building strings.
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t, std::less<>> ids_;
  std::vector<std::shared_ptr<const LiveSnapshot>> pending_;  // oldest first
};

}  // namespace paddock
