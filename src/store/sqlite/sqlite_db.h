// Opening an SQLite file the way every Paddock store does, and running SQL without results.
#pragma once

#include <string>

#include "common/result.h"

struct sqlite3;

namespace paddock {

// Opens (or creates) `path` for use from several threads, with a 5 s busy timeout, WAL journal
// and synchronous=NORMAL. `what` names the store in errors ("store", "metrics store").
Result<sqlite3*> openSqlite(const std::string& path, const std::string& what);
// Runs statements that return no rows; errors read "<what>: <SQLite's message>".
Status execSql(sqlite3* db, const std::string& sql, const std::string& what);

}  // namespace paddock
