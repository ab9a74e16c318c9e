#include "model/metrics.h"

#include <fmt/format.h>

namespace paddock {

const std::vector<MetricInfo>& metricCatalog() {
  static const std::vector<MetricInfo> catalog = {
      {"cpu_percent", "percent", "", false,
       "CPU time of the VM's QEMU process (all threads), in percent of one host CPU"},
      {"vcpu_percent", "percent", "vcpu", false,
       "CPU time of one vCPU thread, in percent of one host CPU"},
      {"cpu_ready_percent", "percent", "", false,
       "time the vCPU threads were runnable but waited for a host CPU (ESX %RDY), summed"},
      {"memory_configured_bytes", "bytes", "", false, "memory the VM is configured with"},
      {"memory_balloon_bytes", "bytes", "", false,
       "memory the guest has now: configured minus what the balloon took back"},
      {"memory_guest_free_bytes", "bytes", "", false,
       "free memory the guest reports through its balloon driver"},
      {"memory_guest_available_bytes", "bytes", "", false,
       "available memory the guest reports through its balloon driver"},
      {"memory_rss_bytes", "bytes", "", false, "resident memory of the QEMU process on the host"},
      {"memory_ksm_bytes", "bytes", "", false, "memory of the VM that KSM merged with other pages"},
      {"disk_read_bytes_per_second", "bytes_per_second", "disk", false, "disk reads"},
      {"disk_write_bytes_per_second", "bytes_per_second", "disk", false, "disk writes"},
      {"disk_read_ops_per_second", "per_second", "disk", false, "disk read requests"},
      {"disk_write_ops_per_second", "per_second", "disk", false, "disk write requests"},
      {"disk_read_latency_ms", "ms", "disk", false, "mean time of the interval's read requests"},
      {"disk_write_latency_ms", "ms", "disk", false, "mean time of the interval's write requests"},
      {"net_rx_bytes_per_second", "bytes_per_second", "nic", false, "bytes the guest received"},
      {"net_tx_bytes_per_second", "bytes_per_second", "nic", false, "bytes the guest sent"},
      {"net_rx_packets_per_second", "per_second", "nic", false, "packets the guest received"},
      {"net_tx_packets_per_second", "per_second", "nic", false, "packets the guest sent"},
      {"net_rx_dropped_per_second", "per_second", "nic", false, "received packets dropped"},
      {"net_tx_dropped_per_second", "per_second", "nic", false, "sent packets dropped"},
      {"host_cpu_percent", "percent", "", true, "busy time of all host CPUs, in percent of all"},
      {"host_memory_total_bytes", "bytes", "", true, "host memory"},
      {"host_memory_available_bytes", "bytes", "", true, "host memory available (MemAvailable)"},
      {"host_ksm_pages_sharing", "pages", "", true, "pages KSM merged away (pages_sharing)"},
      {"host_ksm_saved_bytes", "bytes", "", true,
       "memory KSM saves: pages_sharing times page size"},
      {"host_pressure_cpu_percent", "percent", "", true, "PSI cpu some avg10"},
      {"host_pressure_memory_percent", "percent", "", true, "PSI memory some avg10"},
      {"host_pressure_io_percent", "percent", "", true, "PSI io some avg10"},
      {"host_vms_running", "count", "", true, "VMs with a running process"},
  };
  return catalog;
}

const MetricInfo* findMetric(std::string_view name) {
  for (const auto& m : metricCatalog())
    if (name == m.name) return &m;
  return nullptr;
}

Status validateMetricName(const std::string& name, bool host, const std::string& field) {
  const MetricInfo* m = findMetric(name);
  if (m && m->host == host) return {};
  std::string known;
  for (const auto& i : metricCatalog())
    if (i.host == host) known += (known.empty() ? "" : ", ") + std::string(i.name);
  return makeError(
      Errc::invalid_argument,
      fmt::format("unknown {} metric '{}' (known: {})", host ? "host" : "VM", name, known), field);
}

std::int64_t resolutionFor(std::int64_t spanMs) {
  for (const auto& r : kResolutions)
    if (spanMs <= r.keepMs) return r.stepMs;
  return kResolutions[std::size(kResolutions) - 1].stepMs;
}

Result<std::int64_t> parseDuration(const std::string& text, const std::string& field) {
  auto bad = [&] {
    return makeError(Errc::invalid_argument,
                     fmt::format("'{}' is not a duration (use e.g. 90s, 30m, 1h, 7d)", text),
                     field);
  };
  if (text.empty()) return bad();
  std::int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i - start > 9 || i == text.size()) return bad();
    std::int64_t n = std::stoll(text.substr(start, i - start));
    std::int64_t unit = text[i] == 's'   ? 1000
                        : text[i] == 'm' ? 60000
                        : text[i] == 'h' ? 3600000
                        : text[i] == 'd' ? 86400000
                                         : 0;
    if (unit == 0) return bad();
    total += n * unit;
    ++i;
  }
  if (total <= 0 || total > 10 * 365 * 86400000LL) return bad();
  return total;
}

}  // namespace paddock
