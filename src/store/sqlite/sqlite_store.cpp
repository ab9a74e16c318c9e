#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include "common/clock.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/statement.h"

namespace paddock {

using nlohmann::json;

namespace {

// Each entry moves the schema one version up; never edit a released entry, append a new one.
const char* const kMigrations[] = {
    R"(CREATE TABLE vms (
         name TEXT PRIMARY KEY,
         spec TEXT NOT NULL,
         runtime TEXT NOT NULL,
         created_at_ms INTEGER NOT NULL,
         updated_at_ms INTEGER NOT NULL);
       CREATE TABLE events (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         time_ms INTEGER NOT NULL,
         type TEXT NOT NULL,
         object TEXT NOT NULL,
         data TEXT NOT NULL);
       CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);)",
    R"(CREATE TABLE networks (
         name TEXT PRIMARY KEY,
         spec TEXT NOT NULL,
         created_at_ms INTEGER NOT NULL);)",
    R"(CREATE TABLE objects (
         kind TEXT NOT NULL,
         name TEXT NOT NULL,
         doc TEXT NOT NULL,
         created_at_ms INTEGER NOT NULL,
         PRIMARY KEY(kind, name));)",
};

constexpr int64_t kMaxEvents = 100000;

Result<VmRecord> recordFromRow(Statement& st) {
  auto spec = vmSpecFromJson(json::parse(st.columnText(1), nullptr, false));
  if (!spec)
    return makeError(Errc::internal, "stored VM spec is malformed: " + spec.error().message);
  auto runtime = vmRuntimeFromJson(json::parse(st.columnText(2), nullptr, false));
  if (!runtime) return runtime.error();
  VmRecord r;
  r.spec = std::move(*spec);
  r.runtime = std::move(*runtime);
  r.createdAtMs = st.columnInt(3);
  r.updatedAtMs = st.columnInt(4);
  return r;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  auto db = openSqlite(path, "store");
  if (!db) return db.error();
  std::unique_ptr<SqliteStore> store(new SqliteStore(*db));
  PADDOCK_TRY(store->exec("PRAGMA foreign_keys=ON;"));
  PADDOCK_TRY(store->migrate());
  return store;
}

SqliteStore::~SqliteStore() {
  sqlite3_close(db_);
}

Status SqliteStore::exec(const std::string& sql) {
  return execSql(db_, sql, "store");
}

Status SqliteStore::migrate() {
  std::lock_guard lock(mutex_);
  Statement version(db_, "PRAGMA user_version");
  if (!version.step()) return makeError(Errc::internal, "store: cannot read schema version");
  int current = static_cast<int>(version.columnInt(0));
  version.reset();
  int target = static_cast<int>(std::size(kMigrations));
  if (current > target)
    return makeError(Errc::internal,
                     fmt::format("store schema version {} is newer than this paddockd "
                                 "understands ({})",
                                 current, target));
  for (int v = current; v < target; ++v) {
    PADDOCK_TRY(exec("BEGIN IMMEDIATE"));
    auto s = exec(kMigrations[v]);
    if (s) s = exec(fmt::format("PRAGMA user_version = {}", v + 1));
    if (!s) {
      (void)exec("ROLLBACK");
      return s;
    }
    PADDOCK_TRY(exec("COMMIT"));
  }
  schemaVersion_ = target;
  return {};
}

