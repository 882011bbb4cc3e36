// IndexManager over a real SqliteStore: ANN vs exact, writes followed through snapshots and
// folds, filters inside the search, persistence (load, stale, corrupt, truncated → rebuilt),
// verify/repair, index compaction; and the store's own compaction and generations.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "kb/index_manager.h"
#include "kb/searcher.h"
#include "kb/sqlite_store.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

using testing::TempDir;
constexpr uint32_t kDim = 16;

std::vector<float> rand_vec(std::mt19937& rng, size_t dim = kDim) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = nd(rng);
  return v;
}

class IndexManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    auto s = open_sqlite_store(dir_.path());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    if (!store_->get_collection("c").is_ok()) {
      ASSERT_TRUE(store_->create_collection("c", Json::object(), kDim).is_ok());
    }
  }
  IndexManagerOptions opts(bool persist = true) {
    IndexManagerOptions o;
    if (persist) o.dir = dir_.path();
    o.ann_min_vectors = 300;
    o.fold_threshold = 40;
    return o;
  }
  // Document `id` with `n` chunks; chunk i's vector is returned in `vecs` (when non-null).
  void put(const std::string& id, int n, std::vector<std::vector<float>>* vecs = nullptr,
           Json meta = Json::object()) {
    Document d;
    d.collection = "c";
    d.id = id;
    d.metadata = std::move(meta);
    std::vector<Chunk> chunks(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      chunks[i].text = id + " part " + std::to_string(i) + " rev " + std::to_string(rev_++);
      chunks[i].vector = rand_vec(rng_);
      if (vecs) vecs->push_back(chunks[i].vector);
    }
    auto r = store_->put_document(d, chunks);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  }
  Collection coll() { return store_->get_collection("c").value(); }
  std::set<int64_t> exact_top(std::span<const float> q, size_t k, Metric m = Metric::kCosine) {
    ExactVectorIndex exact(kDim, m);
    EXPECT_TRUE(store_->for_each_vector("c", [&](int64_t id, std::span<const float> v) {
      EXPECT_TRUE(exact.add(id, v).is_ok());
    }).is_ok());
    auto hits = exact.search(q, k, nullptr);
    std::set<int64_t> out;
    for (const auto& h : *hits) out.insert(h.id);
    return out;
  }
  double recall(IndexManager& m, int n_queries = 30) {
    size_t found = 0, wanted = 0;
    for (int i = 0; i < n_queries; ++i) {
      auto q = rand_vec(rng_);
      auto truth = exact_top(q, 10);
      auto hits = m.search(coll(), Metric::kCosine, q, 10, nullptr);
      EXPECT_TRUE(hits.is_ok()) << hits.status().to_string();
      for (const auto& h : *hits) found += truth.count(h.id);
      wanted += truth.size();
    }
    return static_cast<double>(found) / static_cast<double>(wanted);
  }
  int64_t top1(IndexManager& m, std::span<const float> q) {
    auto hits = m.search(coll(), Metric::kCosine, q, 1, nullptr);
    EXPECT_TRUE(hits.is_ok() && !hits->empty()) << hits.status().to_string();
    return hits.is_ok() && !hits->empty() ? hits->front().id : -1;
  }
  std::string index_file() {
    return dir_.path() + "/indexes/c" + std::to_string(coll().id) + "-cosine.hnsw";
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{42};
  int rev_ = 0;
};

TEST_F(IndexManagerTest, AnnMatchesExactAndFollowsEveryWrite) {
  for (int d = 0; d < 100; ++d) put("doc" + std::to_string(d), 5);
  IndexManager m(*store_, opts(false));
  EXPECT_GE(recall(m), 0.95);
  auto snap = m.snapshot(coll(), Metric::kCosine);
  ASSERT_TRUE(snap.is_ok());
  EXPECT_NE(dynamic_cast<HnswVectorIndex*>((*snap)->base.get()), nullptr);
  EXPECT_EQ((*snap)->size(), 500u);
  for (int round = 0; round < 6; ++round) {
    // Delete, replace and add; each change must be visible to the very next search.
    auto gone = store_->get_chunks("c", "doc" + std::to_string(round)).value();
    ASSERT_TRUE(store_->delete_document("c", "doc" + std::to_string(round)).is_ok());
    for (const auto& c : gone) EXPECT_NE(top1(m, c.vector), c.id) << "deleted chunk returned";
    auto old = store_->get_chunks("c", "doc" + std::to_string(50 + round)).value();
    std::vector<std::vector<float>> fresh;
    put("doc" + std::to_string(50 + round), 5, &fresh);
    auto now = store_->get_chunks("c", "doc" + std::to_string(50 + round)).value();
    for (const auto& c : old) EXPECT_NE(top1(m, c.vector), c.id) << "replaced chunk returned";
    for (const auto& c : now) EXPECT_EQ(top1(m, c.vector), c.id) << "new chunk not found";
    put("new" + std::to_string(round), 8);
    auto added = store_->get_chunks("c", "new" + std::to_string(round)).value();
    for (const auto& c : added) EXPECT_EQ(top1(m, c.vector), c.id);
  }
  EXPECT_GE(m.stats().folds, 1u);
  EXPECT_EQ(m.snapshot(coll(), Metric::kCosine).value()->size(),
            static_cast<size_t>(store_->count_chunks("c").value()));
  EXPECT_GE(recall(m), 0.95);
  auto report = m.verify(coll(), false);
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
}

