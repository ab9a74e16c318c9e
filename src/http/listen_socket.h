// Internal to paddock_http: creating the Server's listening sockets (plain syscalls).
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"
#include "http/unique_fd.h"

namespace paddock::http::detail {

struct ListenSocket {
  UniqueFd fd;  // non-blocking, close-on-exec
  bool tcp = false;
  std::string label;     // "unix:/path" or "ip:port", for logs
  std::string unixPath;  // removed by removeSocketFile()
  dev_t dev = 0;
  ino_t ino = 0;
  int port = 0;  // tcp: the bound port
};

// Creates `path` with mode 0600 from the start: binds inside a private 0700 directory, tightens
// the mode, then renames into place. (Changing the process-wide umask instead would race with
// files other threads create.) A stale socket file is replaced; a live one (something answers)
// or any other kind of file is an Errc::conflict.
Result<ListenSocket> listenUnixSocket(const std::string& path);

// `address` must be an IP literal; port 0 picks a free port.
Result<ListenSocket> listenTcpSocket(const std::string& address, int port);

// Unlinks the socket file if it is still the one we created (not a successor daemon's).
void removeSocketFile(const ListenSocket& socket);

}  // namespace paddock::http::detail