Status SqliteStore::createVm(const VmRecord& vm) {
  std::lock_guard lock(mutex_);
  Statement st(db_,
               "INSERT INTO vms(name, spec, runtime, created_at_ms, updated_at_ms) "
               "VALUES(?,?,?,?,?)");
  st.bind(1, vm.spec.name);
  st.bind(2, toJson(vm.spec).dump());
  st.bind(3, toJson(vm.runtime).dump());
  st.bind(4, vm.createdAtMs);
  st.bind(5, vm.updatedAtMs);
  int rc = st.run();
  if (rc == SQLITE_CONSTRAINT)
    return makeError(Errc::conflict, fmt::format("VM '{}' already exists", vm.spec.name), "name");
  if (rc != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  return {};
}

Result<VmRecord> SqliteStore::getVm(const std::string& name) {
  std::lock_guard lock(mutex_);
  Statement st(db_,
               "SELECT name, spec, runtime, created_at_ms, updated_at_ms FROM vms WHERE name=?");
  st.bind(1, name);
  if (!st.step()) return makeError(Errc::not_found, fmt::format("VM '{}' does not exist", name));
  return recordFromRow(st);
}

Result<std::vector<VmRecord>> SqliteStore::listVms() {
  std::lock_guard lock(mutex_);
  Statement st(db_,
               "SELECT name, spec, runtime, created_at_ms, updated_at_ms FROM vms ORDER BY name");
  std::vector<VmRecord> out;
  while (st.step()) {
    auto r = recordFromRow(st);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

Status SqliteStore::updateVmSpec(const VmSpec& spec) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "UPDATE vms SET spec=?, updated_at_ms=? WHERE name=?");
  st.bind(1, toJson(spec).dump());
  st.bind(2, nowMs());
  st.bind(3, spec.name);
  if (st.run() != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  if (sqlite3_changes(db_) == 0)
    return makeError(Errc::not_found, fmt::format("VM '{}' does not exist", spec.name));
  return {};
}

Status SqliteStore::updateVmRuntime(const std::string& name, const VmRuntime& runtime) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "UPDATE vms SET runtime=? WHERE name=?");
  st.bind(1, toJson(runtime).dump());
  st.bind(2, name);
  if (st.run() != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  if (sqlite3_changes(db_) == 0)
    return makeError(Errc::not_found, fmt::format("VM '{}' does not exist", name));
  return {};
}

Status SqliteStore::deleteVm(const std::string& name) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM vms WHERE name=?");
  st.bind(1, name);
  if (st.run() != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  if (sqlite3_changes(db_) == 0)
    return makeError(Errc::not_found, fmt::format("VM '{}' does not exist", name));
  return {};
}

Status SqliteStore::createNetwork(const NetworkSpec& spec) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "INSERT INTO networks(name, spec, created_at_ms) VALUES(?,?,?)");
  st.bind(1, spec.name);
  st.bind(2, toJson(spec).dump());
  st.bind(3, nowMs());
  int rc = st.run();
  if (rc == SQLITE_CONSTRAINT)
    return makeError(Errc::conflict, fmt::format("network '{}' already exists", spec.name), "name");
  if (rc != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  return {};
}

Result<NetworkSpec> SqliteStore::getNetwork(const std::string& name) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT spec FROM networks WHERE name=?");
  st.bind(1, name);
  if (!st.step())
    return makeError(Errc::not_found, fmt::format("network '{}' does not exist", name));
  return networkSpecFromJson(json::parse(st.columnText(0), nullptr, false));
}

Result<std::vector<NetworkSpec>> SqliteStore::listNetworks() {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT spec FROM networks ORDER BY name");
  std::vector<NetworkSpec> out;
  while (st.step()) {
    auto n = networkSpecFromJson(json::parse(st.columnText(0), nullptr, false));
    if (!n) return makeError(Errc::internal, "stored network is malformed: " + n.error().message);
    out.push_back(std::move(*n));
  }
  return out;
}

Status SqliteStore::deleteNetwork(const std::string& name) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM networks WHERE name=?");
  st.bind(1, name);
  if (st.run() != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  if (sqlite3_changes(db_) == 0)
    return makeError(Errc::not_found, fmt::format("network '{}' does not exist", name));
  return {};
}

