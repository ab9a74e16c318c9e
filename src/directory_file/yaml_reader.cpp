#include "directory_file/yaml_reader.h"

#include <charconv>
#include <map>

#include <fmt/format.h>

namespace paddock {

int lineOf(const YAML::Node& n) {
  return n.Mark().line >= 0 ? n.Mark().line + 1 : 1;
}

Result<int64_t> parseInteger(const std::string& s) {
  int64_t v = 0;
  const char* begin = s.data();
  if (!s.empty() && s.front() == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || begin == s.data() + s.size())
    return makeError(Errc::invalid_argument, fmt::format("'{}' is not a whole number", s));
  return v;
}

Error YamlReader::error(int line, const std::string& path, const std::string& message) const {
  if (path.empty())
    return makeError(Errc::invalid_argument, fmt::format("{}:{}: {}", file_, line, message));
  return makeError(Errc::invalid_argument, fmt::format("{}:{}: {}: {}", file_, line, path, message),
                   path);
}

Result<std::vector<Entry>> YamlReader::entries(const YAML::Node& node, int line,
                                               const std::string& path, const char* what) const {
  std::vector<Entry> out;
  if (!node || node.IsNull()) return out;
  if (!node.IsMap()) return error(line, path, fmt::format("expected {}", what));
  // yaml-cpp keeps both entries of a duplicated key and lookups see only the first, so a second
  // `web1:` would silently vanish; refuse it instead.
  std::map<std::string, int> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    int keyLine = lineOf(it->first);
    if (!it->first.IsScalar())
      return error(keyLine, path, "keys must be plain names, not lists or maps");
    std::string key = it->first.Scalar();
    std::string keyPath = path.empty() ? key : path + "." + key;
    if (auto [pos, inserted] = seen.emplace(key, keyLine); !inserted)
      return error(keyLine, keyPath,
                   fmt::format("duplicate key '{}' (first at line {})", key, pos->second));
    out.push_back(Entry{key, keyLine, it->second});
  }
  return out;
}

Result<std::string> YamlReader::scalar(const Entry& e, const std::string& path,
                                       const char* what) const {
  if (!e.value || e.value.IsNull()) return error(e.line, path, fmt::format("needs {}", what));
  if (!e.value.IsScalar()) return error(e.line, path, fmt::format("expected {}", what));
  return e.value.Scalar();
}

}  // namespace paddock
