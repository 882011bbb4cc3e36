// HnswVectorIndex against ExactVectorIndex (the oracle): recall, deletes/updates, filters
// inside the search, and the index file (round trip, corruption detection).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "kb/crc32c.h"
#include "kb/hnsw_index.h"
#include "kb/vector_index.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

using testing::TempDir;

std::vector<float> random_data(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n * dim);
  for (float& x : v) x = nd(rng);
  return v;
}

struct Pair {
  std::unique_ptr<HnswVectorIndex> ann;
  std::unique_ptr<ExactVectorIndex> exact;
};

Pair build(size_t n, size_t dim, Metric metric, uint32_t seed = 1) {
  auto data = random_data(n, dim, seed);
  Pair p{std::make_unique<HnswVectorIndex>(dim, metric), std::make_unique<ExactVectorIndex>(dim, metric)};
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i * 3 + 1);  // sparse ids
  EXPECT_TRUE(p.ann->add_batch(ids, data, 2).is_ok());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_TRUE(p.exact->add(ids[i], std::span<const float>(data.data() + i * dim, dim)).is_ok());
  }
  return p;
}

// Mean recall@k of `ann` against `exact` over `n_queries` random queries under `filter`.
double recall(const VectorIndex& ann, const VectorIndex& exact, size_t dim, size_t k,
              const IdFilter& filter, int n_queries = 50) {
  auto queries = random_data(n_queries, dim, 99);
  size_t found = 0, wanted = 0;
  for (int q = 0; q < n_queries; ++q) {
    std::span<const float> query(queries.data() + q * dim, dim);
    auto a = ann.search(query, k, filter);
    auto e = exact.search(query, k, filter);
    EXPECT_TRUE(a.is_ok() && e.is_ok());
    std::set<int64_t> truth;
    for (const auto& h : *e) truth.insert(h.id);
    for (const auto& h : *a) {
      found += truth.count(h.id);
      EXPECT_TRUE(filter.accepts(h.id)) << "hit " << h.id << " violates the filter";
    }
    wanted += truth.size();
  }
  return wanted ? static_cast<double>(found) / static_cast<double>(wanted) : 1.0;
}

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_extend(crc32c("1234", 4), "56789", 5), 0xE3069283u);
}

TEST(HnswVectorIndex, RecallAt10AgainstExactForEveryMetric) {
  for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    auto p = build(8000, 24, m);
    EXPECT_EQ(p.ann->size(), 8000u);
    double r = recall(*p.ann, *p.exact, 24, 10, IdFilter{});
    EXPECT_GE(r, 0.95) << "metric " << static_cast<int>(m);
  }
}

TEST(HnswVectorIndex, ScoresAgreeWithExact) {
  auto p = build(2000, 16, Metric::kCosine);
  auto q = random_data(1, 16, 5);
  auto a = p.ann->search(q, 5, IdFilter{});
  auto e = p.exact->search(q, 5, IdFilter{});
  ASSERT_TRUE(a.is_ok() && e.is_ok());
  ASSERT_EQ(a->front().id, e->front().id);
  EXPECT_NEAR(a->front().score, e->front().score, 1e-4);
}

TEST(HnswVectorIndex, DeletesAndUpdatesAreVisible) {
  const size_t dim = 16;
  auto p = build(3000, dim, Metric::kL2);
  auto q = random_data(1, dim, 7);
  auto before = p.ann->search(q, 10, IdFilter{});
  ASSERT_TRUE(before.is_ok());
  std::vector<int64_t> gone;
  for (const auto& h : *before) gone.push_back(h.id);
  for (int64_t id : gone) {
    p.ann->remove(id);
    p.exact->remove(id);
  }
  EXPECT_EQ(p.ann->size(), 3000u - gone.size());
  EXPECT_EQ(p.ann->deleted_slots(), gone.size());
  auto after = p.ann->search(q, 10, IdFilter{});
  ASSERT_TRUE(after.is_ok());
  ASSERT_EQ(after->size(), 10u);
  for (const auto& h : *after) EXPECT_EQ(std::count(gone.begin(), gone.end(), h.id), 0);
  // Update: an existing id moved onto the query becomes the best hit.
  int64_t moved = 3 * 1234 + 1;
  ASSERT_TRUE(p.ann->add(moved, q).is_ok());
  auto upd = p.ann->search(q, 1, IdFilter{});
  ASSERT_TRUE(upd.is_ok());
  EXPECT_EQ(upd->front().id, moved);
  EXPECT_NEAR(upd->front().score, 0.0f, 1e-5);
  // Re-adding a deleted id brings it back.
  ASSERT_TRUE(p.ann->add(gone[0], q).is_ok());
  EXPECT_TRUE(p.ann->contains(gone[0]));
  auto back = p.ann->search(q, 2, IdFilter{});
  ASSERT_TRUE(back.is_ok());
  std::set<int64_t> ids{back->at(0).id, back->at(1).id};
  EXPECT_TRUE(ids.count(gone[0]) && ids.count(moved));
  // A wrong dimension is refused and changes nothing.
  std::vector<float> bad(dim + 1, 1.0f);
  EXPECT_EQ(p.ann->add(999999, bad).code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(p.ann->contains(999999));
  EXPECT_EQ(p.ann->search(bad, 3, IdFilter{}).status().code(), ErrorCode::kInvalidArgument);
}

TEST(HnswVectorIndex, FiltersApplyInsideTheSearch) {
  const size_t dim = 24, n = 8000;
  auto p = build(n, dim, Metric::kCosine);
  std::mt19937 rng(3);
  // Selectivities from broad (graph walk) to very selective (exact fallback).
  for (double keep : {0.5, 0.1, 0.03, 0.005}) {
    std::vector<int64_t> allow;
    for (size_t i = 0; i < n; ++i) {
      if (std::uniform_real_distribution<double>(0, 1)(rng) < keep) allow.push_back(static_cast<int64_t>(i * 3 + 1));
    }
    IdFilter f;
    f.allow = &allow;
    EXPECT_GE(recall(*p.ann, *p.exact, dim, 10, f), 0.95) << "keep " << keep;
    auto q = random_data(1, dim, 11);
    auto hits = p.ann->search(q, 10, f);
    ASSERT_TRUE(hits.is_ok());
    EXPECT_EQ(hits->size(), std::min<size_t>(10, allow.size())) << "keep " << keep;
  }
  // Exclusion sets (how the index manager hides replaced entries) are honoured too.
  std::unordered_set<int64_t> hidden;
  for (size_t i = 0; i < n; i += 2) hidden.insert(static_cast<int64_t>(i * 3 + 1));
  IdFilter f;
  f.exclude.push_back(&hidden);
  EXPECT_GE(recall(*p.ann, *p.exact, dim, 10, f), 0.95);
  // An allow-list of ids that are not in the index yields nothing, not an error.
  std::vector<int64_t> none{2, 5, 8};
  IdFilter fn;
  fn.allow = &none;
  auto empty = p.ann->search(random_data(1, dim, 1), 10, fn);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->empty());
}

