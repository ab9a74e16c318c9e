#include "directory_file/network_section.h"

#include <limits>

#include <fmt/format.h>

namespace paddock {

namespace {

constexpr const char* kNetworkFields =
    "kind, subnet, dhcp_range, domain, description, uplink, port_groups, forwards, labels";

// Any subnet will do to check the fields that do not depend on it.
constexpr const char* kStandInSubnet = "10.100.0.0/24";

// The YAML spelling of a NetworkSpec JSON field, for messages.
std::string yamlField(const std::string& field) {
  return field == "dhcp_start" || field == "dhcp_end" ? "dhcp_range" : field;
}

class NetworkParser {
 public:
  NetworkParser(const YamlReader& in, const std::string& directory)
      : in_(in), directory_(directory) {}

  Result<DesiredNetwork> parse(const Entry& e);

 private:
  Status parseField(const Entry& f, const std::string& path, DesiredNetwork& out) const;
  Status parseDhcpRange(const Entry& f, const std::string& path, DesiredNetwork& out) const;
  Status parsePortGroups(const Entry& f, const std::string& path, DesiredNetwork& out) const;
  Status parseForwards(const Entry& f, const std::string& path, DesiredNetwork& out) const;
  Status parseLabels(const Entry& f, const std::string& path, DesiredNetwork& out) const;

