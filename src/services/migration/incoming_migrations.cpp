#include "services/migration/incoming_migrations.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <random>

#include "common/clock.h"
#include "common/files.h"
#include "model/snapshot.h"
#include "services/backups/backup_repository.h"

namespace paddock {

namespace {

// A file name the source may give: no directories, no hidden files.
bool plainFileName(const std::string& name) {
  if (name.empty() || name.size() > 255 || name[0] == '.') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

bool isCheckFileName(const std::string& name) {
  constexpr std::string_view prefix = ".paddock-check-";
  if (name.size() < prefix.size() + 16 || name.size() > prefix.size() + 64 ||
      name.compare(0, prefix.size(), prefix) != 0)
    return false;
  return std::all_of(name.begin() + static_cast<long>(prefix.size()), name.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string randomId() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

// The files a VM's folder holds: one qcow2 per disk, and the saved state when suspended.
std::vector<std::string> expectedFiles(const VmSpec& spec, VmState state) {
  std::vector<std::string> names;
  for (const auto& d : spec.disks) names.push_back(d.name + ".qcow2");
  if (state == VmState::suspended) names.push_back("suspend.state");
  return names;
}

// Checks `offered` ([{"name", "size"}]) names exactly `expected`, in that order; the sizes.
Result<std::vector<std::uint64_t>> fileSizes(const nlohmann::json& offered,
                                             const std::vector<std::string>& expected,
                                             const char* field) {
  if (!offered.is_array() || offered.size() != expected.size())
    return makeError(Errc::invalid_argument,
                     fmt::format("{} must list {} file(s): {}", field, expected.size(),
                                 fmt::join(expected, ", ")),
                     field);
  std::vector<std::uint64_t> sizes;
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& f = offered[i];
    if (!f.is_object() || f.value("name", "") != expected[i] || !plainFileName(expected[i]) ||
        !f.contains("size") || !f["size"].is_number_unsigned())
      return makeError(Errc::invalid_argument,
                       fmt::format("{}[{}] must be {{\"name\": \"{}\", \"size\": BYTES}}", field, i,
                                   expected[i]),
                       field);
    sizes.push_back(f["size"].get<std::uint64_t>());
  }
  return sizes;
}

Status makeSparseFile(const std::string& path, std::uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0)
    return makeError(Errc::internal, fmt::format("cannot create {}: {}", path, strerror(errno)));
  int rc = ::ftruncate(fd, static_cast<off_t>(size));
  int err = errno;
  ::close(fd);
  if (rc != 0)
    return makeError(Errc::internal, fmt::format("cannot size {}: {}", path, strerror(err)));
  return {};
}

}  // namespace

IncomingMigrations::IncomingMigrations(std::string stateDir, Store& store, VmService& vms,
                                       TemplateService& templates, EventBus& events)
    : stateDir_(std::move(stateDir)),
      store_(store),
      vms_(vms),
      templates_(templates),
      events_(events) {
  reaper_ = std::thread([this] {
    std::unique_lock lock(reaperMutex_);
    while (!stopping_) {
      reaperWake_.wait_for(lock, std::chrono::seconds(5));
      if (stopping_) break;
      lock.unlock();
      dropIdle();
      lock.lock();
    }
  });
}

IncomingMigrations::~IncomingMigrations() {
  {
    std::lock_guard lock(reaperMutex_);
    stopping_ = true;
  }
  reaperWake_.notify_all();
  reaper_.join();
  // A VM still arriving does not outlive this daemon: its source sees the failure and keeps it.
  std::map<std::string, IncomingPtr> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(incoming_);
  }
  for (auto& [id, in] : left) {
    std::lock_guard w(in->writing);
    discard(*in);
  }
}

void IncomingMigrations::discard(Incoming& in) {
  if (in.live) vms_.discardIncoming(in.spec, std::move(in.process));
  (void)removeAll(in.dir);
}

void IncomingMigrations::cleanAll() {
  (void)removeAll(stateDir_ + "/incoming");
}

void IncomingMigrations::dropIdle() {
  std::vector<IncomingPtr> idle;
  {
    std::lock_guard lock(mutex_);
    std::int64_t now = nowMs();
    for (auto it = incoming_.begin(); it != incoming_.end();) {
      if (now - it->second->lastMs > (it->second->live ? kLiveIdleMs : kIdleMs)) {
        idle.push_back(it->second);
        it = incoming_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& in : idle) {
    std::lock_guard w(in->writing);
    discard(*in);
    events_.publish(
        "vm.migration.abandoned", "vm/" + in->spec.name,
        {{"from", in->from},
         {"reason", in->live ? "no word from the source for a minute" : "no data for 10 minutes"}});
  }
}

Status IncomingMigrations::checkTemplate(const VmSpec& spec, const nlohmann::json& offered,
                                         Incoming& in, std::uint64_t& bytes) {
  if (!spec.linkedClone) {
    if (!offered.is_null())
      return makeError(Errc::invalid_argument, "template: only a linked clone brings its template",
                       "template");
    return {};
  }
  auto mine = templates_.get(spec.templateName);
  if (offered.is_null()) {
    if (!mine)
      return makeError(Errc::unprocessable,
                       fmt::format("template '{}' (the linked clone's base) is not on this host "
                                   "and was not sent",
                                   spec.templateName),
                       "template");
    return {};
  }
  auto record = templateFromJson(offered.value("record", nlohmann::json()));
  if (!record || record->name != spec.templateName)
    return makeError(Errc::invalid_argument,
                     fmt::format("template.record must be template '{}'", spec.templateName),
                     "template");
  if (mine)
    return makeError(
        Errc::conflict,
        fmt::format("template '{}' already exists here: it is not sent again", spec.templateName),
        "template");
  std::vector<std::string> names;
  for (const auto& d : record->vm.disks) names.push_back(d.name + ".qcow2");
  auto sizes = fileSizes(offered.value("files", nlohmann::json()), names, "template.files");
  if (!sizes) return sizes.error();
  PADDOCK_TRY(makeDirs(in.dir + "/template", 0750));
  for (size_t i = 0; i < names.size(); ++i) {
    in.files.push_back({in.dir + "/template/" + names[i], (*sizes)[i]});
    bytes += (*sizes)[i];
  }
  in.templ = *record;
  return {};
}

Result<nlohmann::json> IncomingMigrations::prepare(const nlohmann::json& request) {
  dropIdle();
  if (!request.is_object()) return makeError(Errc::invalid_argument, "body must be an object");
  auto spec = vmSpecFromJson(request.value("vm", nlohmann::json()));
  if (!spec) {
    Error e = spec.error();
    e.message = "vm: " + e.message;
    if (e.field.empty()) e.field = "vm";
    return e;
  }
  auto in = std::make_shared<Incoming>();
  in->spec = *spec;
  const auto& live = request.value("live", nlohmann::json(false));
  if (!live.is_boolean())
    return makeError(Errc::invalid_argument, "live must be a boolean", "live");
  in->live = live.get<bool>();
  std::string state = request.value("state", in->live ? "running" : "stopped");
  if (in->live && (state == "running" || state == "paused"))
    in->paused = state == "paused";
  else if (!in->live && state == "suspended")
    in->state = VmState::suspended;
  else if (in->live || state != "stopped")
    return makeError(
        Errc::invalid_argument,
        in->live ? "state must be running or paused" : "state must be stopped or suspended",
        "state");
  in->from = request.value("from", "");
  PADDOCK_TRY(vms_.checkCreate(in->spec));
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, other] : incoming_)
      if (other->spec.name == in->spec.name)
        return makeError(
            Errc::conflict,
            fmt::format("VM '{}' is already arriving (migration {})", in->spec.name, id), "vm");
  }
  in->id = randomId();
  if (in->live) return prepareLive(request, in);
  auto expected = expectedFiles(in->spec, in->state);
  if (!in->spec.storage.empty()) {
    // On shared storage the files are there already: only the definition travels.
    auto folder = checkSharedStorage(request, in->spec);
    if (!folder) return folder.error();
    if (in->state == VmState::suspended && !pathExists(*folder + "/suspend.state"))
      return makeError(Errc::unprocessable,
                       fmt::format("storage '{}': the saved state of VM '{}' is not in {}",
                                   in->spec.storage, in->spec.name, *folder),
                       "storage");
    in->diskFolder = *folder;
    expected.clear();
  } else if (request.contains("shared_storage")) {
    return makeError(Errc::invalid_argument,
                     "shared_storage: the VM's disks are not on a shared storage",
                     "shared_storage");
  }
  auto sizes = fileSizes(request.value("files", nlohmann::json()), expected, "files");
  if (!sizes) return sizes.error();
  const auto& snaps = request.value("snapshots", nlohmann::json::array());
  if (!snaps.is_array())
    return makeError(Errc::invalid_argument, "snapshots must be a list", "snapshots");
  for (const auto& s : snaps) {
    auto r = snapshotFromJson(s);
    if (!r || r->vm != in->spec.name)
      return makeError(Errc::invalid_argument,
                       fmt::format("snapshots: each must be a snapshot of VM '{}'", in->spec.name),
                       "snapshots");
    in->snapshots.push_back(s);
  }
  in->snapshotCurrent = request.value("snapshot_current", nlohmann::json());

