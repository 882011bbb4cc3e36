#include "engine/kv_pool.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "base/status.h"

namespace dkb::engine {

KvPool::KvPool(const KvShape& shape, int64_t n_pages, int64_t page_size)
    : shape_(shape), n_pages_(n_pages), page_size_(page_size) {
  DKB_CHECK(n_pages >= 1 && page_size >= 1 && n_pages < (int64_t{1} << 30));
  DKB_CHECK(shape.n_heads >= 1 && shape.k_dim % shape.n_heads == 0 &&
            shape.v_dim % shape.n_heads == 0);
  const size_t rows = static_cast<size_t>(n_pages * page_size);
  // Every layer's K, then every layer's V, in one mapping on huge pages: attention reads a
  // sequence's pages scattered over it, and with 4 KiB pages each of them is a TLB miss.
  const size_t es = shape.element_bytes();
  const size_t k_bytes = rows * static_cast<size_t>(shape.k_dim) * es;
  const size_t v_bytes = rows * static_cast<size_t>(shape.v_dim) * es;
  const size_t bytes = static_cast<size_t>(shape.n_layer) * (k_bytes + v_bytes);
  auto mem = HugePageBuffer::allocate(bytes);
  if (!mem.is_ok()) throw std::bad_alloc();
  mem_ = std::move(*mem);
  // Touched now (the mapping reads as zeros), so the pool's memory is resident from the start,
  // as before, and no decode step takes the page faults.
  std::memset(mem_.data(), 0, bytes);
  auto* base = static_cast<uint8_t*>(mem_.data());
  for (int64_t l = 0; l < shape.n_layer; ++l) {
    k_ptr_.push_back(base + static_cast<size_t>(l) * k_bytes);
    v_ptr_.push_back(base + static_cast<size_t>(shape.n_layer) * k_bytes +
                     static_cast<size_t>(l) * v_bytes);
  }
  pages_.resize(static_cast<size_t>(n_pages));
  tokens_.assign(rows, 0);
  free_.reserve(static_cast<size_t>(n_pages));
  // Lowest ids on top of the stack: a fresh pool hands out pages 0, 1, 2, ...
  for (int64_t p = n_pages - 1; p >= 0; --p) free_.push_back(static_cast<int32_t>(p));
  size_t n_buckets = 16;
  while (n_buckets < static_cast<size_t>(n_pages)) n_buckets *= 2;
  buckets_.assign(n_buckets, -1);
}

size_t KvPool::bytes() const {
  return static_cast<size_t>(shape_.n_layer * n_positions() * (shape_.k_dim + shape_.v_dim)) *
         shape_.element_bytes();
}

KvPoolStats KvPool::stats() const {
  KvPoolStats s;
  s.n_pages = n_pages_;
  s.page_size = page_size_;
  s.free = static_cast<int64_t>(free_.size());
  s.cached = n_lru_;
  s.used = n_pages_ - s.free - s.cached;
  s.evictions = evictions_;
  return s;
}

int32_t KvPool::allocate() {
  int32_t p = -1;
  if (!free_.empty()) {
    p = free_.back();
    free_.pop_back();
  } else if (lru_head_ >= 0) {
    p = lru_head_;
    lru_remove(p);
    unpublish(p);
    ++evictions_;
  } else {
    return -1;
  }
  pages_[p].ref = 1;
  return p;
}

void KvPool::retain(int32_t page) {
  Page& pg = pages_[page];
  DKB_CHECK(pg.ref > 0 || pg.in_lru);
  if (pg.in_lru) lru_remove(page);
  ++pg.ref;
}

void KvPool::release(int32_t page) {
  Page& pg = pages_[page];
  DKB_CHECK(pg.ref > 0);
  if (--pg.ref > 0) return;
  if (pg.key != 0) {
    lru_push(page);
  } else {
    free_.push_back(page);
  }
}

void KvPool::copy_rows(int32_t dst, int32_t src, int64_t n_rows) {
  DKB_CHECK(n_rows >= 0 && n_rows <= page_size_);
  // Rows [0, n_rows) of each head's block (pages are head-major, kv_cache.h).
  const int64_t heads = shape_.n_heads;
  const auto es = static_cast<int64_t>(shape_.element_bytes());
  auto copy = [&](uint8_t* base, int64_t dim) {
    const int64_t hd = dim / heads;
    for (int64_t h = 0; h < heads; ++h) {
      std::memcpy(base + (dst * page_size_ * dim + h * page_size_ * hd) * es,
                  base + (src * page_size_ * dim + h * page_size_ * hd) * es,
                  static_cast<size_t>(n_rows * hd * es));
    }
  };
  for (int64_t l = 0; l < shape_.n_layer; ++l) {
    copy(k_ptr_[l], shape_.k_dim);
    if (shape_.v_dim > 0) copy(v_ptr_[l], shape_.v_dim);
  }
}

size_t KvPool::bucket(uint64_t parent, int32_t first_token) const {
  uint64_t h = parent * 0x9E3779B97F4A7C15ull ^ static_cast<uint32_t>(first_token);
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return static_cast<size_t>(h) & (buckets_.size() - 1);
}

uint64_t KvPool::publish(int32_t page, uint64_t parent, std::span<const int32_t> toks) {
  Page& pg = pages_[page];
  DKB_CHECK(pg.ref > 0 && pg.key == 0);
  DKB_CHECK(!toks.empty() && static_cast<int64_t>(toks.size()) <= page_size_);
  const size_t b = bucket(parent, toks[0]);
  for (int32_t q = buckets_[b]; q >= 0; q = pages_[q].hnext) {
    const Page& o = pages_[q];
    if (o.parent == parent && o.n_tokens == static_cast<int32_t>(toks.size()) &&
        std::equal(toks.begin(), toks.end(), tokens(q))) {
      return o.key;
    }
  }
  pg.key = ++next_key_;
  pg.parent = parent;
  pg.n_tokens = static_cast<int32_t>(toks.size());
  std::copy(toks.begin(), toks.end(), tokens_.begin() + page * page_size_);
  pg.hnext = buckets_[b];
  pg.hprev = -1;
  if (pg.hnext >= 0) pages_[pg.hnext].hprev = page;
  buckets_[b] = page;
  return pg.key;
}

KvPool::Match KvPool::find(uint64_t parent, std::span<const int32_t> toks) const {
  Match best;
  if (toks.empty()) return best;
  const size_t b = bucket(parent, toks[0]);
  for (int32_t q = buckets_[b]; q >= 0; q = pages_[q].hnext) {
    const Page& o = pages_[q];
    if (o.parent != parent) continue;
    const int32_t* t = tokens(q);
    const int64_t n = std::min<int64_t>(o.n_tokens, static_cast<int64_t>(toks.size()));
    int64_t c = 0;
    while (c < n && t[c] == toks[c]) ++c;
    const bool full = o.n_tokens == page_size_;
    if (c > best.n_common || (c == best.n_common && c > 0 && full && !best.full)) {
      best = {q, c, full, o.key};
    }
  }
  return best;
}

void KvPool::unpublish(int32_t page) {
  Page& pg = pages_[page];
  if (pg.key == 0) return;
  if (pg.hprev >= 0) {
    pages_[pg.hprev].hnext = pg.hnext;
  } else {
    buckets_[bucket(pg.parent, tokens(page)[0])] = pg.hnext;
  }
  if (pg.hnext >= 0) pages_[pg.hnext].hprev = pg.hprev;
  pg = Page{};
}

void KvPool::lru_push(int32_t page) {
  Page& pg = pages_[page];
  pg.prev = lru_tail_;
  pg.next = -1;
  if (lru_tail_ >= 0) pages_[lru_tail_].next = page; else lru_head_ = page;
  lru_tail_ = page;
  pg.in_lru = true;
  ++n_lru_;
}

void KvPool::lru_remove(int32_t page) {
  Page& pg = pages_[page];
  if (pg.prev >= 0) pages_[pg.prev].next = pg.next; else lru_head_ = pg.next;
  if (pg.next >= 0) pages_[pg.next].prev = pg.prev; else lru_tail_ = pg.prev;
  pg.prev = pg.next = -1;
  pg.in_lru = false;
  --n_lru_;
}

KvView KvPool::view(std::span<const int32_t> page_table) const {
  KvView v;
  v.k_layers = k_ptr_.data();
  v.v_layers = v_ptr_.data();
  v.k_dim = shape_.k_dim;
  v.v_dim = shape_.v_dim;
  v.n_heads = shape_.n_heads;
  v.page_size = page_size_;
  v.pages = page_table.data();
  v.n_pages = static_cast<int64_t>(page_table.size());
  v.f16 = shape_.f16;
  return v;
}

}  // namespace dkb::engine