TEST_F(IndexManagerTest, WhereFiltersApplyInsideTheAnnSearch) {
  for (int d = 0; d < 400; ++d) put("doc" + std::to_string(d), 2, nullptr, {{"g", d % 20}});
  IndexManager m(*store_, opts(false));
  Searcher searcher(*store_, nullptr, Metric::kCosine, &m);
  for (int g : {3, 11}) {
    SearchRequest r;
    r.mode = SearchMode::kVector;
    r.vector = rand_vec(rng_);
    r.k = 10;
    r.where = {{"g", g}};
    auto res = searcher.search("c", r);
    ASSERT_TRUE(res.is_ok()) << res.status().to_string();
    ASSERT_EQ(res->hits.size(), 10u);
    for (const auto& h : res->hits) EXPECT_EQ(h.metadata["g"], g);
  }
  // A broad filter ($in over half the groups) walks the graph; results stay correct.
  SearchRequest r;
  r.mode = SearchMode::kVector;
  r.vector = rand_vec(rng_);
  r.k = 10;
  r.where = {{"g", {{"$in", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}}}};
  auto res = searcher.search("c", r);
  ASSERT_TRUE(res.is_ok());
  ASSERT_EQ(res->hits.size(), 10u);
  for (const auto& h : res->hits) EXPECT_LT(h.metadata["g"].get<int>(), 10);
}

TEST_F(IndexManagerTest, SavedIndexIsLoadedWhenCurrentAndRebuiltWhenStaleOrCorrupt) {
  for (int d = 0; d < 80; ++d) put("doc" + std::to_string(d), 5);
  auto q = rand_vec(rng_);
  std::set<int64_t> want = exact_top(q, 10);
  auto ids = [&](IndexManager& m) {
    auto hits = m.search(coll(), Metric::kCosine, q, 10, nullptr).value();
    std::set<int64_t> s;
    for (const auto& h : hits) s.insert(h.id);
    return s;
  };
  {
    IndexManager m(*store_, opts());
    EXPECT_EQ(ids(m), want);
    EXPECT_EQ(m.stats().builds, 1u);
  }
  ASSERT_TRUE(std::filesystem::exists(index_file()));
  {
    IndexManager m(*store_, opts());
    EXPECT_EQ(ids(m), want);
    EXPECT_EQ(m.stats().loads, 1u);
    EXPECT_EQ(m.stats().builds, 0u);
    auto report = m.verify(coll(), false).value();
    EXPECT_TRUE(report.problems.empty());
  }
  // Stale: a commit the index never saw (as after a crash between commit and save).
  std::vector<std::vector<float>> added;
  put("late", 3, &added);
  {
    IndexManager m(*store_, opts());
    auto report = m.verify(coll(), false).value();
    ASSERT_FALSE(report.problems.empty());
    EXPECT_NE(report.problems[0].find("stale"), std::string::npos) << report.problems[0];
    EXPECT_EQ(top1(m, added[0]), store_->get_chunks("c", "late").value()[0].id);
    EXPECT_EQ(m.stats().builds, 1u);
    EXPECT_EQ(m.stats().loads, 0u);
    EXPECT_TRUE(m.verify(coll(), false).value().problems.empty());
  }
  want = exact_top(q, 10);
  // Corrupt: one flipped byte in the middle.
  {
    std::fstream f(index_file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(index_file()) / 2));
    char c = 0x5a;
    f.write(&c, 1);
  }
  {
    IndexManager m(*store_, opts());
    auto report = m.verify(coll(), false).value();
    ASSERT_EQ(report.problems.size(), 1u);
    EXPECT_NE(report.problems[0].find("checksum"), std::string::npos) << report.problems[0];
    EXPECT_EQ(ids(m), want);  // rebuilt from SQLite on first use
    EXPECT_EQ(m.stats().builds, 1u);
    EXPECT_TRUE(m.verify(coll(), false).value().problems.empty());
  }
  // Truncated: found by verify, fixed by repair.
  std::filesystem::resize_file(index_file(), std::filesystem::file_size(index_file()) - 999);
  {
    IndexManager m(*store_, opts());
    auto report = m.verify(coll(), true).value();
    EXPECT_FALSE(report.problems.empty());
    EXPECT_FALSE(report.repaired.empty());
    EXPECT_TRUE(m.verify(coll(), false).value().problems.empty());
    EXPECT_TRUE(check_index_file(index_file()).is_ok());
    EXPECT_EQ(ids(m), want);
  }
}