  in->dir = stateDir_ + "/incoming/" + in->id;
  PADDOCK_TRY(makeDirs(in->dir + "/disks", 0750));
  std::uint64_t bytes = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    in->files.push_back({in->dir + "/disks/" + expected[i], (*sizes)[i]});
    bytes += (*sizes)[i];
  }
  auto fail = [&](Error e) -> Error {
    (void)removeAll(in->dir);
    return e;
  };
  if (auto s = checkTemplate(in->spec, request.value("template", nlohmann::json()), *in, bytes); !s)
    return fail(s.error());
  struct statvfs fs {};
  if (::statvfs(in->dir.c_str(), &fs) == 0 &&
      static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize < bytes)
    return fail(makeError(Errc::unprocessable,
                          fmt::format("not enough space in {}: {} bytes needed", stateDir_, bytes),
                          "files"));
  for (const auto& f : in->files)
    if (auto s = makeSparseFile(f.path, f.size); !s) return fail(s.error());
  in->lastMs = nowMs();
  {
    std::lock_guard lock(mutex_);
    incoming_[in->id] = in;
  }
  events_.publish("vm.migration.incoming", "vm/" + in->spec.name,
                  {{"from", in->from}, {"bytes", bytes}, {"id", in->id}});
  return nlohmann::json{{"id", in->id}, {"bytes", bytes}, {"files", in->files.size()}};
}

