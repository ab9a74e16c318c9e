#include "services/directory/network_plan.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

namespace paddock {

const char* networkActionName(NetworkAction a) {
  switch (a) {
    case NetworkAction::create:
      return "create";
    case NetworkAction::delete_network:
      return "delete";
    case NetworkAction::unchanged:
      return "unchanged";
  }
  return "unchanged";
}

namespace {

std::string labelOf(const NetworkSpec& spec) {
  auto it = spec.labels.find(kDirectoryLabel);
  return it == spec.labels.end() ? std::string() : it->second;
}

bool picksSubnet(const NetworkSpec& spec) {
  return spec.kind == NetworkKind::internal || spec.kind == NetworkKind::nat;
}

// The settings a file can give, in the file's spelling, as people read them.
std::vector<std::pair<std::string, std::string>> settings(const NetworkSpec& spec) {
  auto orNone = [](const std::string& s) { return s.empty() ? std::string("(none)") : s; };
  std::string pgs, fwds, labels;
  for (const auto& pg : spec.portGroups)
    pgs += fmt::format("{}{}:{}", pgs.empty() ? "" : ", ", pg.name, pg.vlan);
  for (const auto& f : spec.forwards) fwds += (fwds.empty() ? "" : ", ") + formatForward(f);
  for (const auto& [k, v] : spec.labels)
    labels += fmt::format("{}{}={}", labels.empty() ? "" : ", ", k, v);
  std::string range = spec.dhcpStart.empty() && spec.dhcpEnd.empty()
                          ? "(none)"
                          : spec.dhcpStart + "-" + spec.dhcpEnd;
  return {{"kind", networkKindName(spec.kind)},
          {"subnet", orNone(spec.subnet)},
          {"dhcp_range", range},
          {"domain", orNone(spec.domain)},
          {"description", orNone(spec.description)},
          {"uplink", orNone(spec.uplink)},
          {"port_groups", "[" + pgs + "]"},
          {"forwards", "[" + fwds + "]"},
          {"labels", "{" + labels + "}"}};
}

// What differs between the network on the host and the file ("subnet A → B"); `firstField` gets
// the JSON name of the first difference.
std::vector<std::string> differences(NetworkSpec wanted, const NetworkSpec& current,
                                     std::string& firstField) {
  if (wanted.subnet.empty() && picksSubnet(wanted)) wanted.subnet = current.subnet;
  // Fill the defaults as the daemon did on create. A default DHCP range is taken from the current
  // subnet, so a changed subnet is reported once, not again through the range it implies. The
  // file's spec was validated, so filling fails only when the kinds differ, which is reported
  // anyway.
  NetworkSpec defaults = wanted;
  if (wanted.kind == current.kind && !current.subnet.empty()) defaults.subnet = current.subnet;
  (void)completeNetworkSpec(defaults);
  if (wanted.dhcpStart.empty()) wanted.dhcpStart = defaults.dhcpStart;
  if (wanted.dhcpEnd.empty()) wanted.dhcpEnd = defaults.dhcpEnd;
  (void)completeNetworkSpec(wanted);
  auto now = settings(current);
  auto then = settings(wanted);
  std::vector<std::string> out;
  for (size_t i = 0; i < now.size(); ++i) {
    if (now[i].second == then[i].second) continue;
    if (firstField.empty()) firstField = now[i].first == "dhcp_range" ? "dhcp_start" : now[i].first;
    out.push_back(fmt::format("{} {} → {}", now[i].first, now[i].second, then[i].second));
  }
  return out;
}

int rank(NetworkAction a) {
  return a == NetworkAction::create ? 0 : a == NetworkAction::delete_network ? 1 : 2;
}

}  // namespace

Result<std::vector<NetworkStep>> planNetworks(const std::string& directory,
                                              const std::vector<DesiredNetwork>& desired,
                                              const std::vector<NetworkSpec>& current) {
  std::map<std::string, const NetworkSpec*> byName;
  for (const auto& n : current) byName.emplace(n.name, &n);
  std::vector<NetworkStep> steps;
  std::set<std::string> wanted;
  for (const auto& d : desired) {
    NetworkSpec spec = d.spec;
    spec.labels[kDirectoryLabel] = directory;
    if (!wanted.insert(spec.name).second)
      return makeError(
          Errc::invalid_argument,
          fmt::format("network '{}' is listed twice in directory '{}'", spec.name, directory),
          "networks." + spec.name);
    auto found = byName.find(spec.name);
    if (found == byName.end()) {
      steps.push_back(NetworkStep{spec.name, NetworkAction::create, std::move(spec)});
      continue;
    }
    const NetworkSpec& have = *found->second;
    if (std::string owner = labelOf(have); owner != directory)
      return makeError(
          Errc::conflict,
          fmt::format("network '{}' ({}) already exists and directory '{}' will not take it "
                      "over; rename it in the file or remove the existing network",
                      spec.name,
                      owner.empty() ? "not managed by any directory"
                                    : fmt::format("managed by directory '{}'", owner),
                      directory),
          "networks." + spec.name);
    std::string firstField;
    auto diff = differences(spec, have, firstField);
    if (!diff.empty()) {
      std::string list;
      for (const auto& d : diff) list += (list.empty() ? "" : ", ") + d;
      return makeError(Errc::unprocessable,
                       fmt::format("network '{}' differs from the file ({}): Paddock cannot "
                                   "change a network in place yet; delete it first",
                                   spec.name, list),
                       "networks." + spec.name + "." + firstField);
    }
    steps.push_back(NetworkStep{spec.name, NetworkAction::unchanged, have});
  }
  for (const auto& n : current)
    if (labelOf(n) == directory && !wanted.contains(n.name))
      steps.push_back(NetworkStep{n.name, NetworkAction::delete_network, n});
  std::stable_sort(steps.begin(), steps.end(), [](const NetworkStep& a, const NetworkStep& b) {
    if (rank(a.action) != rank(b.action)) return rank(a.action) < rank(b.action);
    return a.network < b.network;
  });
  return steps;
}

std::string formatNetworkStep(const NetworkStep& step) {
  switch (step.action) {
    case NetworkAction::create: {
      const NetworkSpec& s = step.spec;
      std::string what = networkKindName(s.kind);
      if (s.kind == NetworkKind::bridge) what += ", uplink " + s.uplink;
      if (!s.subnet.empty()) {
        what += ", " + s.subnet;
      } else if (picksSubnet(s)) {
        what += ", any free subnet";
      }
      return fmt::format("+ create network {} ({})\n", step.network, what);
    }
    case NetworkAction::delete_network:
      return fmt::format("- delete network {}\n", step.network);
    case NetworkAction::unchanged:
      return "";
  }
  return "";
}

}  // namespace paddock
