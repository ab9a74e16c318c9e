#include "common/files.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

namespace paddock {

namespace fs = std::filesystem;

Result<std::string> readFile(const std::string& path) {
  // Plain read(2): the collector reads /proc files every round, and an ifstream's set-up cost
  // more than the read.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return makeError(Errc::not_found, fmt::format("cannot read {}: {}", path, strerror(errno)));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      int err = errno;
      close(fd);
      return makeError(Errc::not_found, fmt::format("cannot read {}: {}", path, strerror(err)));
    }
  }
  close(fd);
  return out;
}

Status writeFileAtomic(const std::string& path, const std::string& content, int mode) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return makeError(Errc::internal, fmt::format("cannot write {}: {}", tmp, strerror(errno)));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      unlink(tmp.c_str());
      return makeError(Errc::internal, fmt::format("cannot write {}: {}", tmp, strerror(e)));
    }
    off += static_cast<size_t>(n);
  }
  fsync(fd);
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return makeError(Errc::internal, fmt::format("cannot rename {}: {}", tmp, strerror(e)));
  }
  return {};
}

Status makeDirs(const std::string& path, int mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return makeError(Errc::internal, fmt::format("cannot create {}: {}", path, ec.message()));
  fs::permissions(path, static_cast<fs::perms>(mode), ec);
  return {};
}

Status removeAll(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return makeError(Errc::internal, fmt::format("cannot remove {}: {}", path, ec.message()));
  return {};
}

bool pathExists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

}  // namespace paddock
