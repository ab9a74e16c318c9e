#include "common/trash.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/files.h"

namespace paddock {

namespace fs = std::filesystem;

Trash::Trash(std::string dir) : dir_(std::move(dir)) {
  if (auto s = makeDirs(dir_, 0700); !s)
    spdlog::warn("trash {}: {}; folders are deleted in place", dir_, s.error().message);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) pending_.push_back(e.path().string());
  worker_ = std::thread([this] { run(); });
}

Trash::~Trash() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

Status Trash::discard(const std::string& path) {
  std::string to;
  {
    std::lock_guard lock(mutex_);
    to = fmt::format("{}/{}-{}-{}", dir_, getpid(), ++serial_, fs::path(path).filename().string());
  }
  if (::rename(path.c_str(), to.c_str()) != 0) {
    int err = errno;
    if (!pathExists(path)) return {};
    if (err != EXDEV)
      spdlog::debug("trash: cannot move {} ({}); deleting it in place", path, strerror(err));
    return removeAll(path);
  }
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(to));
  }
  changed_.notify_all();
  return {};
}

void Trash::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return pending_.empty() && !busy_; });
}

void Trash::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, and nothing left
    std::string path = std::move(pending_.front());
    pending_.pop_front();
    busy_ = true;
    lock.unlock();
    if (auto s = removeAll(path); !s) spdlog::warn("trash: {}", s.error().message);
    lock.lock();
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace paddock