  const YamlReader& in_;
  const std::string& directory_;
};

Result<DesiredNetwork> NetworkParser::parse(const Entry& e) {
  std::string path = "networks." + e.key;
  DesiredNetwork out;
  out.spec.name = e.key;
  out.line = e.line;
  auto fields = in_.entries(e.value, e.line, path, "a map of network fields");
  if (!fields) return fields.error();
  for (const auto& f : *fields) PADDOCK_TRY(parseField(f, path + "." + f.key, out));
  out.spec.labels[kDirectoryLabel] = directory_;

  if (auto s = validateDesiredNetwork(out.spec); !s) {
    // Blame the most specific line known: "port_groups[1].vlan", then "port_groups[1]", ...
    const std::string& field = s.error().field;
    int line = out.line;
    for (std::string probe = field; !probe.empty();) {
      if (auto it = out.fieldLines.find(probe); it != out.fieldLines.end()) {
        line = it->second;
        break;
      }
      auto cut = probe.find_last_of(".[");
      probe = cut == std::string::npos ? "" : probe.substr(0, cut);
    }
    std::string where = field.empty() || field == "name" ? path : path + "." + yamlField(field);
    return in_.error(line, where, s.error().message);
  }
  return out;
}

Status NetworkParser::parseField(const Entry& f, const std::string& path,
                                 DesiredNetwork& out) const {
  NetworkSpec& spec = out.spec;
  if (f.key == "kind") {
    auto s = in_.scalar(f, path, "internal, nat, bridge or user");
    if (!s) return s.error();
    auto kind = networkSpecFromJson({{"name", spec.name}, {"kind", *s}});
    if (!kind) return in_.error(f.line, path, kind.error().message);
    spec.kind = kind->kind;
  } else if (f.key == "subnet" || f.key == "domain" || f.key == "description" ||
             f.key == "uplink") {
    auto s = in_.scalar(f, path, "a string");
    if (!s) return s.error();
    (f.key == "subnet"   ? spec.subnet
     : f.key == "domain" ? spec.domain
     : f.key == "uplink" ? spec.uplink
                         : spec.description) = *s;
  } else if (f.key == "dhcp_range") {
    return parseDhcpRange(f, path, out);
  } else if (f.key == "port_groups") {
    return parsePortGroups(f, path, out);
  } else if (f.key == "forwards") {
    return parseForwards(f, path, out);
  } else if (f.key == "labels") {
    return parseLabels(f, path, out);
  } else {
    return in_.error(f.line, path,
                     fmt::format("unknown field '{}' (known: {})", f.key, kNetworkFields));
  }
  out.fieldLines[f.key] = f.line;
  return {};
}

Status NetworkParser::parseDhcpRange(const Entry& f, const std::string& path,
                                     DesiredNetwork& out) const {
  auto s = in_.scalar(f, path, "a range like 10.7.0.10-10.7.0.99");
  if (!s) return s.error();
  auto dash = s->find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == s->size())
    return in_.error(
        f.line, path,
        fmt::format("'{}' is not a range (use FIRST-LAST, e.g. 10.7.0.10-10.7.0.99)", *s));
  out.spec.dhcpStart = s->substr(0, dash);
  out.spec.dhcpEnd = s->substr(dash + 1);
  out.fieldLines["dhcp_start"] = f.line;
  out.fieldLines["dhcp_end"] = f.line;
  return {};
}

Status NetworkParser::parsePortGroups(const Entry& f, const std::string& path,
                                      DesiredNetwork& out) const {
  const char* what = "a port group like {name: db, vlan: 20}";
  if (!f.value.IsSequence())
    return in_.error(f.line, path, fmt::format("expected a list of port groups, e.g. [{}]", what));
  out.fieldLines["port_groups"] = f.line;
  for (size_t i = 0; i < f.value.size(); ++i) {
    YAML::Node item = f.value[i];
    std::string itemPath = fmt::format("{}[{}]", path, i);
    std::string jsonPath = fmt::format("port_groups[{}]", i);
    int itemLine = lineOf(item);
    out.fieldLines[jsonPath] = itemLine;
    if (!item.IsMap()) return in_.error(itemLine, itemPath, fmt::format("expected {}", what));
    auto fields = in_.entries(item, itemLine, itemPath, what);
    if (!fields) return fields.error();
    PortGroup pg;
    bool hasName = false, hasVlan = false;
    for (const auto& g : *fields) {
      std::string fieldPath = itemPath + "." + g.key;
      if (g.key == "name") {
        auto s = in_.scalar(g, fieldPath, "a port group name");
        if (!s) return s.error();
        pg.name = *s;
        hasName = true;
      } else if (g.key == "vlan") {
        auto s = in_.scalar(g, fieldPath, "a VLAN id");
        if (!s) return s.error();
        auto n = parseInteger(*s);
        if (!n) return in_.error(g.line, fieldPath, n.error().message);
        if (*n < std::numeric_limits<int>::min() || *n > std::numeric_limits<int>::max())
          return in_.error(g.line, fieldPath, fmt::format("'{}' is out of range", *s));
        pg.vlan = static_cast<int>(*n);
        hasVlan = true;
      } else {
        return in_.error(g.line, fieldPath,
                         fmt::format("unknown field '{}' (a port group has name and vlan)", g.key));
      }
      out.fieldLines[jsonPath + "." + g.key] = g.line;
    }
    if (!hasName) return in_.error(itemLine, itemPath, "a port group needs a name");
    if (!hasVlan) return in_.error(itemLine, itemPath, "a port group needs a vlan");
    out.spec.portGroups.push_back(std::move(pg));
  }
  return {};
}

Status NetworkParser::parseForwards(const Entry& f, const std::string& path,
                                    DesiredNetwork& out) const {
  if (!f.value.IsSequence())
    return in_.error(f.line, path, "expected a list of forwards, e.g. [tcp:8080:web1:80]");
  out.fieldLines["forwards"] = f.line;
  for (size_t i = 0; i < f.value.size(); ++i) {
    YAML::Node item = f.value[i];
    std::string itemPath = fmt::format("{}[{}]", path, i);
    int itemLine = lineOf(item);
    out.fieldLines[fmt::format("forwards[{}]", i)] = itemLine;
    if (!item.IsScalar())
      return in_.error(itemLine, itemPath, "expected a forward like tcp:8080:web1:80");
    auto fwd = parseForward(item.Scalar());
    if (!fwd) return in_.error(itemLine, itemPath, fwd.error().message);
    out.spec.forwards.push_back(std::move(*fwd));
  }
  return {};
}

Status NetworkParser::parseLabels(const Entry& f, const std::string& path,
                                  DesiredNetwork& out) const {
  auto labels = in_.entries(f.value, f.line, path, "a map of label names to strings");
  if (!labels) return labels.error();
  out.fieldLines["labels"] = f.line;
  for (const auto& l : *labels) {
    std::string labelPath = path + "." + l.key;
    if (l.key == kDirectoryLabel)
      return in_.error(l.line, labelPath,
                       fmt::format("label '{}' is set by the directory itself", kDirectoryLabel));
    if (!l.value.IsScalar()) return in_.error(l.line, labelPath, "a label value must be a string");
    out.spec.labels[l.key] = l.value.Scalar();
    out.fieldLines["labels." + l.key] = l.line;
  }
  return {};
}

}  // namespace

Result<std::vector<DesiredNetwork>> parseNetworkSection(const YamlReader& in, const Entry& section,
                                                        const std::string& directory) {
  auto list =
      in.entries(section.value, section.line, "networks", "a map of network names to networks");
  if (!list) return list.error();
  NetworkParser parser(in, directory);
  std::vector<DesiredNetwork> out;
  for (const auto& e : *list) {
    auto network = parser.parse(e);
    if (!network) return network.error();
    out.push_back(std::move(*network));
  }
  return out;
}

Status validateDesiredNetwork(const NetworkSpec& spec) {
  NetworkSpec probe = spec;
  bool anySubnet = probe.subnet.empty() &&
                   (probe.kind == NetworkKind::internal || probe.kind == NetworkKind::nat);
  if (anySubnet) {
    if (!probe.dhcpStart.empty() || !probe.dhcpEnd.empty())
      return makeError(Errc::invalid_argument,
                       "a DHCP range needs a subnet to lie in: give the subnet too",
                       probe.dhcpStart.empty() ? "dhcp_end" : "dhcp_start");
    probe.subnet = kStandInSubnet;
  }
  PADDOCK_TRY(completeNetworkSpec(probe));
  return validateNetworkSpec(probe);
}

}  // namespace paddock
