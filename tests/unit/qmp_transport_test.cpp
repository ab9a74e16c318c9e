#include "engine/qemu/qmp_transport.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_qmp_server.h"

namespace paddock::qmp {
namespace {

using fakes::FakeQmpServer;
using fakes::ScriptedCommand;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

constexpr auto kConnectTimeout = 5s;
constexpr auto kWait = 5s;

// Collects what the transport reports on its reader thread so the test thread can wait for it.
class Recorder {
 public:
  QmpCallbacks callbacks() {
    return QmpCallbacks{[this](const Event& e) { onEvent(e); }, [this] { onHangUp(); }};
  }

  void onEvent(const Event& event) {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
    changed_.notify_all();
  }
  void onHangUp() {
    std::lock_guard lock(mutex_);
    ++hangUps_;
    changed_.notify_all();
  }

  bool waitForEvents(std::size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return events_.size() >= n; });
  }
  bool waitForHangUp() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return hangUps_ > 0; });
  }
  std::vector<std::string> eventNames() {
    std::lock_guard lock(mutex_);
    std::vector<std::string> names;
    for (const auto& e : events_) names.push_back(e.name);
    return names;
  }
  std::vector<Event> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  int hangUps() {
    std::lock_guard lock(mutex_);
    return hangUps_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
  int hangUps_ = 0;
};

std::unique_ptr<QmpTransport> connectTo(FakeQmpServer& server, QmpCallbacks callbacks = {}) {
  auto transport =
      QmpTransport::connect(server.socketPath(), kConnectTimeout, std::move(callbacks));
  EXPECT_TRUE(transport.ok()) << transport.error().message;
  return transport.ok() ? std::move(*transport) : nullptr;
}

ScriptedCommand unanswered(std::string command) {
  ScriptedCommand step;
  step.command = std::move(command);
  return step;
}

TEST(QmpTransport, ConnectCompletesTheHandshakeAndKeepsTheGreeting) {
  FakeQmpServer server;
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  EXPECT_EQ(transport->greeting().version, "7.2.0");
  EXPECT_THAT(transport->greeting().capabilities, ElementsAre("oob"));
  EXPECT_TRUE(transport->connected());
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpTransport, ConnectSendsQmpCapabilitiesBeforeAnythingElse) {
  FakeQmpServer::Options options;
  options.answerCapabilities = false;
  FakeQmpServer server(options);
  server.expectReturn("qmp_capabilities", json(), json::object());
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpTransport, ConnectWaitsForQemuToCreateTheSocket) {
  std::string dir = (std::filesystem::temp_directory_path() / "paddock-qmp-XXXXXX").string();
  ASSERT_TRUE(::mkdtemp(dir.data()));
  const std::string path = dir + "/late.sock";
  auto connecting =
      std::async(std::launch::async, [&] { return QmpTransport::connect(path, kConnectTimeout); });
  std::this_thread::sleep_for(150ms);
  {
    FakeQmpServer::Options options;
    options.socketPath = path;
    FakeQmpServer server(options);
    auto transport = connecting.get();
    ASSERT_TRUE(transport.ok()) << transport.error().message;
    EXPECT_THAT(server.verify(), IsEmpty());
  }
  ::rmdir(dir.c_str());
}

TEST(QmpTransport, ConnectTimesOutWhenNoSocketAppears) {
  auto transport = QmpTransport::connect("/nonexistent/paddock/qmp.sock", 100ms);
  ASSERT_FALSE(transport.ok());
  EXPECT_EQ(transport.error().code, Errc::timeout);
  EXPECT_THAT(transport.error().message, HasSubstr("/nonexistent/paddock/qmp.sock"));
}

TEST(QmpTransport, ConnectRejectsAPathTooLongForAUnixSocket) {
  auto transport = QmpTransport::connect("/tmp/" + std::string(200, 'x'), 100ms);
  ASSERT_FALSE(transport.ok());
  EXPECT_EQ(transport.error().code, Errc::invalid_argument);
}

