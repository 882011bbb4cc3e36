// KvPool / KvSequence without a model: page accounting, the prefix cache's keys and LRU
// eviction, copy-on-write of partial pages, exhaustion.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/kv_pool.h"
#include "engine/kv_sequence.h"

namespace dkb::engine {
namespace {

constexpr KvShape kShape{2, 3, 2};  // 2 layers, k rows of 3 floats, v rows of 2

std::vector<int32_t> iota_tokens(int n, int first = 100) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Writes a recognisable value into every K/V row of positions [0, n) of a sequence.
void fill(const KvSequence& s, int64_t n, float base) {
  const KvView v = s.view();
  for (int64_t l = 0; l < kShape.n_layer; ++l) {
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t d = 0; d < kShape.k_dim; ++d) v.k(l, p)[d] = base + 1000 * l + 10 * p + d;
      for (int64_t d = 0; d < kShape.v_dim; ++d) v.v(l, p)[d] = -(base + 1000 * l + 10 * p + d);
    }
  }
}
bool holds(const KvSequence& s, int64_t n, float base) {
  const KvView v = s.view();
  for (int64_t l = 0; l < kShape.n_layer; ++l) {
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t d = 0; d < kShape.k_dim; ++d) {
        if (v.k(l, p)[d] != base + 1000 * l + 10 * p + d) return false;
      }
      for (int64_t d = 0; d < kShape.v_dim; ++d) {
        if (v.v(l, p)[d] != -(base + 1000 * l + 10 * p + d)) return false;
      }
    }
  }
  return true;
}

TEST(KvPool, AllocationAndFreeAccounting) {
  KvPool pool(kShape, 4, 8);
  EXPECT_EQ(pool.n_positions(), 32);
  EXPECT_EQ(pool.bytes(), 2u * 32 * (3 + 2) * sizeof(float));
  std::vector<int32_t> got;
  for (int i = 0; i < 4; ++i) got.push_back(pool.allocate());
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(pool.allocate(), -1);
  EXPECT_EQ(pool.stats().used, 4);
  EXPECT_EQ(pool.n_available(), 0);
  pool.retain(2);
  pool.release(2);
  EXPECT_EQ(pool.refcount(2), 1);
  pool.release(2);
  EXPECT_EQ(pool.stats().free, 1);
  EXPECT_EQ(pool.allocate(), 2);
  for (int32_t p : got) pool.release(p);
  const KvPoolStats s = pool.stats();
  EXPECT_EQ(s.free, 4);
  EXPECT_EQ(s.used, 0);
  EXPECT_EQ(s.cached, 0);
}

TEST(KvSequence, GrowsPageByPageAndReturnsEverything) {
  KvPool pool(kShape, 5, 4);
  KvSequence a(pool);
  ASSERT_TRUE(a.reserve(1).is_ok());
  EXPECT_EQ(a.n_pages(), 1);
  ASSERT_TRUE(a.reserve(4).is_ok());
  EXPECT_EQ(a.n_pages(), 1);
  ASSERT_TRUE(a.reserve(9).is_ok());  // crosses two page boundaries
  EXPECT_EQ(a.n_pages(), 3);
  EXPECT_EQ(a.capacity(), 12);
  fill(a, 9, 1);
  EXPECT_TRUE(holds(a, 9, 1));
  KvSequence b(pool);
  EXPECT_EQ(b.pages_needed(12), 3);
  Status s = b.reserve(12);  // only 2 pages left
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(s.message().find("2 of 5"), std::string::npos) << s.message();
  EXPECT_EQ(b.n_pages(), 0);  // nothing taken on failure
  EXPECT_EQ(pool.n_available(), 2);
  a.release();
  EXPECT_EQ(pool.n_available(), 5);
  EXPECT_EQ(pool.stats().free, 5);  // nothing was published: free, not cached
  ASSERT_TRUE(b.reserve(12).is_ok());
}

