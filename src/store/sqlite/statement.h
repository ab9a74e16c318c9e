// RAII wrapper of one prepared SQLite statement.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace paddock {

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Statement() { sqlite3_finalize(st_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int i, const std::string& v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void bind(int i, double v) { sqlite3_bind_double(st_, i, v); }
  void bindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // True while a row is available.
  bool step() { return st_ && sqlite3_step(st_) == SQLITE_ROW; }
  // Runs a statement that returns no rows; returns the SQLite result code.
  int run() { return st_ ? sqlite3_step(st_) : SQLITE_ERROR; }
  void reset() { sqlite3_reset(st_); }
  int64_t columnInt(int i) { return sqlite3_column_int64(st_, i); }
  double columnDouble(int i) { return sqlite3_column_double(st_, i); }
  std::string columnText(int i) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st_, i))) : std::string();
  }
  std::string columnBlob(int i) {
    auto p = static_cast<const char*>(sqlite3_column_blob(st_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st_, i))) : std::string();
  }

 private:
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace paddock
