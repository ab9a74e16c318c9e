// The QMP wire format, with no I/O: one JSON document per line in each direction.
// Parsing never throws; anything QEMU could not have meant comes back as an Error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock::qmp {

// The first line QEMU sends on a new connection.
struct Greeting {
  std::string version;  // "major.minor.micro", e.g. "7.2.22"
  std::string package;  // distribution build string; may be empty
  std::vector<std::string> capabilities;
};

// A successful command reply. `id` is whatever the command carried (null if it had none).
struct Reply {
  nlohmann::json id;
  nlohmann::json value;
};

// A failed command reply.
struct ErrorReply {
  nlohmann::json id;
  std::string errorClass;  // e.g. "GenericError", "DeviceNotActive"
  std::string desc;
};

// An asynchronous notification. QEMU stamps it with host wall-clock time.
struct Event {
  std::string name;
  nlohmann::json data = nlohmann::json::object();
  std::int64_t seconds = 0;
  std::int64_t micros = 0;
};

using Message = std::variant<Greeting, Reply, ErrorReply, Event>;

// Parses one line (without its newline; a trailing '\r' is tolerated).
Result<Message> parseMessage(std::string_view line);

// Serialises a command as one line of JSON without the trailing newline. `args` must be an
// object or null (null and {} both mean "no arguments" and omit the key).
Result<std::string> buildCommand(std::string_view command, const nlohmann::json& args,
                                 std::uint64_t id);

}  // namespace paddock::qmp
