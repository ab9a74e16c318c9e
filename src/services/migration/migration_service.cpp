#include "services/migration/migration_service.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "common/files.h"
#include "model/snapshot.h"
#include "services/migration/check_file.h"

namespace paddock {

namespace {

std::string mib(std::uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

struct OutFile {
  std::string name;  // as the peer knows it
  std::string path;
  std::uint64_t size = 0;
};

Result<std::uint64_t> fileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return makeError(Errc::internal, fmt::format("cannot stat {}: {}", path, strerror(errno)));
  return static_cast<std::uint64_t>(st.st_size);
}

struct Sha256 {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  Sha256() { EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr); }
  void add(const char* data, std::size_t n) { EVP_DigestUpdate(ctx.get(), data, n); }
  void addZeros(std::uint64_t n) {
    static const std::vector<char> zeros(1 << 20, 0);
    while (n > 0) {
      std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, zeros.size()));
      add(zeros.data(), k);
      n -= k;
    }
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &len);
    std::string out;
    for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
    return out;
  }
};

// What the copy has done so far, for the progress line.
struct Sent {
  std::uint64_t total = 0;
  std::uint64_t done = 0;     // bytes of the files passed (holes and zeros included)
  std::uint64_t written = 0;  // bytes sent
};

Result<std::string> sendFile(const http::Client& peer, const std::string& peerName,
                             const std::string& base, std::size_t index, const OutFile& f,
                             Sent& sent, OperationContext* op) {
  int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return makeError(Errc::internal, fmt::format("cannot open {}: {}", f.path, strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  Sha256 sha;
  std::string buffer(MigrationService::kChunkBytes, '\0');
  std::uint64_t pos = 0;
  auto report = [&] {
    if (!op) return;
    int percent = sent.total ? static_cast<int>(95 * sent.done / sent.total) : 95;
    op->progress(percent, fmt::format("copying {}: {} of {} ({} sent)", f.name, mib(sent.done),
                                      mib(sent.total), mib(sent.written)));
  };
  while (pos < f.size) {
    if (op && op->cancelled()) return makeError(Errc::conflict, "migration cancelled");
    // Holes read as zeros on the peer's sparse file: only their checksum is taken.
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    std::uint64_t dataAt = data < 0 ? f.size : std::min<std::uint64_t>(data, f.size);
    sha.addZeros(dataAt - pos);
    sent.done += dataAt - pos;
    pos = dataAt;
    if (pos >= f.size) break;
    off_t hole = ::lseek(fd, static_cast<off_t>(pos), SEEK_HOLE);
    std::uint64_t holeAt = hole < 0 ? f.size : std::min<std::uint64_t>(hole, f.size);
    while (pos < holeAt) {
      if (op && op->cancelled()) return makeError(Errc::conflict, "migration cancelled");
      std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), holeAt - pos));
      ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(pos));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return makeError(Errc::internal, fmt::format("cannot read {}: {}", f.path,
                                                     n < 0 ? strerror(errno) : "file shrank"));
      std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
      sha.add(chunk.data(), chunk.size());
      if (chunk.find_first_not_of('\0') != std::string_view::npos) {
        auto put = PeerService::callRaw(peer, peerName, "PUT",
                                        fmt::format("{}/files/{}?offset={}", base, index, pos),
                                        chunk, std::chrono::seconds(120));
        if (!put) return put.error();
        sent.written += chunk.size();
      }
      pos += chunk.size();
      sent.done += chunk.size();
      report();
    }
  }
  report();
  return sha.hex();
}

}  // namespace

Status MigrationService::check(const std::string& vm, const std::string& peer,
                               const MigrationOptions& options) {
  auto rec = vms_.get(vm);
  if (!rec) return rec.error();
  VmState state = rec->runtime.state;
  if (!options.live && hasProcess(state))
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' is {}: stop or suspend it first, or migrate it live", vm,
                                 vmStateName(state)));
  if (options.live && state != VmState::running && state != VmState::paused)
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' is {}: only a running or paused VM migrates live "
                                 "(migrate it without live)",
                                 vm, vmStateName(state)));
  if (options.live) {
    if (auto snaps = store_.listObjects(snapshotKind(vm)); snaps && !snaps->empty())
      return makeError(Errc::conflict,
                       fmt::format("VM '{}' has {} snapshot(s): they live inside its disk images "
                                   "and a live migration copies only the current state; delete "
                                   "them or migrate it stopped",
                                   vm, snaps->size()));
    if (options.postCopy && state != VmState::running)
      return makeError(Errc::conflict,
                       fmt::format("VM '{}' is {}: post-copy switches a running guest over "
                                   "(migrate a paused one without it)",
                                   vm, vmStateName(state)),
                       "post_copy");
    if (options.maxDowntimeMs < 1 || options.maxDowntimeMs > 60'000)
      return makeError(Errc::invalid_argument, "max_downtime_ms must be 1..60000",
                       "max_downtime_ms");
    if (options.bandwidthMib > (std::uint64_t{1} << 20))
      return makeError(Errc::invalid_argument, "bandwidth_mib must be at most 1048576 (1 TiB/s)",
                       "bandwidth_mib");
  }
  if (peer.empty()) return makeError(Errc::invalid_argument, "to: name the peer host", "to");
  if (auto p = peers_.get(peer); !p) {
    Error e = p.error();
    e.field = "to";
    return e;
  }
  return {};
}

