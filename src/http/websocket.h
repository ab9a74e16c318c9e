// A WebSocket connection, the same class on the server side (Exchange::acceptWebSocket) and the
// client side (Client::openWebSocket).
//
// Threading: one thread may block in receive() while others call sendText()/sendBinary()/close()
// (sends are serialized internally). close() from any thread unblocks a pending receive().
// Destroying the object closes the connection; it must not race with calls in other threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace paddock::http {

class WebSocket {
 public:
  struct Impl;  // Beast/Asio state; defined in websocket.cpp
  explicit WebSocket(std::unique_ptr<Impl> impl);
  ~WebSocket();
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  // false once the connection is closed or broken.
  bool sendBinary(std::string_view data);
  bool sendText(std::string_view data);

  // Blocks for the next whole message (text or binary). An error with Errc::unavailable once the
  // connection is closed by either side or broken.
  Result<std::string> receive();

  // Starts the closing handshake and waits for it (bounded by a few seconds); idempotent.
  void close();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace paddock::http
