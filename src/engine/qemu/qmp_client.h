// Typed QMP commands. Code above this layer deals in these structs, never in QMP JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "engine/qemu/qmp_transport.h"

namespace paddock::qmp {

struct RunStatus {
  bool running = false;
  std::string status;  // QEMU's RunState name: "running", "paused", "shutdown", ...
};

struct VcpuThread {
  int cpuIndex = 0;
  std::int64_t threadId = 0;  // host TID, for pinning and accounting
};

class QmpClient {
 public:
  explicit QmpClient(
      std::unique_ptr<QmpTransport> transport,
      std::chrono::milliseconds commandTimeout = QmpTransport::kDefaultCommandTimeout);

  static Result<std::unique_ptr<QmpClient>> connect(const std::string& socketPath,
                                                    std::chrono::milliseconds timeout,
                                                    QmpCallbacks callbacks = {});

  Result<RunStatus> queryStatus();
  Status cont();
  Status stop();
  Status systemPowerdown();  // asks the guest (ACPI); completion is a SHUTDOWN event
  Status systemReset();
  // Succeeds also when QEMU exits before its reply arrives: gone is what was asked for.
  Status quit();
  Result<std::string> queryVersion();  // "major.minor.micro"
  Result<std::vector<VcpuThread>> queryCpusFast();
  Result<std::uint64_t> queryBalloon();  // guest memory in bytes; conflict if no balloon device

  // See QmpTransport::close() for the threading rules, which apply unchanged.
  void close() { transport_->close(); }
  bool connected() const { return transport_->connected(); }

 private:
  Status run(const char* command);
  template <typename T>
  Result<T> query(const char* command, Result<T> (*parse)(const nlohmann::json&));

  std::unique_ptr<QmpTransport> transport_;
  std::chrono::milliseconds commandTimeout_;
};

// Reply decoders, separate from I/O so they can be tested against canned replies. Each takes
// the command's "return" value; a shape QEMU does not produce is Errc::internal.
Result<RunStatus> parseQueryStatus(const nlohmann::json& value);
Result<std::string> parseQueryVersion(const nlohmann::json& value);
Result<std::vector<VcpuThread>> parseQueryCpusFast(const nlohmann::json& value);
Result<std::uint64_t> parseQueryBalloon(const nlohmann::json& value);

}  // namespace paddock::qmp
