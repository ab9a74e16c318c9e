#include "common/procfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <sstream>

#include <fmt/format.h>

#include "common/files.h"

namespace paddock {

namespace {

Result<std::string> readProc(const std::string& path) {
  auto text = readFile(path);
  if (!text) return makeError(Errc::not_found, fmt::format("cannot read {}", path));
  return *text;
}

Error unparsable(const std::string& path) {
  return makeError(Errc::internal, fmt::format("cannot parse {}", path));
}

bool toU64(const std::string& s, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// The value of "Key:   123 kB" in the text of a /proc status-like file, times 1024 when in kB.
Result<std::uint64_t> keyedBytesIn(const std::string& text, const std::string& path,
                                   const std::string& key) {
  size_t at = text.rfind(key + ":", 0) == 0 ? 0 : text.find("\n" + key + ":");
  if (at == std::string::npos)
    return makeError(Errc::not_found, fmt::format("{} has no {}", path, key));
  if (at != 0) ++at;
  std::istringstream fields(text.substr(at + key.size() + 1, 64));
  std::string number, unit;
  fields >> number >> unit;
  std::uint64_t v = 0;
  if (!toU64(number, v)) return unparsable(path);
  return unit == "kB" ? v * 1024 : v;
}

// A sysfs file holding one number.
Result<std::uint64_t> numberIn(Result<std::string> text, const std::string& path) {
  if (!text) return text.error();
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  std::uint64_t v = 0;
  if (!toU64(t, v)) return unparsable(path);
  return v;
}

}  // namespace

ProcFiles::~ProcFiles() {
  for (auto& [path, fd] : fds_) ::close(fd);
}

Result<std::string> ProcFiles::read(const std::string& path) {
  auto it = fds_.find(path);
  if (it == fds_.end()) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return makeError(Errc::not_found, fmt::format("cannot read {}", path));
    it = fds_.emplace(path, fd).first;
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::pread(it->second, buf, sizeof buf, static_cast<off_t>(text.size()));
    if (n < 0) {
      ::close(it->second);
      fds_.erase(it);
      return makeError(Errc::not_found, fmt::format("cannot read {}", path));
    }
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

Result<std::uint64_t> ProcReader::rssBytes(pid_t pid) const {
  // statm ("size resident shared ..." in pages) is what status's VmRSS says, without the cost
  // of status's many other lines (reading QEMU's status took ~100 us here).
  std::string path = fmt::format("{}/proc/{}/statm", root, pid);
  auto text = readProc(path);
  if (!text) return text.error();
  std::istringstream in(*text);
  std::uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return unparsable(path);
  return resident * static_cast<std::uint64_t>(getpagesize());
}

Result<std::uint64_t> ProcReader::ksmMergingPages(pid_t pid) const {
  std::string path = fmt::format("{}/proc/{}/ksm_merging_pages", root, pid);
  return numberIn(readProc(path), path);
}

Result<ProcReader::CpuTimes> ProcReader::hostCpu() const {
  std::string path = root + "/proc/stat";
  auto text = files.read(path);
  if (!text) return text.error();
  std::istringstream in(*text);
  std::string label;
  in >> label;
  if (label != "cpu") return unparsable(path);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user/nice).
  CpuTimes t;
  for (int i = 0; i < 8; ++i) {
    std::string w;
    std::uint64_t v = 0;
    if (!(in >> w) || !toU64(w, v)) return unparsable(path);
    t.total += v;
    if (i != 3 && i != 4) t.busy += v;
  }
  return t;
}

Result<ProcReader::Memory> ProcReader::hostMemory() const {
  std::string path = root + "/proc/meminfo";
  auto text = files.read(path);
  if (!text) return text.error();
  auto total = keyedBytesIn(*text, path, "MemTotal");
  if (!total) return total.error();
  auto available = keyedBytesIn(*text, path, "MemAvailable");
  if (!available) return available.error();
  return Memory{*total, *available};
}

Result<ProcReader::Ksm> ProcReader::ksm() const {
  auto value = [&](const char* name) {
    std::string path = fmt::format("{}/sys/kernel/mm/ksm/{}", root, name);
    return numberIn(files.read(path), path);
  };
  auto run = value("run");
  if (!run) return run.error();
  auto shared = value("pages_shared");
  if (!shared) return shared.error();
  auto sharing = value("pages_sharing");
  if (!sharing) return sharing.error();
  return Ksm{*run == 1, *shared, *sharing};
}

Result<double> ProcReader::pressure(const std::string& resource) const {
  std::string path = fmt::format("{}/proc/pressure/{}", root, resource);
  auto text = files.read(path);
  if (!text) return text.error();
  auto at = text->find("some avg10=");
  if (at == std::string::npos) return unparsable(path);
  try {
    return std::stod(text->substr(at + 11));
  } catch (const std::exception&) {
    return unparsable(path);
  }
}

}  // namespace paddock