TEST(QmpTransport, ConnectTimesOutWhenQemuNeverGreets) {
  FakeQmpServer::Options options;
  options.sendGreeting = false;
  FakeQmpServer server(options);
  auto transport = QmpTransport::connect(server.socketPath(), 200ms);
  ASSERT_FALSE(transport.ok());
  EXPECT_EQ(transport.error().code, Errc::timeout);
}

TEST(QmpTransport, RejectedCapabilitiesFailTheConnectWithoutAHangUp) {
  FakeQmpServer::Options options;
  options.answerCapabilities = false;
  FakeQmpServer server(options);
  server.expectError("qmp_capabilities", json(), "GenericError", "nope");
  Recorder recorder;
  auto transport =
      QmpTransport::connect(server.socketPath(), kConnectTimeout, recorder.callbacks());
  ASSERT_FALSE(transport.ok());
  EXPECT_EQ(transport.error().code, Errc::conflict);
  EXPECT_THAT(transport.error().message, HasSubstr("nope"));
  EXPECT_EQ(recorder.hangUps(), 0);
}

TEST(QmpTransport, QemuDyingDuringTheHandshakeFailsTheConnect) {
  FakeQmpServer::Options options;
  options.answerCapabilities = false;
  FakeQmpServer server(options);
  auto step = unanswered("qmp_capabilities");
  step.hangUpAfter = true;
  server.expect(step);
  Recorder recorder;
  auto transport =
      QmpTransport::connect(server.socketPath(), kConnectTimeout, recorder.callbacks());
  ASSERT_FALSE(transport.ok());
  EXPECT_EQ(transport.error().code, Errc::unavailable);
  EXPECT_EQ(recorder.hangUps(), 0);
}

TEST(QmpTransport, ExecuteReturnsTheReturnValue) {
  FakeQmpServer server;
  server.expectReturn("query-status", json(),
                      {{"running", true}, {"singlestep", false}, {"status", "running"}});
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  auto status = transport->execute("query-status");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ((*status)["status"], "running");
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpTransport, ExecuteSendsTheArguments) {
  FakeQmpServer server;
  server.expectReturn("qom-get", {{"path", "/machine"}, {"property", "type"}},
                      "pc-i440fx-7.2-machine");
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  auto type = transport->execute("qom-get", {{"path", "/machine"}, {"property", "type"}});
  ASSERT_TRUE(type.ok()) << type.error().message;
  EXPECT_EQ(*type, "pc-i440fx-7.2-machine");
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpTransport, FakeServerReportsArgumentsThatDifferFromTheScript) {
  FakeQmpServer server;
  server.expectReturn("qom-get", {{"path", "/machine"}}, "x");
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  auto reply = transport->execute("qom-get", {{"path", "/elsewhere"}});
  EXPECT_FALSE(reply.ok());
  ASSERT_EQ(server.mismatches().size(), 1u);
  EXPECT_THAT(server.mismatches()[0], HasSubstr("/elsewhere"));
}

TEST(QmpTransport, ErrorReplyBecomesConflictWithQemuDescription) {
  FakeQmpServer server;
  server.expectError("query-balloon", json(), "DeviceNotActive",
                     "No balloon device has been activated");
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  auto reply = transport->execute("query-balloon");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::conflict);
  EXPECT_EQ(reply.error().message, "QMP query-balloon: No balloon device has been activated");
}

TEST(QmpTransport, CommandWithoutAReplyTimesOut) {
  FakeQmpServer server;
  server.expect(unanswered("stop"));
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  auto reply = transport->execute("stop", json(), 100ms);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::timeout);
  EXPECT_THAT(reply.error().message, HasSubstr("stop"));
  EXPECT_TRUE(transport->connected());
}

