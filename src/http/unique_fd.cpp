#include "http/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <system_error>

namespace paddock::http::detail {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string errnoText(int err) {
  return std::system_category().message(err);
}

void setCloseOnExec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

}  // namespace paddock::http::detail