TEST(KvSequence, TruncateReturnsPagesAndCopiesASharedLastPage) {
  KvPool pool(kShape, 6, 4);
  const auto toks = iota_tokens(10);
  KvSequence a(pool);
  ASSERT_TRUE(a.reserve(10).is_ok());
  fill(a, 10, 5);
  EXPECT_EQ(a.truncate(6), 6);  // 3 pages -> 2, the second kept in part (own page: no copy)
  EXPECT_EQ(a.n_pages(), 2);
  EXPECT_EQ(pool.stats().free, 4);
  EXPECT_TRUE(holds(a, 6, 5));
  ASSERT_TRUE(a.reserve(8).is_ok());
  fill(a, 8, 5);
  a.publish(toks, false);  // both pages full and published
  const int32_t published = a.view().pages[1];
  EXPECT_EQ(a.truncate(5), 5);  // keeps row 0 of a published page: copied, not written
  EXPECT_NE(a.view().pages[1], published);
  EXPECT_NE(pool.key(published), 0u);
  EXPECT_TRUE(holds(a, 5, 5));
  KvSequence b(pool);
  EXPECT_EQ(b.attach_prefix(toks, 8), 8);  // the cached chain is intact
  EXPECT_TRUE(holds(b, 8, 5));
}

TEST(KvSequence, FullPagesAreSharedAndOutliveTheirSequence) {
  KvPool pool(kShape, 8, 4);
  const auto toks = iota_tokens(10);
  {
    KvSequence a(pool);
    ASSERT_TRUE(a.reserve(10).is_ok());
    fill(a, 10, 7);
    a.publish(toks, false);  // pages 0 and 1 are full; page 2 (2 rows) is not published
    KvSequence b(pool);
    EXPECT_EQ(b.attach_prefix(toks, 9), 8);  // two shared pages, nothing of the third
    EXPECT_EQ(b.n_pages(), 2);
    EXPECT_EQ(pool.refcount(b.view().pages[0]), 2);
    EXPECT_EQ(b.view().pages[0], a.view().pages[0]);
    EXPECT_TRUE(holds(b, 8, 7));
  }
  // Both ended: the published pages stay cached, the partial one went back to the free list.
  KvPoolStats st = pool.stats();
  EXPECT_EQ(st.cached, 2);
  EXPECT_EQ(st.used, 0);
  EXPECT_EQ(st.free, 6);
  KvSequence c(pool);
  EXPECT_EQ(c.attach_prefix(toks, 100), 8);
  EXPECT_TRUE(holds(c, 8, 7));
  EXPECT_EQ(pool.stats().cached, 0);  // referenced again
  // A different first page: no match at all.
  KvSequence d(pool);
  EXPECT_EQ(d.attach_prefix(iota_tokens(10, 300), 100), 0);
  EXPECT_EQ(d.n_pages(), 0);
}

TEST(KvSequence, PartialMatchesAreCopiedNotShared) {
  KvPool pool(kShape, 8, 4);
  auto toks = iota_tokens(7);
  KvSequence a(pool);
  ASSERT_TRUE(a.reserve(7).is_ok());
  fill(a, 7, 3);
  a.publish(toks, true);  // page 0 full, page 1 partial (3 tokens)
  // Same first page, then diverging after two tokens of the second page.
  auto other = toks;
  other[6] = 999;
  KvSequence b(pool);
  EXPECT_EQ(b.attach_prefix(other, 100), 6);
  ASSERT_EQ(b.n_pages(), 2);
  EXPECT_EQ(b.view().pages[0], a.view().pages[0]);  // shared
  EXPECT_NE(b.view().pages[1], a.view().pages[1]);  // copy-on-write
  EXPECT_EQ(pool.refcount(b.view().pages[1]), 1);
  EXPECT_TRUE(holds(b, 6, 3));
  // Writing the copy leaves the original alone.
  b.view().k(0, 5)[0] = -1;
  EXPECT_TRUE(holds(a, 7, 3));
  // max_reuse cuts a full match short: the page is copied, not shared (it will be written).
  KvSequence c(pool);
  EXPECT_EQ(c.attach_prefix(toks, 3), 3);
  EXPECT_NE(c.view().pages[0], a.view().pages[0]);
  EXPECT_TRUE(holds(c, 3, 3));
}