TEST(QmpTransport, LateReplyAfterATimeoutIsNotMistakenForTheNextOne) {
  FakeQmpServer server;
  ScriptedCommand slow;
  slow.command = "query-version";
  slow.reply = json{{"return", "late"}};
  slow.deferReply = true;
  server.expect(slow);
  server.expectReturn("query-status", json(), "on time");
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  EXPECT_EQ(transport->execute("query-version", json(), 50ms).error().code, Errc::timeout);
  ASSERT_TRUE(server.waitForReceived(1, kWait));
  server.releaseDeferredReplies();
  auto reply = transport->execute("query-status");
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(*reply, "on time");
}

TEST(QmpTransport, SubmittedCommandsAreAllOnTheWireBeforeAnyReplyIsTaken) {
  FakeQmpServer server;
  ScriptedCommand first;
  first.command = "query-blockstats";
  first.reply = json{{"return", json::array({{{"device", "a"}}})}};
  first.deferReply = true;  // QEMU answers only once both commands are in
  server.expect(first);
  server.expectReturn("query-balloon", json(), {{"actual", 42}});
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  auto blockstats = transport->submit("query-blockstats", json(), kWait, /*raw=*/true);
  auto balloon = transport->submit("query-balloon");
  // Both commands are in, with no reply taken yet.
  ASSERT_TRUE(server.waitForReceived(2, kWait));
  server.releaseDeferredReplies();
  auto value = balloon.get();
  ASSERT_TRUE(value.ok()) << value.error().message;
  EXPECT_EQ((*value)["actual"], 42);
  auto line = blockstats.getRaw();
  ASSERT_TRUE(line.ok()) << line.error().message;
  EXPECT_EQ(json::parse(*line)["return"][0]["device"], "a");
  EXPECT_EQ(blockstats.getRaw().error().code, Errc::internal) << "a reply is taken once";
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpTransport, ASubmissionTimesOutFromWhenItWasSent) {
  FakeQmpServer server;
  server.expect(unanswered("stop"));
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  auto pending = transport->submit("stop", json(), 100ms);
  std::this_thread::sleep_for(150ms);
  auto started = std::chrono::steady_clock::now();
  auto reply = pending.get();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms) << "the deadline had passed";
}

TEST(QmpTransport, HangUpWhileWaitingFailsThePendingCommand) {
  FakeQmpServer server;
  auto crash = unanswered("system_reset");
  crash.hangUpAfter = true;
  server.expect(crash);
  Recorder recorder;
  auto transport = connectTo(server, recorder.callbacks());
  ASSERT_TRUE(transport);
  auto reply = transport->execute("system_reset");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::unavailable);
  EXPECT_EQ(reply.error().message, "QEMU monitor connection closed");
  EXPECT_TRUE(recorder.waitForHangUp());
}

TEST(QmpTransport, HangUpCallbackFiresExactlyOnceWhenQemuDies) {
  FakeQmpServer server;
  Recorder recorder;
  auto transport = connectTo(server, recorder.callbacks());
  ASSERT_TRUE(transport);
  server.dropConnection();
  ASSERT_TRUE(recorder.waitForHangUp());
  EXPECT_FALSE(transport->connected());
  transport->close();
  transport.reset();
  EXPECT_EQ(recorder.hangUps(), 1);
}

TEST(QmpTransport, ExecuteAfterHangUpFailsImmediately) {
  FakeQmpServer server;
  Recorder recorder;
  auto transport = connectTo(server, recorder.callbacks());
  ASSERT_TRUE(transport);
  server.dropConnection();
  ASSERT_TRUE(recorder.waitForHangUp());
  auto reply = transport->execute("query-status");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::unavailable);
}

TEST(QmpTransport, OurOwnCloseIsNotReportedAsAHangUp) {
  FakeQmpServer server;
  Recorder recorder;
  auto transport = connectTo(server, recorder.callbacks());
  ASSERT_TRUE(transport);
  transport->close();
  transport->close();  // idempotent
  EXPECT_FALSE(transport->connected());
  EXPECT_EQ(transport->execute("query-status").error().code, Errc::unavailable);
  transport.reset();
  EXPECT_EQ(recorder.hangUps(), 0);
}

