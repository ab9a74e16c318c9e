#include "host/ksm.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/files.h"

namespace paddock::host {

namespace {

std::string path(const std::string& root, const char* name) {
  return fmt::format("{}/sys/kernel/mm/ksm/{}", root, name);
}

// sysfs takes a plain write; writeFileAtomic's rename would not work there.
Status write(const std::string& root, const char* name, std::uint64_t value) {
  std::string p = path(root, name);
  std::string text = std::to_string(value) + "\n";
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int err = errno;
  if (fd >= 0) ::close(fd);
  if (!ok)
    return makeError(Errc::unavailable,
                     fmt::format("cannot set KSM {}: {}", name, std::strerror(err)));
  return {};
}

Result<std::uint64_t> read(const std::string& root, const char* name) {
  auto text = readFile(path(root, name));
  if (!text) return makeError(Errc::unavailable, "this kernel has no KSM (/sys/kernel/mm/ksm)");
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return makeError(Errc::internal, fmt::format("cannot parse {}", path(root, name)));
  }
}

}  // namespace

Status applyKsm(const KsmSettings& s, const std::string& root) {
  if (s.pagesToScan == 0 || s.pagesToScan > 100000)
    return makeError(Errc::invalid_argument, "pages_to_scan must be between 1 and 100000",
                     "pages_to_scan");
  if (s.sleepMillisecs == 0 || s.sleepMillisecs > 60000)
    return makeError(Errc::invalid_argument, "sleep_millisecs must be between 1 and 60000",
                     "sleep_millisecs");
  if (auto run = read(root, "run"); !run) return run.error();
  PADDOCK_TRY(write(root, "pages_to_scan", s.pagesToScan));
  PADDOCK_TRY(write(root, "sleep_millisecs", s.sleepMillisecs));
  if (s.run) return write(root, "run", 1);
  PADDOCK_TRY(write(root, "run", 2));  // unmerge everything
  return write(root, "run", 0);
}

Result<KsmSettings> readKsm(const std::string& root) {
  KsmSettings s;
  auto run = read(root, "run");
  if (!run) return run.error();
  auto pages = read(root, "pages_to_scan");
  if (!pages) return pages.error();
  auto sleep = read(root, "sleep_millisecs");
  if (!sleep) return sleep.error();
  s.run = *run == 1;
  s.pagesToScan = *pages;
  s.sleepMillisecs = *sleep;
  return s;
}

}  // namespace paddock::host
