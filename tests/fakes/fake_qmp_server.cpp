#include "fakes/fake_qmp_server.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace paddock::fakes {

namespace {

using nlohmann::json;

const char* const kGreeting =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, )"
    R"("capabilities": ["oob"]}})";

json normalisedArgs(const json& args) {
  return args.is_null() ? json::object() : args;
}

void failSetup(const std::string& what) {
  // Test infrastructure: a fake that cannot even listen makes every assertion meaningless.
  throw std::runtime_error("FakeQmpServer: " + what + ": " + std::strerror(errno));
}

}  // namespace

FakeQmpServer::FakeQmpServer() : FakeQmpServer(Options{}) {}

FakeQmpServer::FakeQmpServer(Options options) : options_(std::move(options)) {
  socketPath_ = options_.socketPath;
  if (socketPath_.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "paddock-qmp-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) failSetup("mkdtemp");
    tempDir_ = pattern;
    socketPath_ = tempDir_ + "/qmp.sock";
  }

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socketPath_.size() >= sizeof address.sun_path) failSetup("socket path too long");
  std::memcpy(address.sun_path, socketPath_.data(), socketPath_.size());
  listenFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) failSetup("socket");
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    failSetup("bind " + socketPath_);
  if (::listen(listenFd_, 8) != 0) failSetup("listen");

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) failSetup("pipe");
  wakeRead_ = wake[0];
  wakeWrite_ = wake[1];
  thread_ = std::thread([this] { serve(); });
}

FakeQmpServer::~FakeQmpServer() {
  char byte = 0;
  (void)!::write(wakeWrite_, &byte, 1);
  thread_.join();
  closeClient();
  ::close(listenFd_);
  ::close(wakeRead_);
  ::close(wakeWrite_);
  ::unlink(socketPath_.c_str());
  if (!tempDir_.empty()) ::rmdir(tempDir_.c_str());
}

void FakeQmpServer::expect(ScriptedCommand step) {
  std::lock_guard lock(mutex_);
  script_.push_back(std::move(step));
}

void FakeQmpServer::expectReturn(std::string command, json args, json value) {
  ScriptedCommand step;
  step.command = std::move(command);
  step.args = std::move(args);
  step.reply = json{{"return", std::move(value)}};
  expect(std::move(step));
}

void FakeQmpServer::expectError(std::string command, json args, std::string errorClass,
                                std::string desc) {
  ScriptedCommand step;
  step.command = std::move(command);
  step.args = std::move(args);
  step.reply = json{{"error", {{"class", std::move(errorClass)}, {"desc", std::move(desc)}}}};
  expect(std::move(step));
}

json FakeQmpServer::event(const std::string& name, json data, std::int64_t seconds,
                          std::int64_t micros) {
  return json{{"event", name},
              {"data", std::move(data)},
              {"timestamp", {{"seconds", seconds}, {"microseconds", micros}}}};
}

bool FakeQmpServer::emitEvent(const std::string& name, json data, std::int64_t seconds,
                              std::int64_t micros) {
  return sendLine(event(name, std::move(data), seconds, micros).dump());
}

bool FakeQmpServer::sendRaw(const std::string& line) {
  return sendLine(line);
}

void FakeQmpServer::dropConnection() {
  std::lock_guard lock(mutex_);
  // shutdown, not close: the server thread owns the fd and closes it when it sees the EOF.
  if (clientFd_ >= 0) ::shutdown(clientFd_, SHUT_RDWR);
}

void FakeQmpServer::releaseDeferredReplies() {
  std::vector<std::string> held;
  {
    std::lock_guard lock(mutex_);
    held.swap(deferred_);
  }
  for (auto it = held.rbegin(); it != held.rend(); ++it) sendLine(*it);
}

bool FakeQmpServer::waitForClient(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return hadClient_; });
}

bool FakeQmpServer::waitForReceived(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return received_ >= count; });
}

std::vector<std::string> FakeQmpServer::mismatches() const {
  std::lock_guard lock(mutex_);
  return mismatches_;
}

std::vector<std::string> FakeQmpServer::verify() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> problems = mismatches_;
  for (const auto& step : script_)
    problems.push_back("expected command never received: " + step.command + " " +
                       normalisedArgs(step.args).dump());
  return problems;
}

