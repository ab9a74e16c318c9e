// Where `paddock-bench` runs a workload: natively on this host (with the guest's CPU count and
// memory), or in a Paddock VM of the debian image, driven through its serial console.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/paddock_client.h"
#include "common/result.h"

namespace paddock::bench {

struct TargetShape {
  int vcpus = 1;
  int memoryMib = 1024;
  int diskMib = 4096;
  std::string profile = "quick";
  std::string workloadsDir;  // the host's copy of guest/debian/workloads
  // The run has a network workload (ttcp, web): guests get a NIC on a network of their own and
  // the host an iperf3 server on it (native: on 127.0.0.1).
  bool network = false;
  std::vector<int> webGuests;  // the web test's sizes; empty: the profile's
};

class BenchTarget {
 public:
  virtual ~BenchTarget() = default;
  virtual std::string name() const = 0;
  // Boots or sets up what the workloads run in.
  virtual Status prepare() = 0;
  // Whether this target runs `workload` at all (the others are left out of its schedule).
  virtual bool runs(const std::string& workload) const {
    (void)workload;
    return true;
  }
  // The workload's stdout (its RESULT lines), or why it failed.
  virtual Result<std::string> run(const std::string& workload, std::chrono::seconds timeout) = 0;
  // What the report states about this target (accelerator, limits applied, ...).
  virtual nlohmann::json describe() const = 0;
  // Ends and deletes what prepare() made; safe to call twice.
  virtual void cleanup() = 0;
};

std::unique_ptr<BenchTarget> nativeTarget(const TargetShape& shape);
std::unique_ptr<BenchTarget> paddockTarget(const TargetShape& shape, PaddockClient& client,
                                           const std::string& image);
// The same image in a QEMU this program starts by hand (paths and accelerator from paddockd).
std::unique_ptr<BenchTarget> qemuPeerTarget(const TargetShape& shape, PaddockClient& client,
                                            const std::string& image);

}  // namespace paddock::bench
