// Small file helpers that return Results instead of throwing.
#pragma once

#include <string>

#include "common/result.h"

namespace paddock {

Result<std::string> readFile(const std::string& path);
// Writes to a temporary file beside `path`, fsyncs it and renames it over `path`, so readers see
// the old or the new content, never a torn one.
Status writeFileAtomic(const std::string& path, const std::string& content, int mode = 0644);
Status makeDirs(const std::string& path, int mode = 0755);
Status removeAll(const std::string& path);
bool pathExists(const std::string& path);

}  // namespace paddock
