#include "store/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <fmt/format.h>

namespace paddock {

Result<sqlite3*> openSqlite(const std::string& path, const std::string& what) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return makeError(Errc::internal, fmt::format("cannot open {} {}: {}", what, path, msg));
  }
  sqlite3_busy_timeout(db, 5000);
  if (auto s = execSql(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", what); !s) {
    sqlite3_close(db);
    return s.error();
  }
  return db;
}

Status execSql(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return makeError(Errc::internal, what + ": " + msg);
  }
  return {};
}

}  // namespace paddock
