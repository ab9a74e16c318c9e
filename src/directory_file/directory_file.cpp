#include "directory_file/directory_file.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/files.h"
#include "common/names.h"
#include "common/units.h"
#include "directory_file/network_section.h"
#include "directory_file/resources_section.h"
#include "directory_file/yaml_reader.h"

namespace paddock {

using nlohmann::json;

namespace {

constexpr const char* kVmFields =
    "include, vcpus, memory, disks, nics, image, kernel, initrd, cmdline, description, accel, "
    "labels, resources, template, linked, customization, count, state";
constexpr const char* kProfileFields =
    "include, vcpus, memory, disks, nics, image, kernel, initrd, cmdline, description, accel, "
    "labels, resources, template, linked, customization";

// What one profile or VM body says, before includes are applied. Field names are the JSON ones
// (memory_mib, disks[].size_mib) so merged results can be mapped onto VmSpec errors directly.
struct Layer {
  std::string path;  // "profiles.small" or "vms.web1"
  std::string name;
  int line = 0;
  std::optional<std::string> include;
  int includeLine = 0;
  json fields = json::object();
  std::map<std::string, int> lines;
  std::optional<VmState> state;
  std::optional<int> count;  // VMs only: NAME1 ... NAMEcount instead of NAME
  int countLine = 0;
};

// A layer with its includes applied. `origins` says which profile set a field ("" = the VM
// itself), so an error in an inherited value can say where it came from.
struct Merged {
  json fields = json::object();
  std::map<std::string, int> lines;
  std::map<std::string, std::string> origins;
};

class Parser : private YamlReader {
 public:
  explicit Parser(std::string file) : YamlReader(std::move(file)) {}

  Result<DirectoryFile> parse(const std::string& text);

 private:
  Result<Layer> parseLayer(const Entry& e, const std::string& section, bool isVm) const;
  Result<json> parseNics(const Entry& e, const std::string& path,
                         std::map<std::string, int>& lines) const;
  Result<json> parseDisks(const Entry& e, const std::string& path,
                          std::map<std::string, int>& lines) const;
  Result<Merged> resolveProfile(const std::string& name, std::vector<std::string>& stack);
  Result<Merged> resolveInclude(const Layer& layer, std::vector<std::string>& stack);
  Result<DesiredVm> buildVm(const Layer& vm, const std::string& directory);