Result<std::string> IncomingMigrations::checkSharedStorage(const nlohmann::json& request,
                                                           const VmSpec& spec) {
  const auto& shared = request.value("shared_storage", nlohmann::json());
  if (!shared.is_object() || shared.value("name", "") != spec.storage)
    return makeError(Errc::invalid_argument,
                     fmt::format("shared_storage: the VM is on storage '{}', and the request "
                                 "does not name it",
                                 spec.storage),
                     "shared_storage");
  auto dir = vms_.sharedStorageDir(spec.storage);
  if (!dir) return dir.error();
  std::string file = shared.value("check_file", "");
  std::string token = shared.value("check_token", "");
  if (!isCheckFileName(file) || token.size() < 16)
    return makeError(Errc::invalid_argument,
                     "shared_storage: check_file (.paddock-check-HEX) and check_token are needed",
                     "shared_storage");
  auto seen = readFile(*dir + "/" + file);
  if (!seen || *seen != token)
    return makeError(Errc::unprocessable,
                     fmt::format("storage '{}' is {} here, which is not the directory the source "
                                 "sees (its check file {} is {}): both hosts must see the same "
                                 "files",
                                 spec.storage, *dir, file, seen ? "different" : "not there"),
                     "storage");
  std::string folder = vms_.diskDirFor(spec);
  for (const auto& d : spec.disks)
    if (!pathExists(folder + "/" + d.name + ".qcow2"))
      return makeError(Errc::unprocessable,
                       fmt::format("storage '{}': disk {} of VM '{}' is not in {}", spec.storage,
                                   d.name, spec.name, folder),
                       "storage");
  return folder;
}