TEST(KvPool, PublishingTheSameChainTwiceKeepsOneEntry) {
  KvPool pool(kShape, 4, 2);
  const std::vector<int32_t> t = {5, 6};
  const int32_t p = pool.allocate(), q = pool.allocate();
  const uint64_t k1 = pool.publish(p, 0, t);
  EXPECT_NE(k1, 0u);
  EXPECT_EQ(pool.publish(q, 0, t), k1);  // equivalent: q stays unpublished
  EXPECT_EQ(pool.key(q), 0u);
  EXPECT_NE(pool.publish(q, k1, t), k1);  // same tokens after a different chain: new entry
  auto m = pool.find(0, t);
  EXPECT_EQ(m.page, p);
  EXPECT_TRUE(m.full);
  EXPECT_EQ(pool.find(k1, t).page, q);
  EXPECT_EQ(pool.find(12345, t).page, -1);
}

TEST(KvPool, EvictsLeastRecentlyReleasedCachedPagesFirst) {
  KvPool pool(kShape, 4, 2);
  auto run = [&](int first) {  // a sequence of 4 tokens (2 full pages), published, ended
    KvSequence s(pool);
    auto t = iota_tokens(4, first);
    EXPECT_TRUE(s.reserve(4).is_ok());
    s.publish(t, false);
  };
  run(10);
  run(20);
  EXPECT_EQ(pool.stats().cached, 4);
  // Touch chain 10 again so chain 20 is the least recently used.
  {
    KvSequence s(pool);
    EXPECT_EQ(s.attach_prefix(iota_tokens(4, 10), 4), 4);
  }
  KvSequence big(pool);
  ASSERT_TRUE(big.reserve(2).is_ok());  // evicts one cached page: chain 20's deeper page
  EXPECT_EQ(pool.stats().evictions, 1);
  KvSequence probe(pool);
  EXPECT_EQ(probe.attach_prefix(iota_tokens(4, 20), 4), 2);  // only its first page is left
  probe.release();
  KvSequence probe10(pool);
  EXPECT_EQ(probe10.attach_prefix(iota_tokens(4, 10), 4), 4);
  probe10.release();
  // Pages referenced by a running sequence are never evicted: with big holding one page and
  // everything else cached, 3 more can be had, not 4.
  KvSequence more(pool);
  EXPECT_FALSE(more.reserve(8).is_ok());
  EXPECT_TRUE(more.reserve(6).is_ok());
  EXPECT_EQ(pool.allocate(), -1);
}

TEST(KvPool, PagesStartingWithTheSameTokenAreFoundAndEvictedIndependently) {
  // Every prompt starts with BOS: their first pages share one hash bucket.
  KvPool pool(kShape, 3, 2);
  const std::vector<std::vector<int32_t>> t = {{1, 10}, {1, 11}, {1, 12}};
  std::vector<int32_t> p;
  for (const auto& x : t) {
    p.push_back(pool.allocate());
    pool.publish(p.back(), 0, x);
  }
  pool.release(p[1]);  // the middle entry of the bucket is evicted first
  pool.release(p[0]);
  pool.release(p[2]);
  EXPECT_EQ(pool.allocate(), p[1]);
  EXPECT_EQ(pool.find(0, t[1]).n_common, 1);  // only the shared BOS is left of it
  EXPECT_EQ(pool.find(0, t[0]).page, p[0]);
  EXPECT_EQ(pool.find(0, t[2]).page, p[2]);
  EXPECT_EQ(pool.allocate(), p[0]);
  EXPECT_EQ(pool.find(0, t[2]).page, p[2]);
  EXPECT_EQ(pool.find(0, t[0]).n_common, 1);
}

TEST(KvPool, AChildOfAnEvictedPageIsUnreachable) {
  KvPool pool(kShape, 2, 2);
  const std::vector<int32_t> root_t = {1, 2}, child_t = {3, 4};
  const int32_t root = pool.allocate(), child = pool.allocate();
  const uint64_t root_key = pool.publish(root, 0, root_t);
  pool.publish(child, root_key, child_t);
  pool.release(root);  // the root is released first, so it is evicted first
  pool.release(child);
  EXPECT_EQ(pool.stats().cached, 2);
  const int32_t p = pool.allocate();
  EXPECT_EQ(p, root);
  EXPECT_EQ(pool.find(0, root_t).page, -1);
  // The same tokens published again get a new key: the old child does not continue it.
  const uint64_t again = pool.publish(p, 0, root_t);
  EXPECT_NE(again, root_key);
  EXPECT_EQ(pool.find(again, child_t).page, -1);
  EXPECT_EQ(pool.find(root_key, child_t).page, child);  // still cached, just unreachable
}

}  // namespace
}  // namespace dkb::engine
