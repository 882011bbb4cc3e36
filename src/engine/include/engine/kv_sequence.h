// KvSequence: one sequence's page table in a KvPool — which pages hold its positions.
//
// Pages are allocated as the sequence grows (reserve) and returned when it ends (release,
// also on destruction). attach_prefix() starts a sequence from the pool's prefix cache:
// full cached pages matching the prompt are shared by reference, a partially matching page
// is copied (copy-on-write: shared pages are never written). publish() registers the
// sequence's filled pages so later sequences can reuse them, even after this one ends.
//
// Invariant: a page is shared only while it is full and published, and a sequence writes
// only at positions >= its shared prefix, so no write ever reaches a shared page.
// Not thread-safe: owned by one Context / the scheduler thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "engine/kv_cache.h"
#include "engine/kv_pool.h"

namespace dkb::engine {

class KvSequence {
 public:
  explicit KvSequence(KvPool& pool);
  ~KvSequence() { release(); }
  KvSequence(const KvSequence&) = delete;
  KvSequence& operator=(const KvSequence&) = delete;

  KvPool& pool() const { return *pool_; }
  int64_t n_pages() const { return static_cast<int64_t>(pages_.size()); }
  // Positions the allocated pages can hold.
  int64_t capacity() const { return n_pages() * pool_->page_size(); }
  // Pages reserve(n_positions) would still have to allocate.
  int64_t pages_needed(int64_t n_positions) const;
  // Makes positions [0, n_positions) writable, allocating pages. kResourceExhausted (with
  // the numbers) when the pool cannot supply them; then nothing is allocated.
  Status reserve(int64_t n_positions);
  // Returns every page to the pool (last page first, so a chain's deeper pages are the first
  // to be evicted from the prefix cache).
  void release();
  // Keeps positions [0, n_positions) and returns the pages after them. A kept, partly kept
  // page that is shared or published is copied first (copy-on-write); if the pool has no
  // page for the copy, that page is dropped too. Returns the positions kept.
  int64_t truncate(int64_t n_positions);

  // On an empty sequence: reuses cached KV for the longest prefix of tokens found in the
  // prefix cache, at most max_reuse positions. Returns the positions reused (their pages are
  // in the table; the sequence continues at that position).
  int64_t attach_prefix(std::span<const int32_t> tokens, int64_t max_reuse);
  // tokens[i] is the token at position i, for every position written so far. Publishes each
  // full page not yet published and, with include_partial, the last partly filled page (to
  // be copied, not shared, by later sequences; call it when the sequence stops growing).
  void publish(std::span<const int32_t> tokens, bool include_partial);

  KvView view() const { return pool_->view(pages_); }

 private:
  KvPool* pool_;
  std::vector<int32_t> pages_;
  std::vector<uint64_t> keys_;  // prefix-cache key of each published leading page
};

}  // namespace dkb::engine
