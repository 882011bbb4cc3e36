// IndexManager::Entry: the state of one (collection, metric) index. Private to kb; see
// kb/index_manager.h for the snapshot and locking scheme.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "kb/index_manager.h"

namespace dkb::kb {

struct IndexManager::Entry {
  int64_t collection_id = 0;
  Metric metric = Metric::kCosine;
  uint32_t dim = 0;
  std::mutex write_mu;        // builds, drains, folds and saves, one at a time
  std::shared_mutex base_mu;  // an HNSW base: searches shared, folds exclusive
  std::mutex snap_mu;
  std::shared_ptr<const IndexSnapshot> snap;  // null until built
  std::mutex pending_mu;
  std::vector<ChangeEvent> pending;  // committed changes not yet in `snap`
  uint64_t saved_generation = 0;     // generation of the file on disk; 0 = none

  std::shared_ptr<const IndexSnapshot> get() {
    std::lock_guard l(snap_mu);
    return snap;
  }
  void publish(std::shared_ptr<const IndexSnapshot> s) {
    std::lock_guard l(snap_mu);
    snap = std::move(s);
  }
};

}  // namespace dkb::kb
