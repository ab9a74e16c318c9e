// Copying a VM's disks with progress (templates, full clones, restores from backup), and
// removing what an interrupted copy left.
#pragma once

#include <string>
#include <vector>

#include "model/vm_spec.h"
#include "services/operations.h"

namespace paddock {

// Reports copy progress over several disks, each weighted by its size, as percentages from
// `from` to `to` of operation `op` (may be null).
class CopyProgress {
 public:
  CopyProgress(OperationContext* op, const std::vector<DiskSpec>& disks, int from, int to);
  void disk(const DiskSpec& d, double percent);
  void finished(const DiskSpec& d) { doneMib_ += static_cast<double>(d.sizeMib); }
  bool cancelled() const { return op_ && op_->cancelled(); }

 private:
  OperationContext* op_;
  int from_, to_;
  double total_ = 0, doneMib_ = 0;
};

// Copies fromDir/<disk>.qcow2 (with its backing chain, flattened) to toDir/<disk>.qcow2 for
// every disk; stops at the first failure or cancel.
Status copyDisks(const std::string& fromDir, const std::string& toDir,
                 const std::vector<DiskSpec>& disks, CopyProgress& progress);

// Removes every `prefix`* entry of `dir`, saying so in the log.
void removePrefixed(const std::string& dir, const std::string& prefix);

}  // namespace paddock