Status SqliteStore::createObject(const std::string& kind, const std::string& name,
                                 const json& doc) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "INSERT INTO objects(kind, name, doc, created_at_ms) VALUES(?,?,?,?)");
  st.bind(1, kind);
  st.bind(2, name);
  st.bind(3, doc.dump());
  st.bind(4, nowMs());
  int rc = st.run();
  if (rc == SQLITE_CONSTRAINT)
    return makeError(Errc::conflict, fmt::format("{} '{}' already exists", kind, name), "name");
  if (rc != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  return {};
}

Status SqliteStore::updateObject(const std::string& kind, const std::string& name,
                                 const json& doc) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "UPDATE objects SET doc=? WHERE kind=? AND name=?");
  st.bind(1, doc.dump());
  st.bind(2, kind);
  st.bind(3, name);
  if (st.run() != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  if (sqlite3_changes(db_) == 0)
    return makeError(Errc::not_found, fmt::format("{} '{}' does not exist", kind, name));
  return {};
}

Result<json> SqliteStore::getObject(const std::string& kind, const std::string& name) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT doc FROM objects WHERE kind=? AND name=?");
  st.bind(1, kind);
  st.bind(2, name);
  if (!st.step())
    return makeError(Errc::not_found, fmt::format("{} '{}' does not exist", kind, name));
  return json::parse(st.columnText(0), nullptr, false);
}

Result<std::vector<json>> SqliteStore::listObjects(const std::string& kind) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT doc FROM objects WHERE kind=? ORDER BY name");
  st.bind(1, kind);
  std::vector<json> out;
  while (st.step()) out.push_back(json::parse(st.columnText(0), nullptr, false));
  return out;
}

Status SqliteStore::deleteObject(const std::string& kind, const std::string& name) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM objects WHERE kind=? AND name=?");
  st.bind(1, kind);
  st.bind(2, name);
  if (st.run() != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  if (sqlite3_changes(db_) == 0)
    return makeError(Errc::not_found, fmt::format("{} '{}' does not exist", kind, name));
  return {};
}

Result<int64_t> SqliteStore::appendEvent(Event event) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "INSERT INTO events(time_ms, type, object, data) VALUES(?,?,?,?)");
  st.bind(1, event.timeMs);
  st.bind(2, event.type);
  st.bind(3, event.object);
  st.bind(4, event.data.dump());
  if (st.run() != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  int64_t id = sqlite3_last_insert_rowid(db_);
  if (id % 1000 == 0) {
    // Bounded history: keep the newest kMaxEvents.
    Statement trim(db_, "DELETE FROM events WHERE id <= ?");
    trim.bind(1, id - kMaxEvents);
    trim.run();
  }
  return id;
}

Result<std::vector<Event>> SqliteStore::listEvents(int64_t afterId, int limit) {
  std::lock_guard lock(mutex_);
  Statement st(
      db_, "SELECT id, time_ms, type, object, data FROM events WHERE id > ? ORDER BY id LIMIT ?");
  st.bind(1, afterId);
  st.bind(2, static_cast<int64_t>(limit));
  std::vector<Event> out;
  while (st.step()) {
    Event e;
    e.id = st.columnInt(0);
    e.timeMs = st.columnInt(1);
    e.type = st.columnText(2);
    e.object = st.columnText(3);
    e.data = json::parse(st.columnText(4), nullptr, false);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<std::string>> SqliteStore::getSetting(const std::string& key) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT value FROM settings WHERE key=?");
  st.bind(1, key);
  if (!st.step()) return std::optional<std::string>{};
  return std::optional<std::string>{st.columnText(0)};
}

Status SqliteStore::setSetting(const std::string& key, const std::string& value) {
  std::lock_guard lock(mutex_);
  Statement st(db_,
               "INSERT INTO settings(key, value) VALUES(?,?) "
               "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  st.bind(1, key);
  st.bind(2, value);
  if (st.run() != SQLITE_DONE)
    return makeError(Errc::internal, std::string("store: ") + sqlite3_errmsg(db_));
  return {};
}

}  // namespace paddock
