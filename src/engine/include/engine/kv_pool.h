// KvPool: the paged KV memory of one model's scheduler, shared by all of its sequences, and
// its prefix cache.
//
// Memory: n_pages pages of page_size positions; a page holds, for every layer, page_size K
// rows of k_dim and V rows of v_dim elements (f32, or f16: KvShape), on transparent huge pages
// where the kernel gives them. Everything is allocated at construction (std::bad_alloc when the
// memory cannot be mapped); allocate()/release() only move page ids between lists (no heap
// allocation).
//
// Reference counts: a sequence holds one reference to every page in its page table; pages
// shared by several sequences (a common prompt prefix) have several. At zero references a
// page is either free or, when it was published to the prefix cache, "cached": its contents
// stay reusable until allocate() needs the memory and evicts the least recently released
// cached page.
//
// Prefix cache: publish() registers a page under (parent key, its tokens), the parent key
// being the key of the page before it in the sequence (0 for the first page), so a key names
// the whole token chain up to the page's end. Keys are unique and never reused, so a page
// whose parent was evicted can no longer be reached. find() looks up the cached page that
// continues a parent key and shares the longest token prefix with the given tokens (bucketed
// by a hash of the parent key and the first token). Full pages (page_size tokens) are shared
// by reference; a partially matching page is meant to be copied (copy_rows) — its rows are
// never written again, but the copy's are.
//
// Not thread-safe: the scheduler thread owns the pool (DESIGN §3).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/huge_page_buffer.h"
#include "engine/kv_cache.h"

namespace dkb::engine {

struct KvPoolStats {
  int64_t n_pages = 0;
  int64_t page_size = 0;
  int64_t used = 0;        // pages referenced by a sequence
  int64_t cached = 0;      // unreferenced pages kept for the prefix cache (evictable)
  int64_t free = 0;
  int64_t evictions = 0;   // cached pages reclaimed by allocate()
};

class KvPool {
 public:
  // n_pages >= 1, page_size >= 1 (DKB_CHECK).
  KvPool(const KvShape& shape, int64_t n_pages, int64_t page_size);
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;

  const KvShape& shape() const { return shape_; }
  int64_t page_size() const { return page_size_; }
  int64_t n_pages() const { return n_pages_; }
  int64_t n_positions() const { return n_pages_ * page_size_; }
  // Pages allocate() can return: free ones plus evictable cached ones.
  int64_t n_available() const { return static_cast<int64_t>(free_.size()) + n_lru_; }
  KvPoolStats stats() const;
  size_t bytes() const;

  // A page with one reference, or -1 when every page is referenced. Takes a free page first,
  // else evicts the least recently released cached page (dropping its prefix-cache entry).
  int32_t allocate();
  // Adds a reference to a page that is referenced or cached (a cached page leaves the LRU).
  void retain(int32_t page);
  // Drops a reference; at zero the page becomes cached (published) or free.
  void release(int32_t page);
  int32_t refcount(int32_t page) const { return pages_[page].ref; }
  // The page's prefix-cache key; 0 when not published.
  uint64_t key(int32_t page) const { return pages_[page].key; }

  // Copies rows [0, n_rows) of every layer from page src to page dst.
  void copy_rows(int32_t dst, int32_t src, int64_t n_rows);

  // Registers a referenced, unpublished page holding tokens (1..page_size of them, rows
  // 0..n-1) after the chain named by parent. Returns the page's key, or the key of an
  // already published page with the same parent and tokens (then this page stays
  // unpublished: the two are interchangeable).
  uint64_t publish(int32_t page, uint64_t parent, std::span<const int32_t> tokens);
  struct Match {
    int32_t page = -1;
    int64_t n_common = 0;  // leading tokens equal to the query (<= the page's tokens)
    bool full = false;     // the page holds page_size tokens
    uint64_t key = 0;
  };
  // The published page after parent sharing the most leading tokens with tokens (ties: a
  // full page first); page -1 when none shares the first token.
  Match find(uint64_t parent, std::span<const int32_t> tokens) const;

  KvView view(std::span<const int32_t> page_table) const;

 private:
  struct Page {
    int32_t ref = 0;
    uint64_t key = 0;     // 0: not published
    uint64_t parent = 0;
    int32_t n_tokens = 0;
    int32_t hnext = -1, hprev = -1;  // neighbours in the same hash bucket
    int32_t prev = -1, next = -1;  // LRU links (cached pages only)
    bool in_lru = false;
  };
  size_t bucket(uint64_t parent, int32_t first_token) const;
  const int32_t* tokens(int32_t page) const { return tokens_.data() + page * page_size_; }
  void unpublish(int32_t page);
  void lru_push(int32_t page);
  void lru_remove(int32_t page);

  KvShape shape_;
  int64_t n_pages_, page_size_;
  HugePageBuffer mem_;                     // [n_layer] K of n_pages * page_size rows, then V
  std::vector<uint8_t*> k_ptr_, v_ptr_;    // [n_layer] base pointers for views
  std::vector<Page> pages_;
  std::vector<int32_t> tokens_;            // [n_pages][page_size]
  std::vector<int32_t> free_;              // stack of free page ids
  std::vector<int32_t> buckets_;           // hash buckets (power of two), -1 empty
  int32_t lru_head_ = -1, lru_tail_ = -1;  // head: least recently released
  int64_t n_lru_ = 0;
  uint64_t next_key_ = 0;
  int64_t evictions_ = 0;
};

}  // namespace dkb::engine
