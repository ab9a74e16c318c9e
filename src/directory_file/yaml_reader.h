// Reading YAML with the line of everything, for the directory file's one-line errors
// `<file>:<line>: <yaml path>: <message>`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/result.h"

namespace paddock {

// yaml-cpp marks are 0-based; editors count from 1.
int lineOf(const YAML::Node& n);

// One map entry with the line of its key: a null value's own mark points at the next token, so
// the key is the only reliable place to blame.
struct Entry {
  std::string key;
  int line = 0;
  YAML::Node value;
};

// A whole number as YAML spells it ("+3" too); anything else is an error.
Result<int64_t> parseInteger(const std::string& s);

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  // An invalid_argument error located in the file; `path` ("vms.web1.memory") is left out of the
  // message when empty and becomes Error.field otherwise.
  Error error(int line, const std::string& path, const std::string& message) const;
  // The entries of a map in file order; null is an empty map, duplicate keys are refused.
  Result<std::vector<Entry>> entries(const YAML::Node& node, int line, const std::string& path,
                                     const char* what) const;
  Result<std::string> scalar(const Entry& e, const std::string& path, const char* what) const;

 private:
  std::string file_;
};

}  // namespace paddock
