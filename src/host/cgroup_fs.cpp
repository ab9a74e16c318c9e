#include "host/cgroup_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace paddock::host {

namespace fs = std::filesystem;

namespace {

bool isCgroupFilesystem(const std::string& path) {
  struct statfs st {};
  if (statfs(path.c_str(), &st) != 0) return false;
  return st.f_type == CGROUP_SUPER_MAGIC || st.f_type == CGROUP2_SUPER_MAGIC;
}

Errc errcForErrno(int e) {
  switch (e) {
    case EINVAL:
      return Errc::invalid_argument;
    case EBUSY:
    case EOPNOTSUPP:
      return Errc::conflict;
    case ESRCH:
      return Errc::not_found;
    case EACCES:
    case EPERM:
    case EROFS:
    case ENOENT:
      return Errc::unavailable;
    default:
      return Errc::internal;
  }
}

std::string trimRight(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

}  // namespace

CgroupFs::CgroupFs(std::string mount)
    : mount_(std::move(mount)), plain_(!isCgroupFilesystem(mount_)) {}

std::string CgroupFs::path(const std::string& rel, const std::string& file) const {
  std::string p = mount_;
  if (!rel.empty()) p += "/" + rel;
  if (!file.empty()) p += "/" + file;
  return p;
}

bool CgroupFs::isDir(const std::string& rel) const {
  struct stat st {};
  return stat(path(rel).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool CgroupFs::hasFile(const std::string& rel, const std::string& file) const {
  return access(path(rel, file).c_str(), F_OK) == 0;
}

Result<std::string> CgroupFs::read(const std::string& rel, const std::string& file) const {
  std::string p = path(rel, file);
  int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (plain_ && e == ENOENT) return std::string();
    return makeError(e == ENOENT ? Errc::not_found : errcForErrno(e),
                     fmt::format("cannot read {}: {}", p, strerror(e)));
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return makeError(errcForErrno(e), fmt::format("cannot read {}: {}", p, strerror(e)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return trimRight(std::move(out));
}

Status CgroupFs::write(const std::string& rel, const std::string& file, const std::string& value,
                       const std::string& field) const {
  std::string p = path(rel, file);
  int flags = O_WRONLY | O_CLOEXEC | (plain_ ? O_CREAT | O_TRUNC : 0);
  int fd = open(p.c_str(), flags, 0644);
  if (fd < 0) {
    int e = errno;
    std::string why = e == ENOENT ? "no such control file (controller not enabled?)" : strerror(e);
    return makeError(errcForErrno(e), fmt::format("cannot write {}: {}", p, why), field);
  }
  // Control files take one value per write(2); a short write would be a kernel bug.
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  if (n < 0)
    return makeError(errcForErrno(e),
                     fmt::format("cannot write '{}' to {}: {}", trimRight(value), p, strerror(e)),
                     field);
  return {};
}

Result<bool> CgroupFs::makeGroup(const std::string& rel) const {
  std::string p = path(rel);
  if (mkdir(p.c_str(), 0755) == 0) return true;
  int e = errno;
  if (e == EEXIST) {
    if (isDir(rel)) return false;
    return makeError(Errc::conflict,
                     fmt::format("cannot create cgroup {}: a file is in the way", p));
  }
  return makeError(errcForErrno(e), fmt::format("cannot create cgroup {}: {}", p, strerror(e)));
}

Status CgroupFs::removeGroup(const std::string& rel) const {
  std::string p = path(rel);
  if (plain_) {
    std::error_code ec;
    fs::remove_all(p, ec);
    if (ec) return makeError(Errc::internal, fmt::format("cannot remove {}: {}", p, ec.message()));
    return {};
  }
  // A task that was just killed may still be counted in the group until it has fully exited.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    if (rmdir(p.c_str()) == 0) return {};
    int e = errno;
    if (e == ENOENT) return {};
    if (e == EBUSY && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    std::string why = e == EBUSY       ? "it still holds tasks"
                      : e == ENOTEMPTY ? "it still has child groups"
                                       : strerror(e);
    return makeError(e == EBUSY || e == ENOTEMPTY ? Errc::conflict : errcForErrno(e),
                     fmt::format("cannot remove cgroup {}: {}", p, why));
  }
}

std::vector<std::string> CgroupFs::childGroups(const std::string& rel) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path(rel), ec))
    if (entry.is_directory(ec)) out.push_back(entry.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<pid_t> CgroupFs::ids(const std::string& rel, const std::string& file) const {
  std::vector<pid_t> out;
  auto text = read(rel, file);
  if (!text) return out;
  std::istringstream in(*text);
  long id;
  while (in >> id) out.push_back(static_cast<pid_t>(id));
  return out;
}

std::string parentOf(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

std::string joinRel(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : rel + "/" + name;
}

std::vector<std::string> pathPrefixes(const std::string& rel) {
  std::vector<std::string> out;
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1))
    out.push_back(rel.substr(0, slash));
  if (!rel.empty()) out.push_back(rel);
  return out;
}

Status withHint(Status st, Errc code, const std::string& hint) {
  if (st.ok() || st.error().code != code) return st;
  Error e = st.error();
  e.message += "; " + hint;
  return e;
}

}  // namespace paddock::host
