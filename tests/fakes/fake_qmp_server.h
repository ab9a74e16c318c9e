// A scripted stand-in for QEMU's QMP socket, in the spirit of libvirt's qemumonitortestutils:
// it answers the commands a test expects with canned replies and records every command that
// differs from the script, so the test can assert that the code said exactly what it should.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace paddock::fakes {

struct ScriptedCommand {
  std::string command;
  nlohmann::json args;                       // null and {} both mean "no arguments"
  std::vector<nlohmann::json> eventsBefore;  // whole event documents, sent before the reply
  std::optional<nlohmann::json> reply;       // {"return": ...} or {"error": ...}; id is added.
                                             // nullopt: never answered (timeout tests)
  std::vector<nlohmann::json> eventsAfter;   // sent right after the reply
  bool deferReply = false;                   // hold the reply until releaseDeferredReplies()
  bool hangUpAfter = false;  // drop the connection after replying (QEMU quitting or crashing)
};

class FakeQmpServer {
 public:
  struct Options {
    std::string socketPath;          // empty: a socket in a fresh temporary directory
    bool sendGreeting = true;        // false: QEMU that accepts but never speaks
    bool answerCapabilities = true;  // answer qmp_capabilities without a script entry
    bool anyOrder = false;           // match commands to the script by name and args, not order
  };

  FakeQmpServer();
  explicit FakeQmpServer(Options options);
  ~FakeQmpServer();
  FakeQmpServer(const FakeQmpServer&) = delete;
  FakeQmpServer& operator=(const FakeQmpServer&) = delete;

  const std::string& socketPath() const { return socketPath_; }

  void expect(ScriptedCommand step);
  void expectReturn(std::string command, nlohmann::json args, nlohmann::json value);
  void expectError(std::string command, nlohmann::json args, std::string errorClass,
                   std::string desc);

  // Sends an event now; false if no client is connected.
  bool emitEvent(const std::string& name, nlohmann::json data = nlohmann::json::object(),
                 std::int64_t seconds = 1, std::int64_t micros = 2);
  // Sends any bytes now (a newline is appended), e.g. malformed JSON.
  bool sendRaw(const std::string& line);
  // Closes the client connection as a dying QEMU would.
  void dropConnection();
  // Sends held replies, newest first, so they arrive in a different order than requested.
  void releaseDeferredReplies();

  bool waitForClient(std::chrono::milliseconds timeout);
  // Waits until `count` commands other than an auto-answered qmp_capabilities have arrived.
  bool waitForReceived(std::size_t count, std::chrono::milliseconds timeout);

  // Commands that were unexpected, malformed or had the wrong arguments.
  std::vector<std::string> mismatches() const;
  // mismatches() plus every scripted command that never arrived. Empty means the script ran.
  std::vector<std::string> verify() const;

  static nlohmann::json event(const std::string& name, nlohmann::json data,
                              std::int64_t seconds = 1, std::int64_t micros = 2);

 private:
  void serve();
  void acceptClient();
  bool readFromClient(std::string& buffer);  // false on EOF/error
  void handleCommand(const std::string& line);
  bool answer(const std::string& line);  // false if it was an auto-answered qmp_capabilities
  bool sendLine(const std::string& line);
  void closeClient();

  Options options_;
  std::string tempDir_;
  std::string socketPath_;
  int listenFd_ = -1;
  int wakeRead_ = -1;
  int wakeWrite_ = -1;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  int clientFd_ = -1;
  bool hadClient_ = false;
  std::deque<ScriptedCommand> script_;
  std::vector<std::string> mismatches_;
  std::vector<std::string> deferred_;  // reply lines held back
  std::size_t received_ = 0;

  std::thread thread_;
};

}  // namespace paddock::fakes