bool FakeQmpServer::sendLine(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (clientFd_ < 0) return false;
  std::string data = line + "\r\n";  // QEMU ends lines with CRLF; make clients cope with it
  for (std::size_t off = 0; off < data.size();) {
    ssize_t n = ::send(clientFd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

void FakeQmpServer::closeClient() {
  std::lock_guard lock(mutex_);
  if (clientFd_ < 0) return;
  ::shutdown(clientFd_, SHUT_RDWR);
  ::close(clientFd_);
  clientFd_ = -1;
}

void FakeQmpServer::serve() {
  std::string buffer;
  for (;;) {
    int client;
    {
      std::lock_guard lock(mutex_);
      client = clientFd_;
    }
    // One client at a time, like QEMU's monitor: the next is accepted once this one is gone.
    pollfd fds[2] = {{wakeRead_, POLLIN, 0}, {client >= 0 ? client : listenFd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) return;
    if (!fds[1].revents) continue;
    if (client < 0) {
      buffer.clear();
      acceptClient();
    } else if (!readFromClient(buffer)) {
      closeClient();
    }
  }
}

void FakeQmpServer::acceptClient() {
  int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  {
    std::lock_guard lock(mutex_);
    clientFd_ = fd;
  }
  if (options_.sendGreeting) sendLine(kGreeting);
  {
    std::lock_guard lock(mutex_);
    hadClient_ = true;
  }
  changed_.notify_all();
}

bool FakeQmpServer::readFromClient(std::string& buffer) {
  int client;
  {
    std::lock_guard lock(mutex_);
    client = clientFd_;
  }
  char chunk[4096];
  ssize_t n = ::recv(client, chunk, sizeof chunk, 0);
  if (n < 0 && errno == EINTR) return true;
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<std::size_t>(n));
  for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
    std::string line = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    handleCommand(line);
    std::lock_guard lock(mutex_);
    if (clientFd_ < 0) return true;  // the script hung up; the rest of the input is moot
  }
  return true;
}

void FakeQmpServer::handleCommand(const std::string& line) {
  // Counted only once fully handled, so a test that waited for it can rely on its reply being
  // sent or deferred.
  if (!answer(line)) return;
  {
    std::lock_guard lock(mutex_);
    ++received_;
  }
  changed_.notify_all();
}

bool FakeQmpServer::answer(const std::string& line) {
  json request = json::parse(line, nullptr, false);
  json id;
  std::string name;
  json args;
  std::optional<std::string> problem;
  ScriptedCommand step;
  bool autoCapabilities = false;

  if (request.is_discarded() || !request.is_object()) {
    problem = "malformed command line: " + line;
  } else if (!request.contains("execute") || !request["execute"].is_string()) {
    problem = "command without \"execute\": " + line;
  } else {
    id = request.value("id", json());
    name = request["execute"].get<std::string>();
    args = normalisedArgs(request.value("arguments", json()));
  }

  {
    std::lock_guard lock(mutex_);
    autoCapabilities = !problem && name == "qmp_capabilities" && options_.answerCapabilities;
    if (!problem && !autoCapabilities) {
      auto matches = [&](const ScriptedCommand& s) {
        return s.command == name && normalisedArgs(s.args) == args;
      };
      auto it = script_.begin();
      if (options_.anyOrder) it = std::find_if(script_.begin(), script_.end(), matches);
      if (it == script_.end()) {
        problem = "unexpected command: " + name + " " + args.dump();
      } else {
        step = std::move(*it);
        script_.erase(it);
        if (step.command != name)
          problem = "expected command " + step.command + ", got " + name;
        else if (normalisedArgs(step.args) != args)
          problem = "command " + name + ": expected arguments " + normalisedArgs(step.args).dump() +
                    ", got " + args.dump();
      }
    }
    if (problem) mismatches_.push_back(*problem);
  }

  if (autoCapabilities) {
    sendLine(json{{"return", json::object()}, {"id", id}}.dump());
    return false;
  }
  if (problem) {
    // Answer so the client is not left waiting, but with an error it cannot mistake for success.
    json error{{"error", {{"class", "GenericError"}, {"desc", "fake QMP server: " + *problem}}}};
    if (!id.is_null()) error["id"] = id;
    sendLine(error.dump());
    return true;
  }
  for (const json& event : step.eventsBefore) sendLine(event.dump());
  if (step.reply) {
    json reply = *step.reply;
    if (!id.is_null()) reply["id"] = id;
    if (step.deferReply) {
      std::lock_guard lock(mutex_);
      deferred_.push_back(reply.dump());
    } else {
      sendLine(reply.dump());
    }
  }
  for (const json& event : step.eventsAfter) sendLine(event.dump());
  if (step.hangUpAfter) closeClient();
  return true;
}

}  // namespace paddock::fakes
