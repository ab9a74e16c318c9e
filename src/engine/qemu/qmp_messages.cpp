#include "engine/qemu/qmp_messages.h"

#include <fmt/format.h>

namespace paddock::qmp {

namespace {

using nlohmann::json;

Error protocolError(std::string what) {
  return makeError(Errc::internal, "QMP protocol error: " + std::move(what));
}

// Messages can be large (query-qmp-schema); keep error text to something a log line can hold.
std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 200;
  if (line.size() <= kMax) return std::string(line);
  return std::string(line.substr(0, kMax)) + "...";
}

const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Result<Message> parseGreeting(const json& qmp) {
  const json* version = qmp.is_object() ? member(qmp, "version") : nullptr;
  const json* qemu = version && version->is_object() ? member(*version, "qemu") : nullptr;
  if (!qemu || !qemu->is_object()) return protocolError("greeting without QMP.version.qemu");
  const json* major = member(*qemu, "major");
  const json* minor = member(*qemu, "minor");
  const json* micro = member(*qemu, "micro");
  for (const json* part : {major, minor, micro})
    if (!part || !part->is_number_integer()) return protocolError("greeting with a bad version");

  Greeting greeting;
  greeting.version = fmt::format("{}.{}.{}", major->get<std::int64_t>(), minor->get<std::int64_t>(),
                                 micro->get<std::int64_t>());
  if (const json* package = member(*version, "package"); package && package->is_string())
    greeting.package = package->get<std::string>();
  if (const json* caps = member(qmp, "capabilities")) {
    if (!caps->is_array()) return protocolError("greeting capabilities is not an array");
    for (const json& cap : *caps)
      if (cap.is_string()) greeting.capabilities.push_back(cap.get<std::string>());
  }
  return Message{std::move(greeting)};
}

Result<Message> parseErrorReply(const json& doc, const json& error) {
  const json* cls = error.is_object() ? member(error, "class") : nullptr;
  const json* desc = error.is_object() ? member(error, "desc") : nullptr;
  if (!cls || !cls->is_string() || !desc || !desc->is_string())
    return protocolError("error reply without class and desc");
  const json* id = member(doc, "id");
  return Message{ErrorReply{id ? *id : json(), cls->get<std::string>(), desc->get<std::string>()}};
}

Result<Message> parseEvent(const json& doc, const json& name) {
  if (!name.is_string()) return protocolError("event name is not a string");
  Event event;
  event.name = name.get<std::string>();
  if (const json* data = member(doc, "data")) {
    if (!data->is_object()) return protocolError("event data is not an object");
    event.data = *data;
  }
  if (const json* ts = member(doc, "timestamp")) {
    const json* seconds = ts->is_object() ? member(*ts, "seconds") : nullptr;
    const json* micros = ts->is_object() ? member(*ts, "microseconds") : nullptr;
    // QEMU stamps -1/-1 when the clock read failed, so signed integers are legitimate.
    if (!seconds || !seconds->is_number_integer() || !micros || !micros->is_number_integer())
      return protocolError("event timestamp without integer seconds and microseconds");
    event.seconds = seconds->get<std::int64_t>();
    event.micros = micros->get<std::int64_t>();
  }
  return Message{std::move(event)};
}

Result<Message> parseDocument(const json& doc) {
  if (!doc.is_object()) return protocolError("message is not a JSON object");
  if (const json* ret = member(doc, "return")) {
    const json* id = member(doc, "id");
    return Message{Reply{id ? *id : json(), *ret}};
  }
  if (const json* error = member(doc, "error")) return parseErrorReply(doc, *error);
  if (const json* name = member(doc, "event")) return parseEvent(doc, *name);
  if (const json* qmp = member(doc, "QMP")) return parseGreeting(*qmp);
  return protocolError("message is neither a reply, an event nor a greeting");
}

}  // namespace

Result<Message> parseMessage(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return protocolError("malformed JSON: " + excerpt(line));
  try {
    auto parsed = parseDocument(doc);
    if (!parsed.ok())
      return makeError(parsed.error().code, parsed.error().message + ": " + excerpt(line));
    return parsed;
  } catch (const json::exception& e) {
    // The checks above should make this unreachable; it is here so a gap cannot throw.
    return protocolError(std::string(e.what()) + ": " + excerpt(line));
  }
}

Result<std::string> buildCommand(std::string_view command, const nlohmann::json& args,
                                 std::uint64_t id) {
  if (command.empty()) return makeError(Errc::invalid_argument, "QMP command name is empty");
  if (!args.is_null() && !args.is_object())
    return makeError(Errc::invalid_argument,
                     fmt::format("QMP {}: arguments must be a JSON object", command));
  json doc = json::object();
  doc["execute"] = std::string(command);
  if (!args.is_null() && !args.empty()) doc["arguments"] = args;
  doc["id"] = id;
  try {
    // dump() has no embedded newlines with the default indent, which keeps one command per line.
    return doc.dump();
  } catch (const json::exception& e) {
    // Only invalid UTF-8 in a string gets here.
    return makeError(Errc::invalid_argument, fmt::format("QMP {}: {}", command, e.what()));
  }
}

}  // namespace paddock::qmp
