#include "http/listen_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace paddock::http::detail {

namespace {

Error systemError(const std::string& what, int err) {
  return makeError(Errc::internal, what + ": " + errnoText(err));
}

sockaddr_un unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;

// True when something accepts connections on `path` (another daemon), as opposed to a socket
// file left behind by a crash.
bool unixSocketAnswers(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return false;
  auto addr = unixAddress(path);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  return errno == EAGAIN || errno == EINPROGRESS;  // listening, backlog full
}

std::string parentDirectory(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Result<ListenSocket> listenUnixSocket(const std::string& path) {
  if (path.empty()) return makeError(Errc::invalid_argument, "empty unix socket path");
  if (path.size() > kMaxUnixPath)
    return makeError(Errc::invalid_argument, "unix socket path too long: " + path);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return makeError(Errc::conflict, "refusing to replace " + path + ": not a socket");
    if (unixSocketAnswers(path))
      return makeError(Errc::conflict,
                       path + " is in use by another process (is paddockd already running?)");
  }

  std::string tmpDir = parentDirectory(path) + "/.paddock-XXXXXX";
  if (::mkdtemp(tmpDir.data()) == nullptr)
    return systemError("cannot create a socket next to " + path, errno);
  const std::string tmpPath = tmpDir + "/s";
  struct Cleanup {
    const std::string& dir;
    const std::string& file;
    ~Cleanup() {
      ::unlink(file.c_str());  // already gone after a successful rename
      ::rmdir(dir.c_str());
    }
  } cleanup{tmpDir, tmpPath};
  if (tmpPath.size() > kMaxUnixPath)
    return makeError(Errc::invalid_argument, "unix socket directory path too long: " + path);

  ListenSocket socket;
  socket.label = "unix:" + path;
  socket.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket.fd.valid()) return systemError("socket", errno);
  auto addr = unixAddress(tmpPath);
  if (::bind(socket.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return systemError("cannot bind " + path, errno);
  if (::chmod(tmpPath.c_str(), 0600) != 0) return systemError("cannot chmod " + path, errno);
  if (::listen(socket.fd.get(), SOMAXCONN) != 0)
    return systemError("cannot listen on " + path, errno);
  if (::rename(tmpPath.c_str(), path.c_str()) != 0)
    return systemError("cannot create " + path, errno);
  if (::lstat(path.c_str(), &st) == 0) {
    socket.dev = st.st_dev;
    socket.ino = st.st_ino;
  }
  socket.unixPath = path;
  return socket;
}

Result<ListenSocket> listenTcpSocket(const std::string& address, int port) {
  if (port < 0 || port > 65535)
    return makeError(Errc::invalid_argument, "port out of range: " + std::to_string(port));
  sockaddr_storage storage{};
  socklen_t size = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    size = sizeof *v4;
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    size = sizeof *v6;
  } else {
    return makeError(Errc::invalid_argument, "not an IP address: " + address);
  }
  const bool isV6 = storage.ss_family == AF_INET6;
  const std::string host = isV6 ? "[" + address + "]" : address;

  ListenSocket socket;
  socket.tcp = true;
  socket.fd.reset(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket.fd.valid()) return systemError("socket", errno);
  int one = 1;
  ::setsockopt(socket.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(socket.fd.get(), reinterpret_cast<sockaddr*>(&storage), size) != 0) {
    int err = errno;
    std::string label = host + ":" + std::to_string(port);
    if (err == EADDRINUSE) return makeError(Errc::conflict, label + " is already in use");
    return systemError("cannot bind " + label, err);
  }
  if (::listen(socket.fd.get(), SOMAXCONN) != 0)
    return systemError("cannot listen on " + host, errno);
  socklen_t len = sizeof storage;
  if (::getsockname(socket.fd.get(), reinterpret_cast<sockaddr*>(&storage), &len) != 0)
    return systemError("getsockname", errno);
  socket.port = ntohs(isV6 ? v6->sin6_port : v4->sin_port);
  socket.label = host + ":" + std::to_string(socket.port);
  return socket;
}

void removeSocketFile(const ListenSocket& socket) {
  struct stat st {};
  if (!socket.unixPath.empty() && ::lstat(socket.unixPath.c_str(), &st) == 0 &&
      st.st_dev == socket.dev && st.st_ino == socket.ino)
    ::unlink(socket.unixPath.c_str());
}

}  // namespace paddock::http::detail
