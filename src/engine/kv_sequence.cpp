#include "engine/kv_sequence.h"

#include <algorithm>
#include <string>

namespace dkb::engine {

KvSequence::KvSequence(KvPool& pool) : pool_(&pool) {
  pages_.reserve(static_cast<size_t>(pool.n_pages()));
  keys_.reserve(static_cast<size_t>(pool.n_pages()));
}

int64_t KvSequence::pages_needed(int64_t n_positions) const {
  const int64_t P = pool_->page_size();
  return std::max<int64_t>(0, (n_positions + P - 1) / P - n_pages());
}

Status KvSequence::reserve(int64_t n_positions) {
  const int64_t need = pages_needed(n_positions);
  if (need == 0) return Status::ok();
  if (need > pool_->n_available()) {
    return resource_exhausted("KV cache full: " + std::to_string(n_positions) +
                              " positions need " + std::to_string(need) + " more pages of " +
                              std::to_string(pool_->page_size()) + " but " +
                              std::to_string(pool_->n_available()) + " of " +
                              std::to_string(pool_->n_pages()) + " are available");
  }
  for (int64_t i = 0; i < need; ++i) pages_.push_back(pool_->allocate());
  return Status::ok();
}

void KvSequence::release() {
  for (auto it = pages_.rbegin(); it != pages_.rend(); ++it) pool_->release(*it);
  pages_.clear();
  keys_.clear();
}

int64_t KvSequence::truncate(int64_t n_positions) {
  const int64_t P = pool_->page_size();
  n_positions = std::clamp<int64_t>(n_positions, 0, capacity());
  const size_t keep = static_cast<size_t>((n_positions + P - 1) / P);
  while (pages_.size() > keep) {
    pool_->release(pages_.back());
    pages_.pop_back();
  }
  keys_.resize(std::min(keys_.size(), static_cast<size_t>(n_positions / P)));
  const int64_t rows = n_positions % P;
  if (rows == 0) return n_positions;
  // The last page will be written again from row `rows` on: it must be this sequence's own.
  const int32_t last = pages_.back();
  if (pool_->refcount(last) == 1 && pool_->key(last) == 0) return n_positions;
  const int32_t copy = pool_->allocate();
  pages_.pop_back();
  if (copy < 0) {
    pool_->release(last);
    return n_positions - rows;
  }
  pool_->copy_rows(copy, last, rows);
  pool_->release(last);
  pages_.push_back(copy);
  return n_positions;
}

int64_t KvSequence::attach_prefix(std::span<const int32_t> tokens, int64_t max_reuse) {
  DKB_CHECK(pages_.empty());
  const int64_t P = pool_->page_size();
  max_reuse = std::min<int64_t>(max_reuse, static_cast<int64_t>(tokens.size()));
  int64_t pos = 0;
  uint64_t parent = 0;
  while (pos < max_reuse) {
    const auto want = tokens.subspan(static_cast<size_t>(pos),
                                     static_cast<size_t>(std::min<int64_t>(P, static_cast<int64_t>(tokens.size()) - pos)));
    const KvPool::Match m = pool_->find(parent, want);
    const int64_t usable = std::min(m.n_common, max_reuse - pos);
    if (m.page < 0 || usable <= 0) break;
    if (usable == P && m.full) {  // the whole page: share it
      pool_->retain(m.page);
      pages_.push_back(m.page);
      keys_.push_back(m.key);
      parent = m.key;
      pos += P;
      continue;
    }
    // Part of a page: copy its leading rows into a page of our own (copy-on-write). The source
    // is pinned first so that allocating cannot evict it.
    pool_->retain(m.page);
    const int32_t copy = pool_->allocate();
    if (copy >= 0) {
      pool_->copy_rows(copy, m.page, usable);
      pages_.push_back(copy);
      pos += usable;
    }
    pool_->release(m.page);
    break;
  }
  return pos;
}

void KvSequence::publish(std::span<const int32_t> tokens, bool include_partial) {
  const int64_t P = pool_->page_size();
  const int64_t n = std::min<int64_t>(static_cast<int64_t>(tokens.size()), capacity());
  // keys_ covers the leading pages already published (or shared from the cache); a page
  // after an unpublished one cannot be keyed, so publishing stops at the first gap.
  while (static_cast<int64_t>(keys_.size()) < n_pages()) {
    const int64_t i = static_cast<int64_t>(keys_.size());
    const int64_t rows = std::min(P, n - i * P);
    if (rows <= 0 || (rows < P && !include_partial)) return;
    // Published earlier as a partial page (its later rows are not part of that entry).
    if (pool_->key(pages_[i]) != 0) return;
    const uint64_t parent = i == 0 ? 0 : keys_.back();
    const uint64_t key = pool_->publish(pages_[i], parent, tokens.subspan(i * P, rows));
    if (rows < P) return;  // a partial page ends the chain: it is never a parent
    keys_.push_back(key);
  }
}

}  // namespace dkb::engine
