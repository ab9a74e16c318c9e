#include "directory_file/customization_file.h"

#include <fmt/format.h>

#include "common/names.h"
#include "directory_file/yaml_reader.h"
#include "model/network_spec.h"

namespace paddock {

namespace {

bool validUserName(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

bool validDomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    if (dot == std::string::npos) dot = s.size();
    if (!validateName(s.substr(start, dot - start), "label")) return false;
    start = dot + 1;
  }
  return true;
}

class Parser {
 public:
  explicit Parser(const std::string& source) : r_(source) {}

  Result<std::vector<std::string>> strings(const Entry& e, const std::string& path,
                                           const char* what) {
    std::vector<std::string> out;
    if (!e.value || e.value.IsNull()) return out;
    if (!e.value.IsSequence())
      return r_.error(e.line, path, fmt::format("expected a list of {}", what));
    for (size_t i = 0; i < e.value.size(); ++i) {
      const auto& item = e.value[i];
      std::string p = fmt::format("{}[{}]", path, i);
      if (!item.IsScalar()) return r_.error(lineOf(item), p, fmt::format("expected {}", what));
      out.push_back(item.Scalar());
    }
    return out;
  }

  Result<bool> boolean(const Entry& e, const std::string& path) {
    auto s = r_.scalar(e, path, "true or false");
    if (!s) return s.error();
    if (*s == "true" || *s == "yes") return true;
    if (*s == "false" || *s == "no") return false;
    return r_.error(e.line, path, fmt::format("'{}' is not true or false", *s));
  }

  Result<GuestUser> user(const YAML::Node& node, const std::string& path) {
    GuestUser u;
    auto entries =
        r_.entries(node, lineOf(node), path, "a map (name, ssh_authorized_keys, sudo, shell)");
    if (!entries) return entries.error();
    bool named = false;
    for (const auto& e : *entries) {
      std::string p = path + "." + e.key;
      if (e.key == "name") {
        PADDOCK_TRY_ASSIGN(u.name, r_.scalar(e, p, "a user name"));
        if (!validUserName(u.name))
          return r_.error(e.line, p,
                          fmt::format("'{}' is not a user name (a-z, 0-9, '_', '-', at most 32, "
                                      "starting with a letter or '_')",
                                      u.name));
        named = true;
      } else if (e.key == "ssh_authorized_keys") {
        PADDOCK_TRY_ASSIGN(u.sshAuthorizedKeys, strings(e, p, "public keys"));
        for (size_t i = 0; i < u.sshAuthorizedKeys.size(); ++i) {
          const auto& k = u.sshAuthorizedKeys[i];
          bool known =
              k.rfind("ssh-", 0) == 0 || k.rfind("ecdsa-", 0) == 0 || k.rfind("sk-", 0) == 0;
          if (!known || k.find_first_of("\n\r") != std::string::npos)
            return r_.error(e.line, fmt::format("{}[{}]", p, i),
                            "is not an OpenSSH public key line (ssh-ed25519 AAAA... comment)");
        }
      } else if (e.key == "sudo") {
        PADDOCK_TRY_ASSIGN(u.sudo, boolean(e, p));
      } else if (e.key == "shell") {
        PADDOCK_TRY_ASSIGN(u.shell, r_.scalar(e, p, "a shell path"));
        if (u.shell.empty() || u.shell[0] != '/')
          return r_.error(e.line, p, "must be an absolute path such as /bin/bash");
      } else {
        return r_.error(
            e.line, p,
            fmt::format("unknown key '{}' (name, ssh_authorized_keys, sudo, shell)", e.key));
      }
    }
    if (!named) return r_.error(lineOf(node), path, "needs a name");
    return u;
  }

  Result<CustomizationSpec> parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return r_.error(e.mark.line >= 0 ? e.mark.line + 1 : 1, "", "invalid YAML: " + e.msg);
    }
    auto entries = r_.entries(root, 1, "", "a map of customization settings");
    if (!entries) return entries.error();
    CustomizationSpec spec;
    for (const auto& e : *entries) {
      const std::string& p = e.key;
      if (e.key == "hostname") {
        PADDOCK_TRY_ASSIGN(spec.hostname, r_.scalar(e, p, "a host name"));
        if (auto s = validateName(customizedHostname(spec, "vm"), "host name"); !s)
          return r_.error(e.line, p, s.error().message + " ({name} is the VM's name)");
      } else if (e.key == "domain") {
        PADDOCK_TRY_ASSIGN(spec.domain, r_.scalar(e, p, "a DNS domain"));
        if (!validDomain(spec.domain))
          return r_.error(e.line, p, fmt::format("'{}' is not a DNS domain", spec.domain));
      } else if (e.key == "users") {
        if (!e.value.IsSequence()) return r_.error(e.line, p, "expected a list of users");
        for (size_t i = 0; i < e.value.size(); ++i) {
          PADDOCK_TRY_ASSIGN(auto u, user(e.value[i], fmt::format("users[{}]", i)));
          spec.users.push_back(std::move(u));
        }
      } else if (e.key == "nics") {
        PADDOCK_TRY_ASSIGN(auto modes, strings(e, p, "dhcp, static or none"));
        for (size_t i = 0; i < modes.size(); ++i) {
          const auto& m = modes[i];
          if (m == "dhcp")
            spec.nics.push_back(NicConfigMode::dhcp);
          else if (m == "static")
            spec.nics.push_back(NicConfigMode::static_ip);
          else if (m == "none")
            spec.nics.push_back(NicConfigMode::none);
          else
            return r_.error(lineOf(e.value[i]), fmt::format("nics[{}]", i),
                            fmt::format("'{}' is not dhcp, static or none", m));
        }
      } else if (e.key == "nameservers") {
        PADDOCK_TRY_ASSIGN(spec.nameservers, strings(e, p, "IPv4 addresses"));
        for (size_t i = 0; i < spec.nameservers.size(); ++i)
          if (auto ip = parseIpv4(spec.nameservers[i]); !ip)
            return r_.error(lineOf(e.value[i]), fmt::format("nameservers[{}]", i),
                            ip.error().message);
      } else if (e.key == "runcmd") {
        PADDOCK_TRY_ASSIGN(spec.runcmd, strings(e, p, "shell commands"));
        for (size_t i = 0; i < spec.runcmd.size(); ++i)
          if (spec.runcmd[i].empty() ||
              spec.runcmd[i].find_first_of(std::string("\n\r\0", 3)) != std::string::npos)
            return r_.error(lineOf(e.value[i]), fmt::format("runcmd[{}]", i),
                            "must be one non-empty line (one command per item)");
      } else {
        return r_.error(e.line, p,
                        fmt::format("unknown key '{}' (hostname, domain, users, nics, "
                                    "nameservers, runcmd)",
                                    e.key));
      }
    }
    return spec;
  }

 private:
  YamlReader r_;
};

}  // namespace

Result<CustomizationSpec> parseCustomizationYaml(const std::string& text,
                                                 const std::string& source) {
  return Parser(source).parse(text);
}

}  // namespace paddock
