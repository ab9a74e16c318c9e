#include "services/backups/backup_repository.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/subprocess.h"

namespace paddock {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPartial = ".partial-";
constexpr const char* kManifest = "manifest.json";

Status fsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0)
    return makeError(Errc::unavailable, fmt::format("cannot open {}: {}", path, strerror(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0)
    return makeError(Errc::unavailable, fmt::format("cannot sync {}: {}", path, strerror(err)));
  return {};
}

std::string utcStamp(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

Result<std::string> sha256File(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return makeError(Errc::not_found, fmt::format("cannot open {}: {}", path, strerror(errno)));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    return makeError(Errc::internal, "cannot initialise SHA-256");
  }
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return makeError(Errc::unavailable, fmt::format("cannot read {}: {}", path, strerror(err)));
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

Status BackupRepository::checkUsable(const std::string& path) {
  if (path.empty() || path[0] != '/')
    return makeError(Errc::invalid_argument, "repository path must be absolute", "path");
  if (auto s = makeDirs(path, 0750); !s)
    return makeError(Errc::invalid_argument,
                     fmt::format("cannot create repository folder {}: {}", path, s.error().message),
                     "path");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return makeError(Errc::invalid_argument, fmt::format("{} is not a folder", path), "path");
  std::string probe = path + "/.paddock-write-test";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, "x", 1) != 1) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(probe.c_str());
    return makeError(Errc::invalid_argument,
                     fmt::format("repository path {} is not writable: {}", path, strerror(err)),
                     "path");
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return {};
}

std::string BackupRepository::dir(const std::string& vm, const std::string& id) const {
  return root_ + "/" + vm + "/" + id;
}

std::string BackupRepository::partialDir(const std::string& vm, const std::string& id) const {
  return root_ + "/" + vm + "/" + kPartial + id;
}

std::string BackupRepository::newId(const std::string& vm, int64_t ms) const {
  std::string base = utcStamp(ms);
  std::string id = base;
  for (int n = 2; pathExists(dir(vm, id)) || pathExists(partialDir(vm, id)); ++n)
    id = fmt::format("{}-{}", base, n);
  return id;
}

std::vector<std::string> BackupRepository::vms() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_, ec))
    if (e.is_directory() && e.path().filename().string()[0] != '.')
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> BackupRepository::backupIds(const std::string& vm) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ + "/" + vm, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && name[0] != '.') out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<BackupManifest> BackupRepository::get(const std::string& vm, const std::string& id) const {
  std::string path = dir(vm, id) + "/" + kManifest;
  if (!pathExists(dir(vm, id)))
    return makeError(Errc::not_found, fmt::format("VM '{}' has no backup '{}'", vm, id));
  PADDOCK_TRY_ASSIGN(auto text, readFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    return makeError(Errc::invalid_argument, fmt::format("{} is not valid JSON", path));
  auto m = backupManifestFromJson(j);
  if (!m) return makeError(m.error().code, fmt::format("{}: {}", path, m.error().message));
  if (m->vm != vm || m->id != id)
    return makeError(Errc::invalid_argument,
                     fmt::format("{} describes {}/{}, not {}/{}", path, m->vm, m->id, vm, id));
  return m;
}

Result<std::vector<BackupManifest>> BackupRepository::list(const std::string& vm) const {
  std::vector<BackupManifest> out;
  for (const auto& id : backupIds(vm)) {
    auto m = get(vm, id);
    if (!m) {
      spdlog::warn("backup repository {}: {}", root_, m.error().message);
      continue;
    }
    out.push_back(std::move(*m));
  }
  std::sort(out.begin(), out.end(), [](const BackupManifest& a, const BackupManifest& b) {
    return a.createdAtMs != b.createdAtMs ? a.createdAtMs < b.createdAtMs : a.id < b.id;
  });
  return out;
}

Status BackupRepository::commit(BackupManifest& m) const {
  std::string partial = partialDir(m.vm, m.id);
  for (auto& d : m.disks) {
    std::string file = partial + "/" + d.disk + ".qcow2";
    PADDOCK_TRY(fsyncPath(file, false));
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0)
      return makeError(Errc::unavailable, fmt::format("backup file {} is missing", file));
    d.fileBytes = static_cast<std::uint64_t>(st.st_size);
    PADDOCK_TRY_ASSIGN(d.sha256, sha256File(file));
  }
  PADDOCK_TRY(writeFileAtomic(partial + "/" + kManifest, toJson(m).dump(2) + "\n", 0640));
  PADDOCK_TRY(fsyncPath(partial, true));
  if (::rename(partial.c_str(), dir(m.vm, m.id).c_str()) != 0)
    return makeError(Errc::unavailable,
                     fmt::format("cannot rename {}: {}", partial, strerror(errno)));
  return fsyncPath(root_ + "/" + m.vm, true);
}