TEST(HnswVectorIndex, FileRoundTripKeepsResultsAndHeader) {
  TempDir dir;
  const size_t dim = 16;
  auto p = build(3000, dim, Metric::kInnerProduct);
  p.ann->remove(1);
  std::string path = dir.path() + "/x.hnsw";
  ASSERT_TRUE(p.ann->save(path, 42, 7).is_ok());
  IndexFileHeader h;
  auto loaded = HnswVectorIndex::load(path, HnswParams{}, &h);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(h.generation, 42u);
  EXPECT_EQ(h.collection_id, 7);
  EXPECT_EQ(h.dimension, dim);
  EXPECT_EQ(h.metric, Metric::kInnerProduct);
  EXPECT_EQ(h.count, 2999u);
  EXPECT_EQ((*loaded)->size(), 2999u);
  EXPECT_FALSE((*loaded)->contains(1));
  auto queries = random_data(20, dim, 4);
  for (int q = 0; q < 20; ++q) {
    std::span<const float> query(queries.data() + q * dim, dim);
    auto a = p.ann->search(query, 10, IdFilter{});
    auto b = (*loaded)->search(query, 10, IdFilter{});
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    ASSERT_EQ(a->size(), b->size());
    for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].id, (*b)[i].id);
  }
  // The loaded index keeps working: inserts and deletes.
  ASSERT_TRUE((*loaded)->add(1, queries).is_ok() == false);  // wrong size: 20·dim floats
  ASSERT_TRUE((*loaded)->add(1, std::span<const float>(queries.data(), dim)).is_ok());
  EXPECT_TRUE((*loaded)->contains(1));
}

TEST(HnswVectorIndex, CorruptTruncatedAndForeignFilesAreDetected) {
  TempDir dir;
  auto p = build(1000, 8, Metric::kL2);
  std::string path = dir.path() + "/x.hnsw";
  ASSERT_TRUE(p.ann->save(path, 1, 1).is_ok());
  auto size = std::filesystem::file_size(path);
  auto bytes = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  auto write = [&](const std::string& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  auto code = [&] { return HnswVectorIndex::load(path, HnswParams{}).status().code(); };
  // A flipped payload byte.
  std::string b = bytes;
  b[size / 2] ^= 0x40;
  write(b);
  EXPECT_EQ(code(), ErrorCode::kCorruption);
  EXPECT_EQ(check_index_file(path).status().code(), ErrorCode::kCorruption);
  // A flipped header byte (the generation).
  b = bytes;
  b[33] ^= 1;
  write(b);
  EXPECT_EQ(code(), ErrorCode::kCorruption);
  // Truncated, in the payload and in the header.
  write(bytes.substr(0, size - 100));
  EXPECT_EQ(code(), ErrorCode::kCorruption);
  write(bytes.substr(0, 20));
  EXPECT_EQ(code(), ErrorCode::kCorruption);
  // Trailing garbage.
  write(bytes + "xx");
  EXPECT_EQ(code(), ErrorCode::kCorruption);
  // Not an index file at all.
  write(std::string(200, 'z'));
  EXPECT_EQ(code(), ErrorCode::kCorruption);
  // A newer version with a valid checksum.
  b = bytes;
  uint32_t v = 99;
  std::memcpy(b.data() + 8, &v, 4);
  uint32_t crc = crc32c(b.data(), 60);
  std::memcpy(b.data() + 60, &crc, 4);
  write(b);
  EXPECT_EQ(code(), ErrorCode::kFailedPrecondition);
  // Missing.
  std::filesystem::remove(path);
  EXPECT_EQ(code(), ErrorCode::kNotFound);
  // The intact file still loads.
  write(bytes);
  EXPECT_TRUE(HnswVectorIndex::load(path, HnswParams{}).is_ok());
}

}  // namespace
}  // namespace dkb::kb
