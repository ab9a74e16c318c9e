#include "directory_file/resources_section.h"

#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "common/units.h"
#include "model/resource_spec.h"

namespace paddock {

using nlohmann::json;

namespace {

constexpr std::string_view kMib = "_mib";
constexpr std::string_view kResources = "resources";

bool endsWithMib(const std::string& field) {
  return field.size() > kMib.size() &&
         field.compare(field.size() - kMib.size(), kMib.size(), kMib) == 0;
}

std::string withoutMib(const std::string& field) {
  return field.substr(0, field.size() - kMib.size());
}

// YAML name -> JSON name of every ResourceSpec field. Taken from what toJson writes, so a new
// field needs nothing here.
const std::map<std::string, std::string>& fieldsByYamlName() {
  static const std::map<std::string, std::string> fields = [] {
    std::map<std::string, std::string> out;
    json all = toJson(ResourceSpec{});
    for (auto it = all.begin(); it != all.end(); ++it)
      out[endsWithMib(it.key()) ? withoutMib(it.key()) : it.key()] = it.key();
    return out;
  }();
  return fields;
}

std::string unknownField(const std::string& key) {
  const auto& known = fieldsByYamlName();
  // The API's spelling of a size field: "balloon_mib" for balloon.
  bool apiSize =
      endsWithMib(key) && known.contains(withoutMib(key)) && known.at(withoutMib(key)) == key;
  if (apiSize)
    return fmt::format("unknown field '{}' (write it as a size: {}: 256M)", key, withoutMib(key));
  std::string names;
  for (const auto& kv : known) names += (names.empty() ? "" : ", ") + kv.first;
  return fmt::format("unknown field '{}' (known: {})", key, names);
}

// A plain scalar as the YAML 1.2 core schema types it; quoted or tagged ones are strings.
json typedScalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() != "?") return s;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (auto i = parseInteger(s); i) return *i;
  // from_chars alone would also take "inf" and "nan", which YAML spells .inf and .nan.
  if (!s.empty() && s.find_first_not_of("0123456789.eE+-") == std::string::npos) {
    std::string_view text = s;
    if (text.front() == '+') text.remove_prefix(1);
    double d = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc() && end == text.data() + text.size()) return d;
  }
  return s;
}

// Any value by its YAML type; map keys get their lines under `jsonPath`.
Result<json> typed(const YamlReader& in, const YAML::Node& n, int line, const std::string& path,
                   const std::string& jsonPath, std::map<std::string, int>& lines) {
  if (!n || n.IsNull()) return json(nullptr);
  if (n.IsScalar()) return typedScalar(n);
  if (n.IsSequence()) {
    json out = json::array();
    for (size_t i = 0; i < n.size(); ++i) {
      auto item = typed(in, n[i], lineOf(n[i]), fmt::format("{}[{}]", path, i),
                        fmt::format("{}[{}]", jsonPath, i), lines);
      if (!item) return item;
      out.push_back(std::move(*item));
    }
    return out;
  }
  auto fields = in.entries(n, line, path, "a map");
  if (!fields) return fields.error();
  json out = json::object();
  for (const auto& f : *fields) {
    lines[jsonPath + "." + f.key] = f.line;
    auto v = typed(in, f.value, f.line, path + "." + f.key, jsonPath + "." + f.key, lines);
    if (!v) return v;
    out[f.key] = std::move(*v);
  }
  return out;
}

Result<json> size(const YamlReader& in, const Entry& f, const std::string& path) {
  auto s = in.scalar(f, path, "a size like 256M or 1G");
  if (!s) return s.error();
  if (*s == "off") return json(0);
  auto mib = parseSizeMib(*s);
  if (!mib) return in.error(f.line, path, mib.error().message);
  return json(*mib);
}