TEST_F(IndexManagerTest, WrongDimensionIsRejectedAndChangesNothing) {
  put("a", 2);
  uint64_t gen = store_->generation("c");
  IndexManager m(*store_, opts(false));
  Document d;
  d.collection = "c";
  d.id = "bad";
  std::vector<Chunk> chunks(1);
  chunks[0].text = "x";
  chunks[0].vector.assign(kDim + 3, 0.5f);
  EXPECT_EQ(store_->put_document(d, chunks).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->count_chunks("c").value(), 2);
  EXPECT_EQ(store_->generation("c"), gen);
  EXPECT_EQ(m.search(coll(), Metric::kCosine, chunks[0].vector, 3, nullptr).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(m.snapshot(coll(), Metric::kCosine).value()->size(), 2u);
}

TEST_F(IndexManagerTest, ManyDeletesCompactTheGraph) {
  for (int d = 0; d < 120; ++d) put("doc" + std::to_string(d), 5);
  auto o = opts(false);
  o.fold_threshold = 20;
  IndexManager m(*store_, o);
  auto q = rand_vec(rng_);
  ASSERT_TRUE(m.search(coll(), Metric::kCosine, q, 5, nullptr).is_ok());
  for (int d = 0; d < 60; ++d) {
    ASSERT_TRUE(store_->delete_document("c", "doc" + std::to_string(d)).is_ok());
    if (d % 5 == 4) ASSERT_TRUE(m.search(coll(), Metric::kCosine, q, 5, nullptr).is_ok());
  }
  EXPECT_GE(m.stats().compactions, 1u);
  auto snap = m.snapshot(coll(), Metric::kCosine).value();
  auto* h = dynamic_cast<HnswVectorIndex*>(snap->base.get());
  ASSERT_NE(h, nullptr);
  EXPECT_LE(h->deleted_slots(), h->size() / 4 + 20);
  EXPECT_EQ(snap->size(), 300u);
  EXPECT_EQ(exact_top(q, 10).size(), 10u);
  EXPECT_GE(recall(m), 0.95);
}

TEST_F(IndexManagerTest, GenerationsPersistAndNeverRepeat) {
  put("a", 1);
  uint64_t g1 = store_->generation("c");
  store_.reset();
  open();
  EXPECT_EQ(store_->generation("c"), g1);
  put("b", 1);
  uint64_t g2 = store_->generation("c");
  EXPECT_GT(g2, g1);
  ASSERT_TRUE(store_->create_collection("d", Json::object(), 0).is_ok());
  EXPECT_GT(store_->generation("d"), g2);
  ASSERT_TRUE(store_->delete_collection("c").is_ok());
  ASSERT_TRUE(store_->create_collection("c", Json::object(), kDim).is_ok());
  EXPECT_GT(store_->generation("c"), store_->generation("d"));
}

// Deletes give space back without an explicit compact(), and replacing the same documents
// over and over keeps the store's size bounded.
TEST_F(IndexManagerTest, StoreSpaceIsReclaimedAndReplaceCyclesStayBounded) {
  auto db = [&] { return std::filesystem::file_size(dir_.path() + "/kb.db"); };
  auto wal = [&] {
    std::error_code ec;
    auto n = std::filesystem::file_size(dir_.path() + "/kb.db-wal", ec);
    return ec ? 0 : n;
  };
  std::string filler;
  for (int i = 0; i < 300; ++i) filler += "word" + std::to_string(i) + " ";
  auto put_big = [&](const std::string& id, int rev) {
    Document d;
    d.collection = "c";
    d.id = id;
    std::vector<Chunk> chunks(8);
    for (int i = 0; i < 8; ++i) {
      chunks[i].text = filler + id + " " + std::to_string(rev) + " " + std::to_string(i);
      chunks[i].vector = rand_vec(rng_);
    }
    ASSERT_TRUE(store_->put_document(d, chunks).is_ok());
  };
  for (int d = 0; d < 20; ++d) put_big("doc" + std::to_string(d), 0);
  uintmax_t early = 0;
  for (int cycle = 1; cycle <= 40; ++cycle) {
    for (int d = 0; d < 20; ++d) put_big("doc" + std::to_string(d), cycle);
    if (cycle == 10) early = db();
  }
  EXPECT_LE(db(), early + early / 2) << "early=" << early << " now=" << db();
  EXPECT_LE(wal(), 24u << 20);
  uintmax_t full = db();
  for (int d = 0; d < 20; ++d) ASSERT_TRUE(store_->delete_document("c", "doc" + std::to_string(d)).is_ok());
  EXPECT_LT(db() * 2, full) << "full=" << full << " after=" << db();
  auto report = store_->verify().value();
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
}

}  // namespace
}  // namespace dkb::kb