TEST(QmpTransport, CloseFailsACommandThatIsStillWaiting) {
  FakeQmpServer server;
  server.expect(unanswered("query-status"));
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  auto waiting = std::async(std::launch::async, [&] { return transport->execute("query-status"); });
  ASSERT_TRUE(server.waitForReceived(1, kWait));
  transport->close();
  auto reply = waiting.get();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::unavailable);
}

TEST(QmpTransport, EventsArriveInOrderOnTheCallback) {
  FakeQmpServer server;
  Recorder recorder;
  auto transport = connectTo(server, recorder.callbacks());
  ASSERT_TRUE(transport);
  ASSERT_TRUE(server.emitEvent("STOP", json::object(), 10, 1));
  ASSERT_TRUE(server.emitEvent("RESUME", json::object(), 10, 2));
  ASSERT_TRUE(server.emitEvent("SHUTDOWN", {{"guest", true}, {"reason", "guest-shutdown"}}, 10, 3));
  ASSERT_TRUE(recorder.waitForEvents(3));
  EXPECT_THAT(recorder.eventNames(), ElementsAre("STOP", "RESUME", "SHUTDOWN"));
  auto shutdown = recorder.events()[2];
  EXPECT_EQ(shutdown.data["reason"], "guest-shutdown");
  EXPECT_EQ(shutdown.seconds, 10);
  EXPECT_EQ(shutdown.micros, 3);
}

TEST(QmpTransport, EventSentBeforeAReplyIsDeliveredBeforeTheCommandReturns) {
  FakeQmpServer server;
  ScriptedCommand stop;
  stop.command = "stop";
  stop.eventsBefore = {FakeQmpServer::event("STOP", json::object())};
  stop.reply = json{{"return", json::object()}};
  server.expect(stop);
  Recorder recorder;
  auto transport = connectTo(server, recorder.callbacks());
  ASSERT_TRUE(transport);
  ASSERT_TRUE(transport->execute("stop").ok());
  EXPECT_THAT(recorder.eventNames(), ElementsAre("STOP"));
}

TEST(QmpTransport, EventRightAfterTheHandshakeIsNotLost) {
  FakeQmpServer::Options options;
  options.answerCapabilities = false;
  FakeQmpServer server(options);
  ScriptedCommand caps;
  caps.command = "qmp_capabilities";
  caps.reply = json{{"return", json::object()}};
  caps.eventsAfter = {FakeQmpServer::event("RESUME", json::object())};
  server.expect(caps);
  Recorder recorder;
  auto transport = connectTo(server, recorder.callbacks());
  ASSERT_TRUE(transport);
  ASSERT_TRUE(recorder.waitForEvents(1));
  EXPECT_THAT(recorder.eventNames(), ElementsAre("RESUME"));
}

TEST(QmpTransport, ManyCallersInFlightEachGetTheirOwnReply) {
  constexpr int kCallers = 8;
  FakeQmpServer::Options options;
  options.anyOrder = true;
  FakeQmpServer server(options);
  for (int i = 0; i < kCallers; ++i) {
    ScriptedCommand step;
    step.command = "qom-get";
    step.args = {{"path", "/machine/unattached/device[" + std::to_string(i) + "]"},
                 {"property", "type"}};
    step.reply = json{{"return", "cpu-" + std::to_string(i)}};
    step.deferReply = true;  // all eight are outstanding at once, then answered newest first
    server.expect(step);
  }
  auto transport = connectTo(server);
  ASSERT_TRUE(transport);
  std::vector<std::future<Result<json>>> callers;
  for (int i = 0; i < kCallers; ++i)
    callers.push_back(std::async(std::launch::async, [&, i] {
      return transport->execute("qom-get",
                                {{"path", "/machine/unattached/device[" + std::to_string(i) + "]"},
                                 {"property", "type"}});
    }));
  ASSERT_TRUE(server.waitForReceived(kCallers, kWait));
  server.releaseDeferredReplies();
  for (int i = 0; i < kCallers; ++i) {
    auto reply = callers[i].get();
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(*reply, "cpu-" + std::to_string(i));
  }
  EXPECT_THAT(server.verify(), IsEmpty());
}