  std::map<std::string, Layer> profiles_;
  std::vector<std::string> profileOrder_;
  std::map<std::string, Merged> resolved_;
};

Result<json> Parser::parseNics(const Entry& e, const std::string& path,
                               std::map<std::string, int>& lines) const {
  const char* what = "a NIC like {network: lan, ip: 10.7.0.5}";
  if (!e.value.IsSequence())
    return error(e.line, path, fmt::format("expected a list of NICs, e.g. [{}]", what));
  json nics = json::array();
  lines["nics"] = e.line;
  for (size_t i = 0; i < e.value.size(); ++i) {
    YAML::Node item = e.value[i];
    std::string itemPath = fmt::format("{}[{}]", path, i);
    std::string jsonPath = fmt::format("nics[{}]", i);
    int itemLine = lineOf(item);
    lines[jsonPath] = itemLine;
    if (!item.IsMap()) return error(itemLine, itemPath, fmt::format("expected {}", what));
    auto fields = entries(item, itemLine, itemPath, what);
    if (!fields) return fields.error();
    json nic = {{"network", ""}, {"mac", ""}, {"port_group", ""}, {"ip", ""}};
    for (const auto& f : *fields) {
      std::string fieldPath = itemPath + "." + f.key;
      if (f.key != "network" && f.key != "mac" && f.key != "port_group" && f.key != "ip")
        return error(
            f.line, fieldPath,
            fmt::format("unknown field '{}' (a NIC has network, mac, port_group, ip)", f.key));
      auto s = scalar(f, fieldPath, "a string");
      if (!s) return s.error();
      nic[f.key] = *s;
      lines[jsonPath + "." + f.key] = f.line;
    }
    if (nic["network"] == "") return error(itemLine, itemPath, "a NIC needs a network");
    nics.push_back(std::move(nic));
  }
  return nics;
}

Result<json> Parser::parseDisks(const Entry& e, const std::string& path,
                                std::map<std::string, int>& lines) const {
  const char* what = "a list of disks, e.g. [{name: root, size: 1G}]";
  if (!e.value.IsSequence()) return error(e.line, path, fmt::format("expected {}", what));
  json disks = json::array();
  lines["disks"] = e.line;
  for (size_t i = 0; i < e.value.size(); ++i) {
    YAML::Node item = e.value[i];
    std::string itemPath = fmt::format("{}[{}]", path, i);
    std::string jsonPath = fmt::format("disks[{}]", i);
    int itemLine = lineOf(item);
    lines[jsonPath] = itemLine;
    if (!item.IsMap())
      return error(itemLine, itemPath, "expected a disk like {name: root, size: 1G}");
    auto fields = entries(item, itemLine, itemPath, "a disk like {name: root, size: 1G}");
    if (!fields) return fields.error();
    json disk = json::object();
    for (const auto& f : *fields) {
      std::string fieldPath = itemPath + "." + f.key;
      if (f.key == "name") {
        auto s = scalar(f, fieldPath, "a disk name");
        if (!s) return s.error();
        disk["name"] = *s;
        lines[jsonPath + ".name"] = f.line;
      } else if (f.key == "size") {
        auto s = scalar(f, fieldPath, "a size like 10G");
        if (!s) return s.error();
        auto mib = parseSizeMib(*s);
        if (!mib) return error(f.line, fieldPath, mib.error().message);
        if (*mib == 0) return error(f.line, fieldPath, "disk size must be positive");
        disk["size_mib"] = *mib;
        lines[jsonPath + ".size_mib"] = f.line;
      } else {
        return error(f.line, fieldPath,
                     fmt::format("unknown field '{}' (a disk has name and size)", f.key));
      }
    }
    if (!disk.contains("name")) return error(itemLine, itemPath, "a disk needs a name");
    if (!disk.contains("size_mib"))
      return error(itemLine, itemPath, "a disk needs a size (e.g. size: 10G)");
    disks.push_back(std::move(disk));
  }
  return disks;
}

Result<Layer> Parser::parseLayer(const Entry& e, const std::string& section, bool isVm) const {
  Layer layer;
  layer.name = e.key;
  layer.line = e.line;
  layer.path = section + "." + e.key;
  auto fields =
      entries(e.value, e.line, layer.path, isVm ? "a map of VM fields" : "a map of profile fields");
  if (!fields) return fields.error();
  for (const auto& f : *fields) {
    std::string path = layer.path + "." + f.key;
    auto str = [&](const char* what) { return scalar(f, path, what); };
    if (f.key == "include") {
      auto s = str("a profile name");
      if (!s) return s.error();
      layer.include = *s;
      layer.includeLine = f.line;
    } else if (f.key == "vcpus") {
      auto s = str("a number of vCPUs");
      if (!s) return s.error();
      auto n = parseInteger(*s);
      if (!n) return error(f.line, path, n.error().message);
      if (*n < std::numeric_limits<int>::min() || *n > std::numeric_limits<int>::max())
        return error(f.line, path, fmt::format("'{}' is out of range", *s));
      layer.fields["vcpus"] = *n;
      layer.lines["vcpus"] = f.line;
    } else if (f.key == "memory") {
      auto s = str("a size like 512M or 2G");
      if (!s) return s.error();
      auto mib = parseSizeMib(*s);
      if (!mib) return error(f.line, path, mib.error().message);
      layer.fields["memory_mib"] = *mib;
      layer.lines["memory_mib"] = f.line;
    } else if (f.key == "disks") {
      std::map<std::string, int> diskLines;
      auto disks = parseDisks(f, path, diskLines);
      if (!disks) return disks.error();
      layer.fields["disks"] = std::move(*disks);
      layer.lines.insert(diskLines.begin(), diskLines.end());
    } else if (f.key == "nics") {
      std::map<std::string, int> nicLines;
      auto nics = parseNics(f, path, nicLines);
      if (!nics) return nics.error();
      layer.fields["nics"] = std::move(*nics);
      layer.lines.insert(nicLines.begin(), nicLines.end());
    } else if (f.key == "image" || f.key == "kernel" || f.key == "initrd" || f.key == "cmdline" ||
               f.key == "description" || f.key == "template" || f.key == "customization" ||
               f.key == "storage") {
      auto s = str("a string");
      if (!s) return s.error();
      layer.fields[f.key] = *s;
      layer.lines[f.key] = f.line;
    } else if (f.key == "linked") {
      auto s = str("true or false");
      if (!s) return s.error();
      if (*s != "true" && *s != "false")
        return error(f.line, path, fmt::format("linked must be true or false (got '{}')", *s));
      layer.fields["linked_clone"] = *s == "true";
      layer.lines["linked_clone"] = f.line;
    } else if (f.key == "count" && isVm) {
      auto s = str("a number of VMs");
      if (!s) return s.error();
      auto n = parseInteger(*s);
      if (!n) return error(f.line, path, n.error().message);
      if (*n < 1 || *n > static_cast<int64_t>(kMaxNameRange))
        return error(f.line, path,
                     fmt::format("count must be 1 to {} (got {})", kMaxNameRange, *n));
      layer.count = static_cast<int>(*n);
      layer.countLine = f.line;
    } else if (f.key == "count") {
      return error(f.line, path, "a profile cannot set count; set it on the VM");
    } else if (f.key == "accel") {
      auto s = str("auto, kvm or tcg");
      if (!s) return s.error();
      if (!accelFromName(*s))
        return error(f.line, path, fmt::format("accel must be auto, kvm or tcg (got '{}')", *s));
      layer.fields["accel"] = *s;
      layer.lines["accel"] = f.line;
    } else if (f.key == "labels") {
      auto labels = entries(f.value, f.line, path, "a map of label names to strings");
      if (!labels) return labels.error();
      json obj = json::object();
      for (const auto& l : *labels) {
        std::string labelPath = path + "." + l.key;
        if (l.key == kDirectoryLabel)
          return error(l.line, labelPath,
                       fmt::format("label '{}' is set by the directory itself", kDirectoryLabel));
        if (!l.value.IsScalar()) return error(l.line, labelPath, "a label value must be a string");
        obj[l.key] = l.value.Scalar();
        layer.lines["labels." + l.key] = l.line;
      }
      layer.fields["labels"] = std::move(obj);
      layer.lines["labels"] = f.line;
    } else if (f.key == "resources") {
      std::map<std::string, int> resourceLines;
      auto resources = parseResources(*this, f, path, resourceLines);
      if (!resources) return resources.error();
      layer.fields["resources"] = std::move(*resources);
      layer.lines.insert(resourceLines.begin(), resourceLines.end());
    } else if (f.key == "state" && isVm) {
      auto s = str("running or stopped");
      if (!s) return s.error();
      if (*s == "running") {
        layer.state = VmState::running;
      } else if (*s == "stopped") {
        layer.state = VmState::stopped;
      } else {
        return error(f.line, path, fmt::format("state must be running or stopped (got '{}')", *s));
      }
    } else if (f.key == "state") {
      return error(f.line, path, "a profile cannot set state; set it on each VM");
    } else {
      return error(
          f.line, path,
          fmt::format("unknown field '{}' (known: {})", f.key, isVm ? kVmFields : kProfileFields));
    }
  }
  return layer;
}

bool coversField(const std::string& line, const std::string& field) {
  if (line.compare(0, field.size(), field) != 0) return false;
  return line.size() == field.size() || line[field.size()] == '[' || line[field.size()] == '.';
}

// Takes `field` and everything under it from the layer: its lines and origin replace the
// inherited ones.
void takeField(Merged& base, const Layer& layer, const std::string& field,
               const std::string& origin) {
  std::erase_if(base.lines, [&](const auto& kv) { return coversField(kv.first, field); });
  std::erase_if(base.origins, [&](const auto& kv) { return coversField(kv.first, field); });
  for (const auto& [f, line] : layer.lines) {
    if (!coversField(f, field)) continue;
    base.lines[f] = line;
    base.origins[f] = origin;
  }
}

// Resources merge key by key, like labels; disk_limits merges disk by disk, each disk's limits
// replaced whole.
void overlayResources(Merged& base, const Layer& layer, const std::string& origin) {
  json& into = base.fields["resources"];
  if (!into.is_object()) into = json::object();
  const json& from = layer.fields.at("resources");
  for (auto it = from.begin(); it != from.end(); ++it) {
    std::string field = "resources." + it.key();
    if (it.key() != "disk_limits") {
      into[it.key()] = it.value();
      takeField(base, layer, field, origin);
      continue;
    }
    json& disks = into["disk_limits"];
    if (!disks.is_object()) disks = json::object();
    for (auto d = it.value().begin(); d != it.value().end(); ++d) {
      disks[d.key()] = d.value();
      takeField(base, layer, field + "." + d.key(), origin);
    }
    base.lines[field] = layer.lines.at(field);
    base.origins[field] = origin;
  }
  base.lines["resources"] = layer.lines.at("resources");
  base.origins["resources"] = origin;
}

// Lays `layer` over `base`: fields replace inherited ones whole (lists included), except labels
// and resources, which merge key by key.
void overlay(Merged& base, const Layer& layer, const std::string& origin) {
  for (auto it = layer.fields.begin(); it != layer.fields.end(); ++it) {
    const std::string& key = it.key();
    if (key == "resources") {
      overlayResources(base, layer, origin);
      continue;
    }
    if (key == "labels") {
      if (!base.fields.contains("labels")) base.fields["labels"] = json::object();
      for (auto l = it.value().begin(); l != it.value().end(); ++l) {
        base.fields["labels"][l.key()] = l.value();
        base.lines["labels." + l.key()] = layer.lines.at("labels." + l.key());
        base.origins["labels." + l.key()] = origin;
      }
      base.lines["labels"] = layer.lines.at("labels");
      base.origins["labels"] = origin;
      continue;
    }
    base.fields[key] = it.value();
    takeField(base, layer, key, origin);
  }
}

Result<Merged> Parser::resolveInclude(const Layer& layer, std::vector<std::string>& stack) {
  if (!layer.include) return Merged{};
  const std::string& target = *layer.include;
  std::string path = layer.path + ".include";
  if (!profiles_.contains(target)) {
    std::string known;
    for (const auto& p : profileOrder_) known += (known.empty() ? "" : ", ") + p;
    return error(layer.includeLine, path,
                 fmt::format("unknown profile '{}' ({})", target,
                             known.empty() ? "no profiles are defined" : "profiles: " + known));
  }
  if (auto pos = std::find(stack.begin(), stack.end(), target); pos != stack.end()) {
    std::string cycle;
    for (auto it = pos; it != stack.end(); ++it) cycle += *it + " → ";
    return error(layer.includeLine, path, fmt::format("include cycle: {}{}", cycle, target));
  }
  return resolveProfile(target, stack);
}

Result<Merged> Parser::resolveProfile(const std::string& name, std::vector<std::string>& stack) {
  if (auto it = resolved_.find(name); it != resolved_.end()) return it->second;
  const Layer& layer = profiles_.at(name);
  stack.push_back(name);
  auto base = resolveInclude(layer, stack);
  stack.pop_back();
  if (!base) return base.error();
  overlay(*base, layer, "profile " + name);
  resolved_[name] = *base;
  return *base;
}

// The YAML spelling of a VmSpec JSON field, for messages: "disks[1].size_mib" -> "disks[1].size".
std::string yamlField(std::string field) {
  auto replace = [&](const std::string& from, const std::string& to) {
    auto pos = field.find(from);
    if (pos != std::string::npos && pos + from.size() == field.size())
      field.replace(pos, from.size(), to);
  };
  replace("memory_mib", "memory");
  replace("size_mib", "size");
  return resourceYamlField(field);
}

Result<DesiredVm> Parser::buildVm(const Layer& vm, const std::string& directory) {
  std::vector<std::string> stack;
  auto merged = resolveInclude(vm, stack);
  if (!merged) return merged.error();
  overlay(*merged, vm, "");

  // Types were checked while parsing, so the merged fields convert without surprises; values are
  // judged by validateVmSpec below so the rules stay the same as for the API.
  const json& f = merged->fields;
  VmSpec spec;
  spec.name = vm.name;
  if (f.contains("vcpus")) spec.vcpus = f["vcpus"].get<int>();
  if (f.contains("memory_mib")) spec.memoryMib = f["memory_mib"].get<uint64_t>();
  if (f.contains("disks"))
    for (const auto& d : f["disks"])
      spec.disks.push_back(DiskSpec{d["name"].get<std::string>(), d["size_mib"].get<uint64_t>()});
  if (f.contains("nics"))
    for (const auto& n : f["nics"])
      spec.nics.push_back(NicSpec{n["network"].get<std::string>(), n["mac"].get<std::string>(),
                                  n["port_group"].get<std::string>(), n["ip"].get<std::string>()});
  if (f.contains("image")) spec.image = f["image"].get<std::string>();
  if (f.contains("kernel")) spec.kernel = f["kernel"].get<std::string>();
  if (f.contains("initrd")) spec.initrd = f["initrd"].get<std::string>();
  if (f.contains("cmdline")) spec.cmdline = f["cmdline"].get<std::string>();
  if (f.contains("description")) spec.description = f["description"].get<std::string>();
  if (f.contains("customization")) spec.customization = f["customization"].get<std::string>();
  if (f.contains("storage") && f["storage"] != "local") spec.storage = f["storage"];
  if (f.contains("template")) {
    spec.templateName = f["template"].get<std::string>();
    spec.linkedClone = f.value("linked_clone", true);
    // The template brings its disks and boot source; the file cannot also say them.
    for (const char* own : {"disks", "image", "kernel", "initrd"})
      if (f.contains(own)) {
        auto it = merged->lines.find(own);
        return error(it != merged->lines.end() ? it->second : vm.line, vm.path + "." + own,
                     fmt::format("'{}' cannot be set with 'template': the template's disks and "
                                 "boot are cloned",
                                 own));
      }
  } else if (f.contains("linked_clone")) {
    return error(merged->lines["linked_clone"], vm.path + ".linked", "'linked' needs 'template'");
  }
  if (f.contains("accel")) spec.accel = *accelFromName(f["accel"].get<std::string>());
  if (f.contains("labels")) spec.labels = f["labels"].get<std::map<std::string, std::string>>();
  spec.labels[kDirectoryLabel] = directory;
  // Each layer's resources passed resourceSpecFromJson already, so merged they pass it too.
  auto resources = resourceSpecFromJson(f.value("resources", json::object()));
  if (resources) spec.resources = std::move(*resources);

  if (auto s = resources ? validateVmSpec(spec, nullptr) : Status(resources.error()); !s) {
    // Blame the most specific line known: "disks[1].size_mib", then "disks[1]", then "disks".
    std::string field = s.error().field;
    std::string probe = field;
    int line = vm.line;
    std::string origin;
    while (!probe.empty()) {
      if (auto it = merged->lines.find(probe); it != merged->lines.end()) {
        line = it->second;
        origin = merged->origins[probe];
        break;
      }
      auto cut = probe.find_last_of(".[");
      probe = cut == std::string::npos ? "" : probe.substr(0, cut);
    }
    std::string path =
        field.empty() || field == "name" ? vm.path : vm.path + "." + yamlField(field);
    std::string shown = origin.empty() ? path : fmt::format("{} (from {})", path, origin);
    Error e = error(line, shown, s.error().message);
    e.field = path;
    return e;
  }

  DesiredVm out;
  out.spec = std::move(spec);
  out.state = vm.state;
  out.line = vm.line;
  out.fieldLines = std::move(merged->lines);
  return out;
}

std::string defaultDirectoryName(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

Result<DirectoryFile> Parser::parse(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return error(e.mark.line >= 0 ? e.mark.line + 1 : 1, "",
                 fmt::format("YAML syntax error: {} (column {})", e.msg, e.mark.column + 1));
  }
  if (!root || root.IsNull())
    return error(1, "",
                 "the file is empty; expected 'vms:' (and optionally 'directory:', 'networks:' "
                 "and 'profiles:')");
  auto top =
      entries(root, lineOf(root), "", "a map with 'directory', 'networks', 'profiles' and 'vms'");
  if (!top) return top.error();

  DirectoryFile out;
  out.path = file();
  const Entry* vmsEntry = nullptr;
  const Entry* networksEntry = nullptr;
  const Entry* profilesEntry = nullptr;
  const Entry* nameEntry = nullptr;
  for (const auto& e : *top) {
    if (e.key == "directory") {
      nameEntry = &e;
    } else if (e.key == "networks") {
      networksEntry = &e;
    } else if (e.key == "profiles") {
      profilesEntry = &e;
    } else if (e.key == "vms") {
      vmsEntry = &e;
    } else {
      return error(
          e.line, e.key,
          fmt::format("unknown top-level key '{}' (known: directory, networks, profiles, vms)",
                      e.key));
    }
  }

  if (nameEntry) {
    auto s = scalar(*nameEntry, "directory", "a directory name");
    if (!s) return s.error();
    if (auto v = validateName(*s, "directory name"); !v)
      return error(nameEntry->line, "directory", v.error().message);
    out.name = *s;
  } else {
    out.name = defaultDirectoryName(file());
    if (auto v = validateName(out.name, "directory name"); !v)
      return error(1, "directory",
                   v.error().message + " (taken from the file name; set 'directory:' in the file)");
  }

  // A missing `vms:` most likely means a truncated or wrong file; applying it would delete every
  // VM of the directory, so the empty set has to be written out.
  if (!vmsEntry) return error(1, "vms", "missing 'vms' (write 'vms: {}' to manage no VMs)");

  out.managesNetworks = networksEntry != nullptr;
  if (networksEntry) {
    auto networks = parseNetworkSection(*this, *networksEntry, out.name);
    if (!networks) return networks.error();
    out.networks = std::move(*networks);
  }

  if (profilesEntry) {
    auto list = entries(profilesEntry->value, profilesEntry->line, "profiles",
                        "a map of profile names to profiles");
    if (!list) return list.error();
    for (const auto& e : *list) {
      if (auto v = validateName(e.key, "profile name"); !v)
        return error(e.line, "profiles." + e.key, v.error().message);
      auto layer = parseLayer(e, "profiles", false);
      if (!layer) return layer.error();
      profiles_.emplace(e.key, std::move(*layer));
      profileOrder_.push_back(e.key);
    }
    // Resolve every profile, used or not, so a cycle or typo is reported before it bites.
    for (const auto& name : profileOrder_) {
      std::vector<std::string> stack;
      if (auto r = resolveProfile(name, stack); !r) return r.error();
    }
  }

  auto vms = entries(vmsEntry->value, vmsEntry->line, "vms", "a map of VM names to VMs");
  if (!vms) return vms.error();
  for (const auto& e : *vms) {
    auto layer = parseLayer(e, "vms", true);
    if (!layer) return layer.error();
    // Several VMs from one entry: `web[1-3]:` or `web:` with `count: 3` (web1 ... web3).
    auto names = expandNameRange(e.key);
    if (!names) return error(e.line, "vms." + e.key, names.error().message);
    if (layer->count) {
      if (names->size() != 1 || *names != std::vector<std::string>{e.key})
        return error(layer->countLine, "vms." + e.key + ".count",
                     "count cannot be combined with a name range");
      names->clear();
      for (int i = 1; i <= *layer->count; ++i) names->push_back(fmt::format("{}{}", e.key, i));
    }
    for (const auto& name : *names) {
      if (auto v = validateName(name, "VM name"); !v)
        return error(e.line, "vms." + e.key, v.error().message);
      Layer one = *layer;
      one.name = name;
      auto vm = buildVm(one, out.name);
      if (!vm) return vm.error();
      out.vms.push_back(std::move(*vm));
    }
  }
  return out;
}

}  // namespace

Result<DirectoryFile> parseDirectoryText(const std::string& text,
                                         const std::string& pathForMessages) {
  try {
    return Parser(pathForMessages).parse(text);
  } catch (const YAML::Exception& e) {
    // Node accessors can throw on malformed trees; keep the promise of one located line.
    return makeError(Errc::invalid_argument,
                     fmt::format("{}:{}: {}", pathForMessages, e.mark.line + 1, e.msg));
  } catch (const std::exception& e) {
    return makeError(Errc::internal, fmt::format("{}: {}", pathForMessages, e.what()));
  }
}

Result<DirectoryFile> parseDirectoryFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return makeError(Errc::invalid_argument, fmt::format("{}: is a directory, not a file", path));
  auto text = readFile(path);
  if (!text) return text.error();
  return parseDirectoryText(*text, path);
}

}  // namespace paddock
