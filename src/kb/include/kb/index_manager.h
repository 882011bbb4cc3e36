// kb::IndexManager: the vector indexes of one Store's collections — built on first use, kept
// current from the store's change events, persisted, verified and repaired.
//
// One index per (collection, metric). A collection with fewer than `ann_min_vectors` vectors
// gets an ExactVectorIndex (also the oracle); larger ones an HnswVectorIndex.
// Snapshots (DESIGN §3): searches read an immutable IndexSnapshot — a base index, the store
// generation it reflects, and delta segments (exact indexes of the vectors added since, plus
// the ids each segment touched, which hide stale base entries). A writer's commit only
// queues its ChangeEvent; the next search turns the queue into a new segment and publishes a
// new snapshot atomically. When the segments hold more than `fold_threshold` entries they are
// folded into the base: an exact base is copied, an HNSW base is updated in place under an
// exclusive lock that searches of it hold shared (copying a million-vector graph per fold
// would cost more than it protects). A fold that leaves more than `compact_deleted_fraction`
// of the HNSW slots deleted rebuilds the graph from its live vectors (index compaction).
// Persistence: an HNSW base is saved to DIR/indexes/c<collection id>-<metric>.hnsw
// (index_file.h) after it is built or folded, and on destruction when newer than its file. On
// first use a file whose header matches the collection, dimension and metric and whose
// generation equals the store's is loaded; a missing, stale (e.g. a crash between the SQLite
// commit and the index save), truncated or corrupt file is rebuilt from SQLite.
// Ownership: borrows the Store (must outlive the manager; register before serving).
// Thread-safety: every method may be called concurrently.
// Errors: kInvalidArgument (dimension), store errors, kIOError for failed saves (the index
// stays usable in memory).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "kb/hnsw_index.h"
#include "kb/store.h"
#include "kb/vector_index.h"

namespace dkb::kb {

struct IndexManagerOptions {
  std::string dir;  // index files go to dir + "/indexes"; empty = memory only
  size_t ann_min_vectors = 4096;
  size_t fold_threshold = 2048;
  double compact_deleted_fraction = 0.25;
  HnswParams hnsw;
};

// Vectors added by one batch of change events, and every id the batch touched.
struct DeltaSegment {
  std::unique_ptr<ExactVectorIndex> adds;
  std::unordered_set<int64_t> touched;
};

struct IndexSnapshot {
  std::shared_ptr<VectorIndex> base;
  uint64_t generation = 0;
  std::vector<std::shared_ptr<const DeltaSegment>> segments;  // oldest first
  size_t delta_entries = 0;
  size_t size() const;  // live vectors (base + delta − hidden)
};

// verify()/repair() findings for one collection's indexes.
struct IndexReport {
  std::vector<std::string> problems;
  std::vector<std::string> notes;
  std::vector<std::string> repaired;
};

// Counters since construction (tests and diagnostics).
struct IndexManagerStats {
  uint64_t builds = 0;       // bases built from SQLite
  uint64_t loads = 0;        // bases loaded from their file
  uint64_t folds = 0;        // delta segments folded into a base
  uint64_t compactions = 0;  // HNSW graphs rebuilt to drop deleted slots
};

class IndexManager {
 public:
  IndexManager(Store& store, IndexManagerOptions options);
  ~IndexManager();
  IndexManager(const IndexManager&) = delete;
  IndexManager& operator=(const IndexManager&) = delete;

  // Top-k by descending score among the ids in `allow` (sorted; null = all).
  Result<std::vector<VectorHit>> search(const Collection& coll, Metric metric,
                                        std::span<const float> query, size_t k,
                                        const std::vector<int64_t>* allow);
  // The current snapshot, brought up to date with the store.
  Result<std::shared_ptr<const IndexSnapshot>> snapshot(const Collection& coll, Metric metric);

  // Checks the collection's index files (checksum, header, staleness) and its loaded indexes
  // against SQLite (same ids). `repair` rebuilds whatever is wrong and saves fresh files.
  Result<IndexReport> verify(const Collection& coll, bool repair);
  // Writes every HNSW index that is newer than its file.
  Status save_all();

  std::string index_path(int64_t collection_id, Metric metric) const;
  IndexManagerStats stats() const;
  const IndexManagerOptions& options() const { return opt_; }

 private:
  struct Entry;
  std::shared_ptr<Entry> entry_for(const Collection& coll, Metric metric);
  Status catch_up(Entry& e, const Collection& coll);
  Status build_locked(Entry& e, const Collection& coll);
  Status fold_locked(Entry& e);
  Status save_locked(Entry& e);
  void on_change(const ChangeEvent& ev);
  std::unique_ptr<VectorIndex> make_base(uint32_t dim, Metric metric, size_t n) const;

  Store& store_;
  IndexManagerOptions opt_;
  uint64_t listener_ = 0;
  std::atomic<uint64_t> builds_{0}, loads_{0}, folds_{0}, compactions_{0};
  std::mutex entries_mu_;
  std::map<std::pair<int64_t, int>, std::shared_ptr<Entry>> entries_;
};

// "cosine", "ip", "l2".
const char* metric_name(Metric metric);

}  // namespace dkb::kb