TEST(QmpTransport, MalformedLineFromQemuIsSkipped) {
  FakeQmpServer server;
  server.expectReturn("query-status", json(), {{"running", false}, {"status", "paused"}});
  Recorder recorder;
  auto transport = connectTo(server, recorder.callbacks());
  ASSERT_TRUE(transport);
  ASSERT_TRUE(server.sendRaw("{this is not json"));
  ASSERT_TRUE(server.sendRaw(R"({"return": {}, "id": 999999})"));  // nobody asked for 999999
  ASSERT_TRUE(server.emitEvent("STOP"));
  ASSERT_TRUE(recorder.waitForEvents(1));
  auto reply = transport->execute("query-status");
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_TRUE(transport->connected());
  EXPECT_EQ(recorder.hangUps(), 0);
}

TEST(QmpTransport, ExecuteFromAnEventCallbackIsRefusedInsteadOfDeadlocking) {
  FakeQmpServer server;
  std::promise<Error> refused;
  QmpTransport* self = nullptr;
  std::promise<void> ready;
  auto readyFuture = ready.get_future().share();
  QmpCallbacks callbacks;
  callbacks.onEvent = [&](const Event&) {
    readyFuture.wait();
    auto reply = self->execute("query-status");
    refused.set_value(reply.ok() ? Error{} : reply.error());
  };
  auto transport = connectTo(server, callbacks);
  ASSERT_TRUE(transport);
  self = transport.get();
  ready.set_value();
  ASSERT_TRUE(server.emitEvent("STOP"));
  auto future = refused.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  auto error = future.get();
  EXPECT_EQ(error.code, Errc::internal);
  EXPECT_THAT(error.message, HasSubstr("deadlock"));
}

TEST(QmpTransport, DestroyingTheTransportFromTheHangUpCallbackIsSafe) {
  FakeQmpServer server;
  std::unique_ptr<QmpTransport> transport;
  std::mutex mutex;
  std::promise<void> destroyed;
  QmpCallbacks callbacks;
  callbacks.onHangUp = [&] {
    std::unique_ptr<QmpTransport> doomed;
    {
      std::lock_guard lock(mutex);
      doomed = std::move(transport);
    }
    doomed.reset();  // self-join would deadlock; the reader must detach instead
    destroyed.set_value();
  };
  {
    auto connected = QmpTransport::connect(server.socketPath(), kConnectTimeout, callbacks);
    ASSERT_TRUE(connected.ok()) << connected.error().message;
    std::lock_guard lock(mutex);
    transport = std::move(*connected);
  }
  server.dropConnection();
  EXPECT_EQ(destroyed.get_future().wait_for(kWait), std::future_status::ready);
  std::lock_guard lock(mutex);
  EXPECT_EQ(transport, nullptr);
}

TEST(QmpTransport, ClosingFromAnEventCallbackIsSafeAndStopsFurtherCallbacks) {
  FakeQmpServer server;
  std::atomic<QmpTransport*> self{nullptr};
  std::atomic<int> events{0};
  std::promise<void> closed;
  QmpCallbacks callbacks;
  callbacks.onEvent = [&](const Event&) {
    if (++events == 1) {
      self.load()->close();
      closed.set_value();
    }
  };
  auto transport = connectTo(server, callbacks);
  ASSERT_TRUE(transport);
  self = transport.get();
  // Both lines may land in one read; the second must still not be delivered after close().
  ASSERT_TRUE(server.sendRaw(FakeQmpServer::event("STOP", json::object()).dump() + "\n" +
                             FakeQmpServer::event("RESUME", json::object()).dump()));
  ASSERT_EQ(closed.get_future().wait_for(kWait), std::future_status::ready);
  transport.reset();
  EXPECT_EQ(events.load(), 1);
}

}  // namespace
}  // namespace paddock::qmp
