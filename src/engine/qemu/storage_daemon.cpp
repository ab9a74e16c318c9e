#include "engine/qemu/storage_daemon.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/subprocess.h"

namespace paddock {

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(15);
constexpr auto kQuitGrace = std::chrono::seconds(10);

}  // namespace

std::vector<std::string> storageDaemonArgv(const std::vector<LaunchDisk>& disks,
                                           const std::string& qmpSocket) {
  std::vector<std::string> argv = {
      kStorageDaemonBinary, "--chardev",
      fmt::format("socket,id=qmp,path={},server=on,wait=off", qmpSocket), "--monitor",
      "chardev=qmp"};
  for (const auto& d : disks) {
    argv.push_back("--blockdev");
    argv.push_back(fmt::format("driver=file,filename={},node-name=file-{}", d.path, d.id));
    argv.push_back("--blockdev");
    argv.push_back(fmt::format("driver={},file=file-{},node-name=drive-{}", d.format, d.id, d.id));
  }
  return argv;
}

Result<std::unique_ptr<StorageDaemon>> StorageDaemon::open(const std::string& name,
                                                           const std::vector<LaunchDisk>& disks,
                                                           const std::string& runDir) {
  PADDOCK_TRY(makeDirs(runDir, 0700));
  std::string socket = runDir + "/storage.sock";
  std::string log = runDir + "/storage.log";
  unlink(socket.c_str());
  unlink(log.c_str());
  PADDOCK_TRY_ASSIGN(pid_t pid, spawnBound(storageDaemonArgv(disks, socket), log));
  std::unique_ptr<StorageDaemon> d(new StorageDaemon(name, pid));
  auto client = qmp::QmpClient::connect(socket, kConnectTimeout);
  if (!client) {
    d->reap(true);
    auto text = readFile(log);
    std::string why = text && !text->empty() ? *text : client.error().message;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return makeError(Errc::unavailable,
                     fmt::format("cannot open the disks of '{}': {}", name, why));
  }
  d->qmp_ = std::move(*client);
  d->jobs_ = std::make_unique<QmpBlockJobs>(*d->qmp_);
  return d;
}

void StorageDaemon::reap(bool force) {
  if (pid_ <= 0) return;
  if (force) kill(pid_, SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + kQuitGrace;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      spdlog::warn("storage daemon for '{}' did not quit; killing it", name_);
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
}

StorageDaemon::~StorageDaemon() {
  jobs_.reset();
  if (qmp_) {
    (void)qmp_->quit();
    qmp_->close();
  }
  reap(false);
}

}  // namespace paddock
