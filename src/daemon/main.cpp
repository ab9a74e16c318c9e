// paddockd: one per host. Serves the API, runs VMs, and survives its own restarts without
// touching them.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "api/api_server.h"
#include "common/files.h"
#include "common/names.h"
#include "engine/qemu/qemu_engine.h"
#include "host/cgroups.h"
#include "host/net_host.h"
#include "services/backups/backup_service.h"
#include "services/customization/customization_service.h"
#include "services/host_info.h"
#include "services/host_memory.h"
#include "services/monitoring/collector.h"
#include "services/network/network_service.h"
#include "services/resources/overcommit_manager.h"
#include "services/resources/resource_service.h"
#include "services/snapshots/snapshot_service.h"
#include "services/templates/template_service.h"
#include "store/caching_store.h"
#include "store/metrics_store.h"
#include "store/sqlite/sqlite_store.h"

using namespace paddock;

namespace {

struct Options {
  std::string stateDir;
  std::string listen;
  std::string imageDir;
  std::string dataDir = PADDOCK_DEFAULT_DATA_DIR;
  std::optional<Accel> accel;
  std::string logLevel = "info";
  std::chrono::milliseconds statsInterval = kDefaultSampleInterval;
  std::map<std::string, std::string> sharedStorages;
};

[[noreturn]] void usage(const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "paddockd: %s\n", error.c_str());
  std::fprintf(stderr,
               "usage: paddockd --state-dir DIR [--listen ADDR:PORT] [--image-dir DIR]\n"
               "                [--accel auto|kvm|tcg] [--log-level debug|info|warn]\n"
               "                [--stats-interval 10s]   (1s at least)\n"
               "                [--shared-storage NAME=DIR]...   (a directory other hosts see "
               "too)\n");
  std::exit(2);
}

Options parseArgs(int argc, char** argv) {
  Options o;
  if (const char* d = std::getenv("PADDOCK_DATA_DIR")) o.dataDir = d;
  if (const char* d = std::getenv("PADDOCK_IMAGE_DIR")) o.imageDir = d;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--state-dir") {
      o.stateDir = value();
    } else if (a == "--listen") {
      o.listen = value();
    } else if (a == "--image-dir") {
      o.imageDir = value();
    } else if (a == "--accel") {
      std::string v = value();
      o.accel = accelFromName(v);
      if (!o.accel) usage("--accel must be auto, kvm or tcg");
    } else if (a == "--stats-interval") {
      auto d = parseDuration(value(), "--stats-interval");
      if (!d) usage(d.error().message);
      if (*d < kMinSampleInterval.count()) usage("--stats-interval must be at least 1s");
      o.statsInterval = std::chrono::milliseconds(*d);
    } else if (a == "--shared-storage") {
      std::string v = value();
      auto eq = v.find('=');
      std::string name = v.substr(0, eq), dir = eq == std::string::npos ? "" : v.substr(eq + 1);
      if (auto s = validateName(name, "storage name"); !s || name == "local")
        usage("--shared-storage NAME=DIR: " +
              (s ? "'local' is this host's own disks" : s.error().message));
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      if (dir.empty() || dir.front() != '/')
        usage("--shared-storage NAME=DIR: DIR must be an absolute path");
      struct stat st {};
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        usage("--shared-storage " + name + ": " + dir + " is not a directory");
      if (!o.sharedStorages.emplace(name, dir).second)
        usage("--shared-storage " + name + " is given twice");
    } else if (a == "--log-level") {
      o.logLevel = value();
    } else if (a == "--help" || a == "-h") {
      usage("");
    } else {
      usage("unknown argument " + a);
    }
  }
  if (o.stateDir.empty()) usage("--state-dir is required");
  if (o.stateDir.front() != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) o.stateDir = std::string(cwd) + "/" + o.stateDir;
  }
  if (o.imageDir.empty()) o.imageDir = o.stateDir + "/images";
  return o;
}

Result<std::string> loadOrCreateToken(const std::string& path) {
  if (auto t = readFile(path); t && t->size() >= 32) return t->substr(0, 64);
  unsigned char raw[32];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, raw, sizeof raw) != sizeof raw)
    return makeError(Errc::internal, "cannot read /dev/urandom for the API token");
  close(fd);
  std::string token;
  for (unsigned char c : raw) token += fmt::format("{:02x}", c);
  PADDOCK_TRY(writeFileAtomic(path, token + "\n", 0600));
  return token;
}

Result<std::pair<std::string, int>> splitListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return makeError(Errc::invalid_argument, "--listen must be ADDR:PORT, e.g. 127.0.0.1:8443");
  std::string host = listen.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = std::atoi(listen.substr(colon + 1).c_str());
  if (port < 0 || port > 65535)
    return makeError(Errc::invalid_argument, "--listen port is out of range");
  return std::make_pair(host, port);
}

int fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parseArgs(argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("paddockd"));
  spdlog::set_level(spdlog::level::from_str(opt.logLevel));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // Block the signals we handle before any thread starts, so only sigwait sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  for (const auto& d : {opt.stateDir, opt.stateDir + "/run", opt.stateDir + "/disks"})
    if (auto s = makeDirs(d, 0700); !s) return fail(s.error().message);
  if (auto s = makeDirs(opt.imageDir, 0755); !s) return fail(s.error().message);
  int lockFd = open((opt.stateDir + "/paddockd.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lockFd < 0 || flock(lockFd, LOCK_EX | LOCK_NB) != 0)
    return fail(fmt::format("another paddockd already uses {}", opt.stateDir));

  auto sqlite = SqliteStore::open(opt.stateDir + "/paddock.db");
  if (!sqlite) return fail(sqlite.error().message);
  auto store = CachingStore::open(std::move(*sqlite));
  if (!store) return fail(store.error().message);
  auto token = loadOrCreateToken(opt.stateDir + "/token");
  if (!token) return fail(token.error().message);

  QemuEngine engine;
  ImageStore images(opt.dataDir, opt.imageDir);
  AccelResolver accel(images, opt.imageDir, opt.accel);
  EventBus events(**store);
  OperationManager operations(events);
  VmServiceConfig cfg;
  cfg.stateDir = opt.stateDir;
  cfg.host = readHostLimits();
  cfg.sharedStorages = opt.sharedStorages;
  auto netHost = host::makeIprouteNetHost();
  NetworkService networks(opt.stateDir, **store, *netHost, events);
  // One cgroup root per daemon, named like its network objects so two daemons never collide.
  auto cgroups = host::makeCgroups("paddock-" + HostNames(opt.stateDir).prefix());
  if (!cgroups) spdlog::warn("no resource control: {}", cgroups.error().message);
  ResourceService resources(**store, cgroups ? std::move(*cgroups) : nullptr,
                            cgroups ? "" : cgroups.error().message, cfg.host, networks);
  VmService vms(cfg, **store, engine, images, accel, events, networks, resources);
  HostInfoService host(engine, accel, vms, opt.stateDir);
  auto metrics = MetricsStore::open(opt.stateDir + "/metrics.db");
  if (!metrics) return fail(metrics.error().message);
  Collector collector(vms, networks, **metrics, opt.statsInterval);
  HostMemoryService memory(**store);
  memory.restore();
  OvercommitManager overcommit(vms, collector, **store, events, cfg.host.memoryMib);
  overcommit.restore();

  CustomizationService customizations(**store, events);
  vms.setSeedProvider(&customizations);
  TemplateService templates(opt.stateDir, **store, vms, events);
  templates.cleanPartial();
  SnapshotService snapshots(**store, vms, events);
  BackupService backups(**store, vms, engine, events);
  backups.cleanPartial();
  PeerService peers(**store, opt.stateDir);
  MigrationService migrations(**store, vms, templates, peers, events);
  IncomingMigrations incoming(opt.stateDir, **store, vms, templates, events);
  incoming.cleanAll();
  vms.adoptAll();
  snapshots.cleanPending();
  if (auto all = vms.list()) {
    networks.reconcile(*all);
    resources.reconcile(*all);
  }
  networks.startSupervisor();
  collector.start();
  overcommit.start();
  // Decide the accelerator early so the first start does not wait for the probe.
  std::thread probe([&accel] { accel.hostChoice(); });

  api::ApiServer server(api::ApiContext{vms, operations, events, images, host, networks, collector,
                                        **metrics, memory, overcommit, templates, customizations,
                                        snapshots, backups, peers, migrations, incoming});
  std::string sock = opt.stateDir + "/paddockd.sock";
  if (auto s = server.listenUnix(sock); !s) return fail(s.error().message);
  if (!opt.listen.empty()) {
    auto hp = splitListen(opt.listen);
    if (!hp) return fail(hp.error().message);
    auto port = server.listenTcp(hp->first, hp->second, *token);
    if (!port) return fail(port.error().message);
    spdlog::info("listening on {}:{} (bearer token in {}/token)", hp->first, *port, opt.stateDir);
  }
  if (auto s = server.start(); !s) return fail(s.error().message);
  events.publish("daemon.started", "host", {{"pid", getpid()}});
  // Peers can take a few seconds to answer; the API serves meanwhile.
  std::thread settle([&migrations] { migrations.settleSentAway(); });
  spdlog::info("paddockd {} ready on unix:{} (state {})", PADDOCK_VERSION, sock, opt.stateDir);

  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::info("signal {}: stopping paddockd; VMs keep running", sig);
  events.shutdown();
  server.stop();
  bool drained = operations.drain(std::chrono::seconds(10));
  networks.stopSupervisor();
  overcommit.stop();
  collector.stop();
  (*metrics)->close();  // the history sampled since the last write
  vms.detachAll();
  resources.shutdown();
  probe.join();
  settle.join();
  unlink(sock.c_str());
  spdlog::info("paddockd stopped{}", drained ? "" : " (abandoning unfinished operations)");
  spdlog::shutdown();
  // Unfinished operation threads may still hold references to the services: skip destructors.
  std::fflush(nullptr);
  _exit(0);
}
