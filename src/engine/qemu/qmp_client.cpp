#include "engine/qemu/qmp_client.h"

#include <fmt/format.h>

namespace paddock::qmp {

namespace {

using nlohmann::json;

Error badReply(const char* command, const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return makeError(Errc::internal, fmt::format("QMP {}: unexpected reply {}", command, text));
}

const json* field(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

Result<RunStatus> parseQueryStatus(const json& value) {
  const json* running = field(value, "running");
  const json* status = field(value, "status");
  if (!running || !running->is_boolean() || !status || !status->is_string())
    return badReply("query-status", value);
  return RunStatus{running->get<bool>(), status->get<std::string>()};
}

Result<std::string> parseQueryVersion(const json& value) {
  const json* qemu = field(value, "qemu");
  const json* major = qemu ? field(*qemu, "major") : nullptr;
  const json* minor = qemu ? field(*qemu, "minor") : nullptr;
  const json* micro = qemu ? field(*qemu, "micro") : nullptr;
  for (const json* part : {major, minor, micro})
    if (!part || !part->is_number_integer()) return badReply("query-version", value);
  return fmt::format("{}.{}.{}", major->get<std::int64_t>(), minor->get<std::int64_t>(),
                     micro->get<std::int64_t>());
}

Result<std::vector<VcpuThread>> parseQueryCpusFast(const json& value) {
  if (!value.is_array()) return badReply("query-cpus-fast", value);
  std::vector<VcpuThread> cpus;
  cpus.reserve(value.size());
  for (const json& cpu : value) {
    const json* index = field(cpu, "cpu-index");
    const json* thread = field(cpu, "thread-id");
    if (!index || !index->is_number_integer() || !thread || !thread->is_number_integer())
      return badReply("query-cpus-fast", value);
    cpus.push_back(VcpuThread{index->get<int>(), thread->get<std::int64_t>()});
  }
  return cpus;
}

Result<std::uint64_t> parseQueryBalloon(const json& value) {
  const json* actual = field(value, "actual");
  // A signed integer is fine if it is not negative: only the value matters, not how it was typed.
  if (!actual || !actual->is_number_integer() ||
      (!actual->is_number_unsigned() && actual->get<std::int64_t>() < 0))
    return badReply("query-balloon", value);
  return actual->get<std::uint64_t>();
}

QmpClient::QmpClient(std::unique_ptr<QmpTransport> transport,
                     std::chrono::milliseconds commandTimeout)
    : transport_(std::move(transport)), commandTimeout_(commandTimeout) {}

Result<std::unique_ptr<QmpClient>> QmpClient::connect(const std::string& socketPath,
                                                      std::chrono::milliseconds timeout,
                                                      QmpCallbacks callbacks) {
  auto transport = QmpTransport::connect(socketPath, timeout, std::move(callbacks));
  if (!transport.ok()) return transport.error();
  return std::make_unique<QmpClient>(std::move(*transport));
}

Status QmpClient::run(const char* command) {
  auto reply = transport_->execute(command, json(), commandTimeout_);
  if (!reply.ok()) return reply.error();
  return {};
}

template <typename T>
Result<T> QmpClient::query(const char* command, Result<T> (*parse)(const json&)) {
  auto reply = transport_->execute(command, json(), commandTimeout_);
  if (!reply.ok()) return reply.error();
  return parse(*reply);
}

Result<RunStatus> QmpClient::queryStatus() {
  return query("query-status", parseQueryStatus);
}

Status QmpClient::cont() {
  return run("cont");
}
Status QmpClient::stop() {
  return run("stop");
}
Status QmpClient::systemPowerdown() {
  return run("system_powerdown");
}
Status QmpClient::systemReset() {
  return run("system_reset");
}

Status QmpClient::quit() {
  auto status = run("quit");
  if (!status.ok() && status.error().code == Errc::unavailable) return {};
  return status;
}

Result<std::string> QmpClient::queryVersion() {
  return query("query-version", parseQueryVersion);
}

Result<std::vector<VcpuThread>> QmpClient::queryCpusFast() {
  return query("query-cpus-fast", parseQueryCpusFast);
}

Result<std::uint64_t> QmpClient::queryBalloon() {
  return query("query-balloon", parseQueryBalloon);
}

}  // namespace paddock::qmp
