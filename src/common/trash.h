// Removes folders without making the caller wait: discard() renames a folder into the trash
// (one rename on the same filesystem) and a worker thread deletes it afterwards. Deleting a
// disk file whose pages are still in the page cache takes 50-100 ms, which a live migration's
// hand-over or a `vm delete` should not pay. A crash leaves the trash to the next start.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace paddock {

class Trash {
 public:
  // `dir` is created if missing; what an earlier process left in it is deleted first.
  explicit Trash(std::string dir);
  // Finishes the pending deletions.
  ~Trash();
  Trash(const Trash&) = delete;
  Trash& operator=(const Trash&) = delete;

  // Takes `path` (a file or folder) away at once and deletes it later. A path on another
  // filesystem than the trash is deleted here and now. A missing path is no error.
  Status discard(const std::string& path);
  // Waits until everything discarded so far is deleted.
  void drain();

 private:
  void run();

  std::string dir_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> pending_;
  bool busy_ = false;
  bool stopping_ = false;
  unsigned long serial_ = 0;
  std::thread worker_;
};

}  // namespace paddock