Result<IncomingMigrations::IncomingPtr> IncomingMigrations::find(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = incoming_.find(id);
  if (it == incoming_.end())
    return makeError(Errc::not_found, fmt::format("incoming migration '{}' does not exist", id));
  it->second->lastMs = nowMs();
  return it->second;
}

Status IncomingMigrations::write(const std::string& id, std::size_t index, std::uint64_t offset,
                                 std::string_view data) {
  auto in = find(id);
  if (!in) return in.error();
  std::lock_guard w((*in)->writing);
  if (index >= (*in)->files.size())
    return makeError(Errc::invalid_argument, fmt::format("no file {}", index), "file");
  const File& f = (*in)->files[index];
  if (offset > f.size || data.size() > f.size - offset)
    return makeError(
        Errc::invalid_argument,
        fmt::format("offset {} + {} bytes is past the end ({} bytes)", offset, data.size(), f.size),
        "offset");
  int fd = ::open(f.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return makeError(Errc::internal, fmt::format("cannot open {}: {}", f.path, strerror(errno)));
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return makeError(Errc::internal, fmt::format("cannot write {}: {}", f.path, strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return {};
}

Result<IncomingMigrations::IncomingPtr> IncomingMigrations::take(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = incoming_.find(id);
  if (it == incoming_.end())
    return makeError(Errc::not_found, fmt::format("incoming migration '{}' does not exist", id));
  IncomingPtr in = it->second;
  incoming_.erase(it);
  return in;
}

Status IncomingMigrations::abort(const std::string& id) {
  auto taken = take(id);
  if (!taken) return taken.error();
  IncomingPtr in = *taken;
  std::lock_guard w(in->writing);
  discard(*in);
  events_.publish("vm.migration.aborted", "vm/" + in->spec.name, {{"from", in->from}});
  return {};
}

Result<VmRecord> IncomingMigrations::commit(const std::string& id, const nlohmann::json& request) {
  auto taken = take(id);  // no more writes; on failure the copy goes
  if (!taken) return taken.error();
  IncomingPtr in = *taken;
  std::lock_guard w(in->writing);
  if (in->live) return commitLive(in, request);
  auto fail = [&](Error e) -> Error {
    (void)removeAll(in->dir);
    events_.publish("vm.migration.aborted", "vm/" + in->spec.name,
                    {{"from", in->from}, {"reason", e.message}});
    return e;
  };
  const auto& sums = request.value("sha256", nlohmann::json());
  if (!sums.is_array() || sums.size() != in->files.size())
    return fail(makeError(Errc::invalid_argument,
                          fmt::format("sha256 must list {} checksums", in->files.size()),
                          "sha256"));
  for (size_t i = 0; i < in->files.size(); ++i) {
    auto got = sha256File(in->files[i].path);
    if (!got) return fail(got.error());
    if (!sums[i].is_string() || *got != sums[i].get<std::string>())
      return fail(
          makeError(Errc::unprocessable,
                    fmt::format("{} arrived damaged (SHA-256 {} differs)",
                                std::filesystem::path(in->files[i].path).filename().string(), *got),
                    "sha256"));
  }
  if (in->templ)
    if (auto s = templates_.install(*in->templ, in->dir + "/template"); !s) return fail(s.error());
  std::string reason = in->from.empty() ? "migrated" : "migrated from " + in->from;
  auto rec = vms_.createWithDisks(
      in->spec, in->diskFolder.empty() ? in->dir + "/disks" : in->diskFolder, in->state, reason);
  if (!rec) return fail(rec.error());
  for (const auto& s : in->snapshots)
    (void)store_.createObject(snapshotKind(in->spec.name), s.value("name", ""), s);
  if (in->snapshotCurrent.is_object())
    (void)store_.createObject(kSnapshotCurrentKind, in->spec.name, in->snapshotCurrent);
  (void)removeAll(in->dir);
  events_.publish("vm.migrated.in", "vm/" + in->spec.name,
                  {{"from", in->from}, {"state", vmStateName(in->state)}});
  return rec;
}

}  // namespace paddock
