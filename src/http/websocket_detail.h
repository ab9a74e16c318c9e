// Internal to paddock_http (includes Beast): builds WebSockets over connections that the Server
// or Client has already established.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/result.h"
#include "http/socket_io.h"
#include "http/websocket.h"

namespace paddock::http::detail {

// Answers the upgrade `request` read from `socket` (taken over). Once `stopFd` (-1 for none)
// becomes readable the connection is dropped, which is how Server::stop() reaches WebSockets that
// handlers still hold. nullptr when the handshake fails.
std::unique_ptr<WebSocket> acceptWebSocket(
    Socket socket, const boost::beast::http::request<boost::beast::http::string_body>& request,
    int stopFd);

struct ClientHandshake {
  std::string host;           // Host header
  std::string target;         // e.g. "/v1/vms/x/console"
  std::string authorization;  // full header value, empty for none
  std::string peerLabel;      // for error messages, e.g. "unix:/run/paddockd.sock"
};

// Performs the client handshake over a connected `socket` (taken over). A declined upgrade is
// turned into the server's error (e.g. 401/404).
Result<std::unique_ptr<WebSocket>> connectWebSocket(Socket socket,
                                                    const ClientHandshake& handshake);

}  // namespace paddock::http::detail
