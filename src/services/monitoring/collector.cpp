#include "services/monitoring/collector.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace paddock {

using nlohmann::json;

namespace {

// Rollups and retention run once per bucket of the finest rollup level, just after it ends
// (and at start): nothing new would roll up in between.
constexpr std::int64_t kMaintainEveryMs = kResolutions[1].stepMs;

std::uint64_t threadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Records a VM's (or the host's) values; NaN (a counter that went backwards) is left out.
class Sink {
 public:
  explicit Sink(std::vector<LiveReading>& into) : into_(into) {}
  void add(const char* name, double value) { add(name, std::string(), value); }
  void add(const char* name, std::string label, double value) {
    if (std::isfinite(value)) into_.push_back({name, std::move(label), value});
  }

 private:
  std::vector<LiveReading>& into_;
};

// (now - before) / seconds, or NaN when a counter went backwards (a restarted process).
double rate(std::uint64_t now, std::uint64_t before, double seconds) {
  if (now < before || seconds <= 0) return NAN;
  return static_cast<double>(now - before) / seconds;
}

}  // namespace

Collector::Collector(VmService& vms, NetworkService& networks, MetricsStore& store,
                     std::chrono::milliseconds interval)
    : vms_(vms),
      networks_(networks),
      store_(store),
      interval_(interval),
      memoryInterval_(std::max(interval, kMemorySampleInterval)) {}

Collector::~Collector() {
  stop();
}

void Collector::start() {
  worker_.start(interval_, /*runFirst=*/true, [this] {
    std::uint64_t before = threadCpuNs();
    sampleOnce();
    ownCpuNs_ += threadCpuNs() - before;
  });
}

void Collector::stop() {
  worker_.stop();
}

void Collector::sampleOnce() {
  std::int64_t now = nowMs();
  auto live = std::make_shared<LiveSnapshot>();
  live->tsMs = now;
  live->intervalMs = interval_.count();
  int running = 0;
  if (auto vms = vms_.list()) {
    auto processes = vms_.processes();
    std::map<std::string, Tracked> kept;
    std::vector<Asked> round;
    live->vms.reserve(vms->size());  // Asked::live points into it
    for (const auto& vm : *vms) {
      LiveVm& entry = live->vms.emplace_back();
      entry.name = vm.spec.name;
      entry.state = vm.runtime.state;
      auto process = processes.find(vm.spec.name);
      if (!hasProcess(vm.runtime.state) || process == processes.end()) continue;
      ++running;
      Tracked* t = track(vm.spec.name, process->second);
      if (!t) continue;
      Asked& a = round.emplace_back();
      a.vm = &vm;
      a.tracked = t;
      a.live = &entry;
      a.disks = process->second->requestDiskCounters();
      if (now - t->memoryTsMs >= memoryInterval_.count())
        a.memory = process->second->requestMemoryCounters();
    }
    for (Asked& a : round) sampleVm(a, now);
    for (Asked& a : round) kept.insert(tracked_.extract(a.vm->spec.name));
    tracked_ = std::move(kept);  // forget VMs that stopped or went away
  }
  sampleHost(running, live->host);
  {
    std::lock_guard lock(liveMutex_);
    live_ = live;
  }
  if (auto s = store_.append(std::move(live)); !s)
    spdlog::warn("metrics: cannot store samples: {}", s.error().message);
  if (lastMaintainMs_ == 0 || now / kMaintainEveryMs != lastMaintainMs_ / kMaintainEveryMs) {
    lastMaintainMs_ = now;
    if (auto s = store_.maintain(now); !s)
      spdlog::warn("metrics: cannot roll up history: {}", s.error().message);
  }
}

void Collector::sampleMemory(const VmRecord& vm, pid_t pid, MemoryCounters* m, Tracked& t,
                             std::int64_t nowMs) {
  std::vector<LiveReading> memory;
  Sink sink(memory);
  sink.add("memory_configured_bytes", static_cast<double>(vm.spec.memoryMib) * 1024 * 1024);
  if (m) {
    sink.add("memory_balloon_bytes", static_cast<double>(m->balloonBytes));
    if (m->guestFreeBytes >= 0)
      sink.add("memory_guest_free_bytes", static_cast<double>(m->guestFreeBytes));
    if (m->guestAvailableBytes >= 0)
      sink.add("memory_guest_available_bytes", static_cast<double>(m->guestAvailableBytes));
  }
  if (auto rss = proc_.rssBytes(pid)) sink.add("memory_rss_bytes", static_cast<double>(*rss));
  if (auto ksm = proc_.ksmMergingPages(pid))
    sink.add("memory_ksm_bytes", static_cast<double>(*ksm) * static_cast<double>(getpagesize()));
  t.memory = std::move(memory);
  t.memoryTsMs = nowMs;
}

Collector::Tracked* Collector::track(const std::string& name,
                                     const std::shared_ptr<VmProcess>& process) {
  Tracked& t = tracked_[name];
  if (t.process.lock() == process && t.probe) return &t;
  auto threads = process->vcpuThreads();
  if (!threads) {
    spdlog::debug("metrics: VM {}: {}", name, threads.error().message);
    return nullptr;
  }
  t = Tracked{};
  t.process = process;
  t.probe = std::make_unique<ProcessProbe>(process->pid(), *threads, proc_.root);
  return &t;
}