// disk_limits: {DISK: {FIELD: RATE}} and nic_limits: {MAC: {FIELD: RATE}}, where a disk's `group`
// is a name, not a rate. Each disk's (NIC's) limits are one value: one given again (in a VM over
// its profile) replaces them whole.
Result<json> limitMaps(const YamlReader& in, const Entry& f, const std::string& path,
                       const std::string& jsonPath, std::map<std::string, int>& lines) {
  auto disks = in.entries(f.value, f.line, path,
                          "a map of disk names (NIC MACs) to limits, e.g. {data: {write_bps: 1M}}");
  if (!disks) return disks.error();
  json out = json::object();
  for (const auto& d : *disks) {
    std::string diskPath = path + "." + d.key;
    std::string diskJson = jsonPath + "." + d.key;
    lines[diskJson] = d.line;
    auto limits =
        in.entries(d.value, d.line, diskPath, "limits like {write_bps: 1M, read_iops: 200}");
    if (!limits) return limits.error();
    json l = json::object();
    for (const auto& x : *limits) {
      std::string limitPath = diskPath + "." + x.key;
      lines[diskJson + "." + x.key] = x.line;
      auto s = in.scalar(x, limitPath, x.key == "group" ? "a group name" : "a rate like 1M or 200");
      if (!s) return s.error();
      if (x.key == "group") {
        l[x.key] = *s;
        continue;
      }
      auto rate = parseRate(*s);
      if (!rate) return in.error(x.line, limitPath, rate.error().message);
      l[x.key] = *rate;
    }
    out[d.key] = std::move(l);
  }
  return out;
}

// The value of field `f`, whose JSON name is `jsonPath` ("resources.balloon_mib").
Result<json> value(const YamlReader& in, const Entry& f, const std::string& path,
                   const std::string& jsonPath, std::map<std::string, int>& lines) {
  if (endsWithMib(jsonPath)) return size(in, f, path);
  if (jsonPath == fmt::format("{}.disk_limits", kResources) ||
      jsonPath == fmt::format("{}.nic_limits", kResources))
    return limitMaps(in, f, path, jsonPath, lines);
  return typed(in, f.value, f.line, path, jsonPath, lines);
}

}  // namespace

Result<json> parseResources(const YamlReader& in, const Entry& e, const std::string& path,
                            std::map<std::string, int>& lines) {
  auto fields = in.entries(e.value, e.line, path,
                           "a map of resource controls, e.g. {cpu_limit: 0.5, balloon: 256M}");
  if (!fields) return fields.error();
  std::map<std::string, int> found{{std::string(kResources), e.line}};
  json out = json::object();
  for (const auto& f : *fields) {
    std::string fieldPath = path + "." + f.key;
    auto known = fieldsByYamlName().find(f.key);
    if (known == fieldsByYamlName().end()) return in.error(f.line, fieldPath, unknownField(f.key));
    const std::string& field = known->second;
    std::string jsonPath = fmt::format("{}.{}", kResources, field);
    found[jsonPath] = f.line;
    auto v = value(in, f, fieldPath, jsonPath, found);
    if (!v) return v.error();
    out[field] = std::move(*v);
  }

  if (auto r = resourceSpecFromJson(out); !r) {
    // Errors name "resources.disk_limits.data.write_bps"; blame the most specific line known.
    const std::string& field = r.error().field;
    int line = e.line;
    for (std::string probe = field; !probe.empty();) {
      if (auto it = found.find(probe); it != found.end()) {
        line = it->second;
        break;
      }
      auto cut = probe.find_last_of(".[");
      probe = cut == std::string::npos ? "" : probe.substr(0, cut);
    }
    std::string yaml = resourceYamlField(field);
    std::string prefix = fmt::format("{}.", kResources);
    std::string where = yaml.rfind(prefix, 0) == 0 ? path + yaml.substr(kResources.size()) : path;
    return in.error(line, where, r.error().message);
  }
  for (const auto& [field, line] : found) lines[field] = line;
  return out;
}

std::string resourceYamlField(const std::string& jsonField) {
  std::string prefix = fmt::format("{}.", kResources);
  if (jsonField.rfind(prefix, 0) != 0) return jsonField;
  std::string rest = jsonField.substr(prefix.size());
  std::string head = rest.substr(0, rest.find_first_of(".["));
  if (!endsWithMib(head)) return jsonField;
  return prefix + withoutMib(head) + rest.substr(head.size());
}

}  // namespace paddock