Status BackupRepository::remove(const std::string& vm, const std::string& id) const {
  // The manifest goes first: a removal cut short leaves a folder that is not a backup.
  std::string d = dir(vm, id);
  if (::unlink((d + "/" + kManifest).c_str()) != 0 && errno != ENOENT)
    return makeError(Errc::unavailable,
                     fmt::format("cannot remove {}/{}: {}", d, kManifest, strerror(errno)));
  PADDOCK_TRY(removeAll(d));
  (void)fsyncPath(root_ + "/" + vm, true);
  return {};
}

int BackupRepository::cleanPartial() const {
  int removed = 0;
  for (const auto& vm : vms()) {
    std::error_code ec;
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(root_ + "/" + vm, ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind(kPartial, 0) == 0) found.push_back(e.path().string());
    }
    for (const auto& path : found) {
      spdlog::info("removing {}, an interrupted backup", path);
      if (removeAll(path)) ++removed;
    }
    // A backup whose removal was cut short: no manifest, not a backup, nothing depends on it.
    for (const auto& id : backupIds(vm))
      if (!pathExists(dir(vm, id) + "/" + kManifest)) {
        spdlog::info("removing {}, a backup without manifest", dir(vm, id));
        if (removeAll(dir(vm, id))) ++removed;
      }
  }
  return removed;
}

BackupCheck BackupRepository::check(const std::string& vm, const std::string& id,
                                    std::map<std::string, BackupCheck>& done) const {
  if (auto it = done.find(id); it != done.end()) return it->second;
  BackupCheck c{vm, id, false, ""};
  done[id] = BackupCheck{vm, id, false, "its parent chain loops"};
  auto m = get(vm, id);
  if (!m) {
    c.problem = m.error().message;
    return done[id] = c;
  }
  for (const auto& d : m->disks) {
    std::string file = dir(vm, id) + "/" + d.disk + ".qcow2";
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      c.problem = fmt::format("disk {}: file {} is missing", d.disk, file);
      return done[id] = c;
    }
    if (static_cast<std::uint64_t>(st.st_size) != d.fileBytes) {
      c.problem = fmt::format("disk {}: file is {} bytes, the manifest says {}", d.disk, st.st_size,
                              d.fileBytes);
      return done[id] = c;
    }
    auto sum = sha256File(file);
    if (!sum || *sum != d.sha256) {
      c.problem = sum ? fmt::format("disk {}: SHA-256 mismatch (file changed since backup)", d.disk)
                      : sum.error().message;
      return done[id] = c;
    }
    auto out = runCommand({"qemu-img", "check", "-q", file}, std::chrono::minutes(30));
    // 3: leaked clusters only (space, not data).
    if (!out || (out->exitCode != 0 && out->exitCode != 3)) {
      c.problem = fmt::format("disk {}: qemu-img check failed: {}", d.disk,
                              out ? out->err + out->out : out.error().message);
      while (!c.problem.empty() && c.problem.back() == '\n') c.problem.pop_back();
      return done[id] = c;
    }
  }
  if (!m->full) {
    auto parent = check(vm, m->parent, done);
    if (!parent.ok) {
      c.problem = fmt::format("parent {} is not sound: {}", m->parent, parent.problem);
      return done[id] = c;
    }
  }
  c.ok = true;
  return done[id] = c;
}

Result<std::vector<BackupCheck>> BackupRepository::verify(const std::string& vm,
                                                          const std::string& id) const {
  std::map<std::string, BackupCheck> done;
  std::vector<BackupCheck> out;
  if (!id.empty()) {
    if (!pathExists(dir(vm, id)))
      return makeError(Errc::not_found, fmt::format("VM '{}' has no backup '{}'", vm, id));
    out.push_back(check(vm, id, done));
    return out;
  }
  for (const auto& b : backupIds(vm)) out.push_back(check(vm, b, done));
  return out;
}

Result<RepoSpace> BackupRepository::space() const {
  struct statvfs st {};
  if (::statvfs(root_.c_str(), &st) != 0)
    return makeError(Errc::unavailable, fmt::format("cannot stat {}: {}", root_, strerror(errno)));
  return RepoSpace{static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize,
                   static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize};
}

}  // namespace paddock