void Collector::sampleVm(Asked& asked, std::int64_t nowMs) {
  const VmRecord& vm = *asked.vm;
  const std::string& name = vm.spec.name;
  Tracked& t = *asked.tracked;
  LiveVm& live = *asked.live;
  Sink sink(live.readings);
  if (asked.memory) {
    auto m = asked.memory();
    if (!m) spdlog::debug("metrics: VM {}: {}", name, m.error().message);
    sampleMemory(vm, t.probe->pid(), m ? &*m : nullptr, t, nowMs);
  }
  live.sampled = true;
  live.readings = t.memory;
  live.memoryTsMs = t.memoryTsMs;

  Counters now;
  now.tsMs = nowMs;
  if (auto cpu = t.probe->processCpuNs()) now.cpuNs = *cpu;
  now.vcpuNs.resize(t.probe->threadCount());
  for (size_t i = 0; i < t.probe->threadCount(); ++i) {
    if (auto times = t.probe->thread(i)) {
      now.vcpuNs[i] = times->runNs;
      now.waitNs += times->waitNs;
    }
  }
  if (auto disks = asked.disks()) {
    for (auto& d : *disks) now.disks.emplace(d.disk, std::move(d));
  } else {
    spdlog::debug("metrics: VM {}: {}", name, disks.error().message);
  }
  if (!vm.spec.nics.empty())
    for (auto& n : networks_.nicStats(vm.spec)) {
      std::string mac = n.value("mac", "");
      now.nics[mac] = std::move(n);
    }

  if (t.havePrevious && nowMs > t.previous.tsMs) {
    const Counters& p = t.previous;
    double s = static_cast<double>(nowMs - p.tsMs) / 1000.0;
    // ns per s → percent of one CPU: / 1e9 * 100.
    sink.add("cpu_percent", rate(now.cpuNs, p.cpuNs, s) / 1e7);
    sink.add("cpu_ready_percent", rate(now.waitNs, p.waitNs, s) / 1e7);
    for (size_t i = 0; i < now.vcpuNs.size() && i < p.vcpuNs.size(); ++i)
      sink.add("vcpu_percent", std::to_string(i), rate(now.vcpuNs[i], p.vcpuNs[i], s) / 1e7);
    for (const auto& [disk, d] : now.disks) {
      auto b = p.disks.find(disk);
      if (b == p.disks.end()) continue;
      const DiskCounters& o = b->second;
      sink.add("disk_read_bytes_per_second", disk, rate(d.readBytes, o.readBytes, s));
      sink.add("disk_write_bytes_per_second", disk, rate(d.writeBytes, o.writeBytes, s));
      sink.add("disk_read_ops_per_second", disk, rate(d.readOps, o.readOps, s));
      sink.add("disk_write_ops_per_second", disk, rate(d.writeOps, o.writeOps, s));
      auto latency = [](std::uint64_t t, std::uint64_t t0, std::uint64_t n, std::uint64_t n0) {
        if (n <= n0 || t < t0) return 0.0;
        return static_cast<double>(t - t0) / static_cast<double>(n - n0) / 1e6;
      };
      sink.add("disk_read_latency_ms", disk,
               latency(d.readTimeNs, o.readTimeNs, d.readOps, o.readOps));
      sink.add("disk_write_latency_ms", disk,
               latency(d.writeTimeNs, o.writeTimeNs, d.writeOps, o.writeOps));
    }
    for (const auto& [mac, n] : now.nics) {
      auto b = p.nics.find(mac);
      if (b == p.nics.end() || !n.contains("rx_bytes") || !b->second.contains("rx_bytes"))
        continue;  // a user-mode NIC has no counters; a new TAP has no history yet
      auto field = [&](const json& j, const char* key) { return j.value(key, std::uint64_t{0}); };
      for (auto [metric, key] : {std::pair{"net_rx_bytes_per_second", "rx_bytes"},
                                 std::pair{"net_tx_bytes_per_second", "tx_bytes"},
                                 std::pair{"net_rx_packets_per_second", "rx_packets"},
                                 std::pair{"net_tx_packets_per_second", "tx_packets"},
                                 std::pair{"net_rx_dropped_per_second", "rx_dropped"},
                                 std::pair{"net_tx_dropped_per_second", "tx_dropped"}})
        sink.add(metric, mac, rate(field(n, key), field(b->second, key), s));
    }
  }
  t.previous = std::move(now);
  t.havePrevious = true;
}

void Collector::sampleHost(int running, std::vector<LiveReading>& live) {
  Sink sink(live);
  sink.add("host_vms_running", running);
  if (auto cpu = proc_.hostCpu()) {
    if (previousHost_.total > 0 && cpu->total > previousHost_.total)
      sink.add("host_cpu_percent", 100.0 * static_cast<double>(cpu->busy - previousHost_.busy) /
                                       static_cast<double>(cpu->total - previousHost_.total));
    previousHost_ = *cpu;
  }
  if (auto mem = proc_.hostMemory()) {
    sink.add("host_memory_total_bytes", static_cast<double>(mem->totalBytes));
    sink.add("host_memory_available_bytes", static_cast<double>(mem->availableBytes));
  }
  if (auto ksm = proc_.ksm()) {
    sink.add("host_ksm_pages_sharing", static_cast<double>(ksm->pagesSharing));
    sink.add("host_ksm_saved_bytes",
             static_cast<double>(ksm->pagesSharing) * static_cast<double>(getpagesize()));
  }
  for (auto [resource, metric] : {std::pair{"cpu", "host_pressure_cpu_percent"},
                                  std::pair{"memory", "host_pressure_memory_percent"},
                                  std::pair{"io", "host_pressure_io_percent"}})
    if (auto p = proc_.pressure(resource)) sink.add(metric, *p);
}

std::shared_ptr<const LiveSnapshot> Collector::live() {
  std::lock_guard lock(liveMutex_);
  return live_;
}

}  // namespace paddock
