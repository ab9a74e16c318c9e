// paddockd's HTTP/1.1 server: one thread per connection, synchronous I/O (Beast stays inside the
// .cpp). Long-lived streams and WebSockets simply keep their connection's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/http_types.h"
#include "http/websocket.h"

namespace paddock::http {

// One request's way back to the client, handed to the handler. Exactly one of respond(),
// beginStream()..endStream() or acceptWebSocket() should be used; if the handler returns having
// done none of them the server answers 500, and an open stream is ended for it.
// An Exchange is only valid during the handler call and must be used from one thread at a time.
// Abstract so that router tests can pass a fake.
class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual void respond(Response response) = 0;

  // Chunked response; every writeChunk() is flushed to the peer at once. false once the peer has
  // gone, a write timed out or the server is stopping: the handler should then return.
  virtual bool beginStream(int status, std::string contentType) = 0;
  virtual bool writeChunk(std::string_view data) = 0;
  virtual void endStream() = 0;

  virtual bool isWebSocketUpgrade() const = 0;
  // Completes the upgrade; the WebSocket owns the connection from then on and may outlive the
  // handler (Server::stop() still closes it). nullptr if this is no upgrade request or the
  // handshake fails.
  virtual std::unique_ptr<WebSocket> acceptWebSocket() = 0;
};

class Server {
 public:
  using Handler = std::function<void(const Request&, Exchange&)>;

  static constexpr std::size_t kMaxBodyBytes = 8 * 1024 * 1024;

  Server();
  ~Server();  // stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds a unix socket with mode 0600 (created that way: bound inside a private 0700 directory
  // and renamed into place, no umask games). A stale socket file is replaced; a live one (another
  // daemon answering) or a non-socket file is an error. Removed again by stop().
  Status listenUnix(const std::string& path);
  // IP literal only ("127.0.0.1", "::1", "0.0.0.0"); port 0 picks a free port. Returns the port.
  Result<int> listenTcp(const std::string& address, int port);

  // Both before start(). Requests are handled concurrently, one thread per connection, so the
  // handler must be thread-safe. With no token set every TCP request is refused (401).
  void setHandler(Handler handler);
  void setTcpAuthToken(std::string token);

  // Starts accepting on every listener (also ones added later). A stopped server stays stopped.
  Status start();
  // Closes listeners and every open connection, stream and accepted WebSocket, and joins all
  // threads. Prompt as long as handlers return once a write fails or receive() errors; a handler
  // blocked on something else holds stop() up. Idempotent; not callable from a handler.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paddock::http
