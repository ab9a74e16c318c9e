#include "engine/qemu/qmp_messages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace paddock::qmp {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
T expectShape(const Result<Message>& parsed) {
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  if (!parsed.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*parsed)) << "wrong message kind";
  if (!std::holds_alternative<T>(*parsed)) return T{};
  return std::get<T>(*parsed);
}

void expectProtocolError(std::string_view line) {
  auto parsed = parseMessage(line);
  ASSERT_FALSE(parsed.ok()) << "accepted: " << line;
  EXPECT_EQ(parsed.error().code, Errc::internal);
  EXPECT_THAT(parsed.error().message, HasSubstr("QMP protocol error"));
}

TEST(QmpMessages, GreetingFromQemu72YieldsVersionPackageAndCapabilities) {
  auto greeting = expectShape<Greeting>(
      parseMessage(R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, )"
                   R"("package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}})"));
  EXPECT_EQ(greeting.version, "7.2.22");
  EXPECT_EQ(greeting.package, "Debian 1:7.2+dfsg-7+deb12u18+b3");
  EXPECT_THAT(greeting.capabilities, ElementsAre("oob"));
}

TEST(QmpMessages, ReplyKeepsItsIdAndReturnValue) {
  auto reply = expectShape<Reply>(parseMessage(
      R"({"return": {"status": "running", "singlestep": false, "running": true}, "id": 7})"));
  EXPECT_EQ(reply.id, json(7));
  EXPECT_EQ(reply.value, (json{{"running", true}, {"singlestep", false}, {"status", "running"}}));
}

TEST(QmpMessages, EmptyReturnIsAReplyAndMissingIdIsNull) {
  auto reply = expectShape<Reply>(parseMessage(R"({"return": {}})"));
  EXPECT_TRUE(reply.id.is_null());
  EXPECT_EQ(reply.value, json::object());
}

TEST(QmpMessages, ErrorReplyCarriesClassAndDescription) {
  auto error = expectShape<ErrorReply>(parseMessage(
      R"({"id": 4, "error": {"class": "DeviceNotActive", "desc": "No balloon device has been activated"}})"));
  EXPECT_EQ(error.id, json(4));
  EXPECT_EQ(error.errorClass, "DeviceNotActive");
  EXPECT_EQ(error.desc, "No balloon device has been activated");
}

TEST(QmpMessages, EventCarriesNameDataAndTimestamp) {
  auto event = expectShape<Event>(parseMessage(
      R"({"event":"SHUTDOWN","data":{"guest":true,"reason":"guest-shutdown"},"timestamp":{"seconds":1,"microseconds":2}})"));
  EXPECT_EQ(event.name, "SHUTDOWN");
  EXPECT_EQ(event.data, (json{{"guest", true}, {"reason", "guest-shutdown"}}));
  EXPECT_EQ(event.seconds, 1);
  EXPECT_EQ(event.micros, 2);
}

TEST(QmpMessages, EventWithoutDataHasAnEmptyObject) {
  auto event = expectShape<Event>(parseMessage(
      R"({"timestamp": {"seconds": 1795306591, "microseconds": 319485}, "event": "STOP"})"));
  EXPECT_EQ(event.name, "STOP");
  EXPECT_EQ(event.data, json::object());
  EXPECT_EQ(event.seconds, 1795306591);
  EXPECT_EQ(event.micros, 319485);
}

TEST(QmpMessages, TrailingCarriageReturnFromQemuIsIgnored) {
  expectShape<Reply>(parseMessage("{\"return\": {}, \"id\": 1}\r"));
}

TEST(QmpMessages, MalformedLineIsReportedNotThrown) {
  expectProtocolError(R"({"return": {)");
  expectProtocolError("");
  expectProtocolError("\xff\xfe");
  auto parsed = parseMessage("not json at all");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.error().message, HasSubstr("malformed JSON"));
  EXPECT_THAT(parsed.error().message, HasSubstr("not json at all"));
}

TEST(QmpMessages, JsonThatIsNotAnObjectIsAnError) {
  expectProtocolError("[1, 2]");
  expectProtocolError("42");
  expectProtocolError(R"("return")");
}

TEST(QmpMessages, ObjectOfUnknownShapeIsAnError) {
  expectProtocolError(R"({"hello": "world"})");
}

TEST(QmpMessages, IncompleteMessagesAreErrors) {
  expectProtocolError(R"({"error": {"class": "GenericError"}, "id": 1})");
  expectProtocolError(R"({"error": "boom", "id": 1})");
  expectProtocolError(R"({"event": 5})");
  expectProtocolError(R"({"event": "STOP", "data": [1]})");
  expectProtocolError(R"({"event": "STOP", "timestamp": {"seconds": "1", "microseconds": 2}})");
  expectProtocolError(R"({"QMP": {"capabilities": []}})");
  expectProtocolError(R"({"QMP": {"version": {"qemu": {"major": 7, "minor": 2}}}})");
}

TEST(QmpMessages, LongMalformedLinesAreShortenedInTheMessage) {
  auto parsed = parseMessage("{" + std::string(100000, 'x'));
  ASSERT_FALSE(parsed.ok());
  EXPECT_LT(parsed.error().message.size(), 400u);
}

TEST(QmpMessages, CommandCarriesExecuteArgumentsAndId) {
  auto line = buildCommand("qom-get", json{{"path", "/machine"}, {"property", "type"}}, 42);
  ASSERT_TRUE(line.ok()) << line.error().message;
  EXPECT_EQ(json::parse(*line), (json{{"execute", "qom-get"},
                                      {"arguments", {{"path", "/machine"}, {"property", "type"}}},
                                      {"id", 42}}));
}

TEST(QmpMessages, CommandWithoutArgumentsOmitsTheKey) {
  for (const json& none : {json(), json::object()}) {
    auto line = buildCommand("query-status", none, 1);
    ASSERT_TRUE(line.ok());
    EXPECT_EQ(json::parse(*line), (json{{"execute", "query-status"}, {"id", 1}}));
  }
}

TEST(QmpMessages, CommandIsASingleLineEvenWhenArgumentsHoldNewlines) {
  auto line = buildCommand("human-monitor-command", json{{"command-line", "info\nstatus"}}, 3);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->find('\n'), std::string::npos);
}

TEST(QmpMessages, CommandWithNonObjectArgumentsIsInvalid) {
  auto line = buildCommand("cont", json::array({1}), 1);
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.error().code, Errc::invalid_argument);
}

TEST(QmpMessages, CommandWithInvalidUtf8IsReportedNotThrown) {
  auto line = buildCommand("qom-get", json{{"path", "\xff"}}, 1);
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.error().code, Errc::invalid_argument);
}

TEST(QmpMessages, EmptyCommandNameIsInvalid) {
  EXPECT_FALSE(buildCommand("", json(), 1).ok());
}

}  // namespace
}  // namespace paddock::qmp