Result<nlohmann::json> MigrationService::migrate(const std::string& name, const std::string& peer,
                                                 const MigrationOptions& options,
                                                 OperationContext* op) {
  if (options.live) return migrateLive(name, peer, options, op);
  return migrateCold(name, peer, op);
}

Result<nlohmann::json> MigrationService::migrateCold(const std::string& name,
                                                     const std::string& peer,
                                                     OperationContext* op) {
  PADDOCK_TRY(check(name, peer, MigrationOptions{}));
  auto client = peers_.client(peer);
  if (!client) return client.error();
  const http::Client& c = *client;
  Sent sent;
  std::string movedState;
  char host[256] = {};
  gethostname(host, sizeof host - 1);

  Status handed = vms_.handOver(name, [&](const VmRecord& rec) -> Status {
    const VmSpec& spec = rec.spec;
    bool suspended = rec.runtime.state == VmState::suspended;
    movedState = suspended ? "suspended" : "stopped";
    std::vector<OutFile> files;
    nlohmann::json vmFiles = nlohmann::json::array();
    auto addFile = [&](const std::string& fileName, const std::string& path,
                       nlohmann::json& list) -> Status {
      auto size = fileSize(path);
      if (!size) return size.error();
      files.push_back({fileName, path, *size});
      list.push_back({{"name", fileName}, {"size", *size}});
      sent.total += *size;
      return {};
    };
    // On shared storage the target sees the files already (shown by a check file).
    bool shared = !spec.storage.empty();
    auto checkFile = CheckFile::forStorage(spec.storage, vms_.sharedStorageDir(spec.storage));
    if (!checkFile) return checkFile.error();
    std::optional<CheckFile> check = std::move(*checkFile);
    for (const auto& d : spec.disks)
      if (!shared)
        PADDOCK_TRY(
            addFile(d.name + ".qcow2", vms_.diskDir(name) + "/" + d.name + ".qcow2", vmFiles));
    if (suspended && !shared) PADDOCK_TRY(addFile("suspend.state", vms_.statePath(name), vmFiles));

    nlohmann::json templ = nullptr;
    if (spec.linkedClone) {
      auto there = PeerService::call(c, peer, "GET", "/v1/templates/" + spec.templateName);
      if (!there && there.error().code != Errc::not_found) return there.error();
      if (!there) {
        auto t = templates_.get(spec.templateName);
        if (!t) return t.error();
        nlohmann::json tFiles = nlohmann::json::array();
        for (const auto& d : t->vm.disks)
          PADDOCK_TRY(addFile(d.name + ".qcow2",
                              templates_.templateDir(t->name) + "/" + d.name + ".qcow2", tFiles));
        templ = {{"record", toJson(*t)}, {"files", tFiles}};
      }
    }
    nlohmann::json snapshots = nlohmann::json::array();
    if (auto all = store_.listObjects(snapshotKind(name)))
      for (const auto& s : *all) snapshots.push_back(s);
    nlohmann::json current = nullptr;
    if (auto cur = store_.getObject(kSnapshotCurrentKind, name)) current = *cur;

    if (op) op->progress(0, fmt::format("checking that {} can take VM {}", peer, name));
    nlohmann::json request = {{"vm", toJson(spec)},     {"state", movedState},
                              {"from", host},           {"files", vmFiles},
                              {"snapshots", snapshots}, {"snapshot_current", current},
                              {"template", templ}};
    if (check) request["shared_storage"] = check->request(spec.storage);
    auto prepared = PeerService::call(c, peer, "POST", "/v1/migrations/incoming", request);
    check.reset();
    if (!prepared) return prepared.error();
    std::string base = "/v1/migrations/incoming/" + prepared->value("id", "");
    auto abandon = [&](Error e) -> Error {
      (void)PeerService::call(c, peer, "DELETE", base, nullptr, std::chrono::seconds(30));
      return e;
    };
    nlohmann::json sums = nlohmann::json::array();
    for (size_t i = 0; i < files.size(); ++i) {
      auto sum = sendFile(c, peer, base, i, files[i], sent, op);
      if (!sum) return abandon(sum.error());
      sums.push_back(*sum);
    }
    if (op && op->cancelled()) return abandon(makeError(Errc::conflict, "migration cancelled"));
    if (op) op->progress(96, fmt::format("{} verifies the copy and registers VM {}", peer, name));
    auto committed = PeerService::call(c, peer, "POST", base + "/commit", {{"sha256", sums}},
                                       std::chrono::minutes(30));
    if (!committed) {
      // The peer removes the copy itself when its commit fails; a lost answer leaves it to
      // the peer's idle timeout, and this VM stays here.
      (void)abandon(committed.error());
      return committed.error();
    }
    return {};
  });
  if (!handed) {
    events_.publish("vm.migration.failed", "vm/" + name,
                    {{"to", peer}, {"error", handed.error().message}});
    return handed.error();
  }
  events_.publish("vm.migrated", "vm/" + name,
                  {{"to", peer}, {"state", movedState}, {"bytes_sent", sent.written}});
  return nlohmann::json{{"vm", name},
                        {"to", peer},
                        {"state", movedState},
                        {"bytes_total", sent.total},
                        {"bytes_sent", sent.written}};
}

}  // namespace paddock
