#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kb/filter.h"
#include "kb/fusion.h"
#include "kb/ingestor.h"
#include "kb/searcher.h"
#include "kb/sqlite_store.h"
#include "kb/text_tokenizer.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

using testing::FakeEmbedder;
using testing::TempDir;

std::vector<std::string> doc_ids(const std::vector<SearchHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.document_id);
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = open_sqlite_store(dir_.path());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->create_collection("kb", Json::object(), 0).is_ok());
    ingestor_ = std::make_unique<Ingestor>(*store_, &embedder_);
    add("zh-model", "大语言模型可以在本地运行。",
        {{"lang", "zh"}, {"year", 2024}, {"tags", {"ai", "llm"}}});
    add("zh-lib", "知识库保存私有文档。图书馆也是一种库。",
        {{"lang", "zh"}, {"year", 2023}, {"tags", {"kb"}}});
    add("zh-other", "今天天气很好，我们去公园散步。", {{"lang", "zh"}, {"year", 2020}});
    add("en-model", "Running Large Language MODELS locally keeps data private.",
        {{"lang", "en"}, {"year", 2024}, {"draft", false}});
    add("en-cook", "A recipe for bread: flour, water, salt and yeast.",
        {{"lang", "en"}, {"year", 2019}, {"draft", true}});
  }

  void add(const std::string& id, const std::string& text, Json meta) {
    IngestRequest req;
    req.collection = "kb";
    req.document_id = id;
    req.content = text;
    req.metadata = std::move(meta);
    auto r = ingestor_->ingest(req);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  }

  std::vector<std::string> bm25(const std::string& q, Json where = nullptr) {
    TextQuery tq;
    tq.text = q;
    tq.where = std::move(where);
    auto r = store_->text_search("kb", tq);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? doc_ids(*r) : std::vector<std::string>{};
  }

  TempDir dir_;
  FakeEmbedder embedder_{32};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Ingestor> ingestor_;
};

TEST(TextTokenizer, CjkUnigramsAndBigramsEnglishCaseFolded) {
  auto toks = tokenize_text("模型库 Hello, WORLD", TokenizeMode::kIndex);
  std::vector<std::string> texts;
  for (auto& t : toks) texts.push_back(t.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"模", "模型", "型", "型库", "库", "hello", "world"}));
  EXPECT_TRUE(toks[1].colocated);
  EXPECT_EQ(toks[5].start, 10u);  // byte offsets into the source
  auto q = tokenize_text("模型库", TokenizeMode::kQuery);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].text, "模型");
  EXPECT_EQ(tokenize_text("库", TokenizeMode::kQuery)[0].text, "库");
  EXPECT_EQ(fts5_match_expression("Ünïcode ünïcode"), "\"ünïcode\"");
  EXPECT_EQ(fts5_match_expression("  ,.;"), "");
  EXPECT_EQ(fts5_match_expression("ＧＰＵ Straße"), "\"gpu\" OR \"strasse\"");
  auto mixed = tokenize_text("用ＧＰＵ跑", TokenizeMode::kIndex);
  ASSERT_EQ(mixed.size(), 3u);
  EXPECT_EQ(mixed[1].text, "gpu");
  EXPECT_EQ(mixed[1].start, 3u);
  EXPECT_EQ(mixed[1].end, 12u);
}

TEST_F(SearchTest, ChineseOneAndTwoCharacterQueries) {
  auto two = bm25("模型");
  EXPECT_EQ(two, (std::vector<std::string>{"zh-model"}));
  auto one = bm25("库");
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], "zh-lib");
  auto lib = bm25("知识库");
  ASSERT_FALSE(lib.empty());
  EXPECT_EQ(lib[0], "zh-lib");
  EXPECT_TRUE(bm25("火箭").empty());
}

TEST_F(SearchTest, EnglishCaseFoldingAndHighlight) {
  auto hits = bm25("models");
  EXPECT_EQ(hits, (std::vector<std::string>{"en-model"}));
  EXPECT_EQ(bm25("LOCALLY"), (std::vector<std::string>{"en-model"}));
  TextQuery tq;
  tq.text = "language 模型";
  tq.highlight_open = "[";
  tq.highlight_close = "]";
  auto r = store_->text_search("kb", tq);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->size(), 2u);
  for (const auto& h : *r) {
    if (h.document_id == "en-model") {
      EXPECT_NE(h.highlighted.find("[Language]"), std::string::npos) << h.highlighted;
    } else {
      EXPECT_EQ(h.highlighted, "大语言[模型]可以在本地运行。");
    }
  }
}

TEST_F(SearchTest, Bm25RanksRepeatedTermsHigher) {
  add("zh-model2", "模型，模型，还是模型：模型压缩与模型量化。", {{"lang", "zh"}});
  auto hits = bm25("模型");
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0], "zh-model2");
}

TEST_F(SearchTest, WhereFiltersInsideTheQuery) {
  EXPECT_EQ(bm25("模型 models", {{"lang", "en"}}), (std::vector<std::string>{"en-model"}));
  EXPECT_EQ(bm25("模型 models", {{"lang", {{"$ne", "en"}}}}),
            (std::vector<std::string>{"zh-model"}));
  auto ids = [&](Json where) {
    auto r = store_->filter_chunk_ids("kb", where);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    std::vector<std::string> docs;
    auto hits = store_->get_hits(*r);
    for (auto& h : *hits) docs.push_back(h.document_id);
    std::sort(docs.begin(), docs.end());
    return docs;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({{"year", {{"$gte", 2024}}}}), (V{"en-model", "zh-model"}));
  EXPECT_EQ(ids({{
                     "year",
                     {{"$gt", 2019}},
                 },
                 {"lang", "en"}}),
            (V{"en-model"}));
  EXPECT_EQ(ids({{"year", {{"$lt", 2020}}}}), (V{"en-cook"}));
  EXPECT_EQ(ids({{"year", {{"$lte", 2020}}}}), (V{"en-cook", "zh-other"}));
  EXPECT_EQ(ids({{"year", {{"$in", {2019, 2023}}}}}), (V{"en-cook", "zh-lib"}));
  EXPECT_EQ(ids({{"year", {{"$nin", {2019, 2023, 2024}}}}}), (V{"zh-other"}));
  EXPECT_EQ(ids({{"draft", true}}), (V{"en-cook"}));
  EXPECT_EQ(ids({{"tags", {{"$contains", "llm"}}}}), (V{"zh-model"}));
  EXPECT_EQ(ids({{"$or", {{{"lang", "en"}}, {{"year", 2020}}}}}),
            (V{"en-cook", "en-model", "zh-other"}));
  EXPECT_EQ(ids({{"$and", {{{"lang", "zh"}}, {{"year", {{"$ne", 2020}}}}}}}),
            (V{"zh-lib", "zh-model"}));
  // Malformed filters are rejected, not ignored.
  for (Json bad :
       {Json::parse(R"({"year": {"$gt": "x"}})"), Json::parse(R"({"$or": []})"),
        Json::parse(R"({"year": {"$regex": 1}})"), Json::parse(R"({"$nope": [{"a": 1}]})"),
        Json::parse(R"([1, 2])"), Json::parse(R"({"a\"b": 1})")}) {
    auto r = store_->filter_chunk_ids("kb", bad);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad.dump();
    TextQuery tq;
    tq.text = "模型";
    tq.where = bad;
    EXPECT_EQ(store_->text_search("kb", tq).status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST_F(SearchTest, WhereDocumentFilters) {
  auto ids = [&](Json wd) {
    auto r = store_->filter_chunk_ids("kb", nullptr, wd);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    std::vector<std::string> docs;
    if (!r.is_ok()) return docs;
    auto hits = store_->get_hits(*r);
    for (auto& h : *hits) docs.push_back(h.document_id);
    std::sort(docs.begin(), docs.end());
    return docs;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({{"$contains", "模型"}}), (V{"zh-model"}));
  EXPECT_EQ(ids({{"$contains", "models"}}), V{});  // case-sensitive, like Chroma
  EXPECT_EQ(ids({{"$regex", "(?i)models?\\b"}}), (V{"en-model"}));
  EXPECT_EQ(ids({{"$and", {{{"$regex", "^[A-Z]"}}, {{"$not_contains", "bread"}}}}}),
            (V{"en-model"}));
  EXPECT_EQ(ids({{"$or", {{{"$contains", "库"}}, {{"$not_regex", "[a-z\\p{Han}]"}}}}}),
            (V{"zh-lib"}));
  TextQuery tq;
  tq.text = "模型 models bread";
  tq.where_document = {{"$not_contains", "模型"}};
  tq.where = {{"year", {{"$gte", 2020}}}};
  auto r = store_->text_search("kb", tq);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(doc_ids(*r), (V{"en-model"}));
  for (Json bad :
       {Json::parse(R"({"$regex": "("})"), Json::parse(R"({"$contains": 3})"),
        Json::parse(R"({"$contains": "a", "$regex": "b"})"), Json::parse(R"({"$like": "x"})")}) {
    EXPECT_EQ(store_->filter_chunk_ids("kb", nullptr, bad).status().code(),
              ErrorCode::kInvalidArgument)
        << bad.dump();
  }
}

TEST_F(SearchTest, QueryTextIsNeverFts5Syntax) {
  for (const char* q : {"OR AND NOT", "NEAR(a b)", "\"unbalanced", "col:term", "a* ^b", "-x +y"}) {
    TextQuery tq;
    tq.text = q;
    EXPECT_TRUE(store_->text_search("kb", tq).is_ok()) << q;
  }
}

TEST_F(SearchTest, VectorSearchWithFilter) {
  Searcher searcher(*store_, &embedder_);
  SearchRequest req;
  req.text = "bread flour yeast";
  req.mode = SearchMode::kVector;
  req.k = 2;
  auto r = searcher.search("kb", req);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->hits.size(), 2u);
  EXPECT_EQ(r->hits[0].document_id, "en-cook");
  EXPECT_GE(r->hits[0].score, r->hits[1].score);
  // The filter is applied during the scan: k results come back even though the best match
  // is excluded.
  req.where = {{"lang", "zh"}};
  r = searcher.search("kb", req);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->hits.size(), 2u);
  for (auto& h : r->hits) EXPECT_EQ(h.metadata["lang"], "zh");
  // Wrong query dimension is a clear error.
  req.vector = {1.0f, 2.0f};
  EXPECT_EQ(searcher.search("kb", req).status().code(), ErrorCode::kInvalidArgument);
  // The index follows writes.
  req.vector.clear();
  req.where = nullptr;
  req.text = "rocket engine fuel";
  add("en-rocket", "rocket engine fuel", {{"lang", "en"}});
  r = searcher.search("kb", req);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->hits[0].document_id, "en-rocket");
}

TEST(ExactVectorIndex, MetricsAndRemoval) {
  for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    ExactVectorIndex idx(2, m);
    ASSERT_TRUE(idx.add(1, std::vector<float>{1, 0}).is_ok());
    ASSERT_TRUE(idx.add(2, std::vector<float>{0, 1}).is_ok());
    ASSERT_TRUE(idx.add(3, std::vector<float>{0.9f, 0.1f}).is_ok());
    EXPECT_FALSE(idx.add(4, std::vector<float>{1, 2, 3}).is_ok());
    auto hits = idx.search(std::vector<float>{1, 0}, 2, nullptr);
    ASSERT_TRUE(hits.is_ok());
    ASSERT_EQ(hits->size(), 2u);
    EXPECT_EQ((*hits)[0].id, 1);
    EXPECT_EQ((*hits)[1].id, 3);
    idx.remove(1);
    EXPECT_EQ(idx.size(), 2u);
    std::vector<int64_t> allow{2};
    hits = idx.search(std::vector<float>{1, 0}, 5, &allow);
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].id, 2);
  }
}

TEST(Fusion, ReciprocalRankFusion) {
  std::vector<RankedList> lists{{{1, 2, 3}, 1.0}, {{3, 4, 1}, 1.0}};
  auto fused = reciprocal_rank_fusion(lists, 60);
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(fused[0].id, 1);  // 1/61 + 1/63
  EXPECT_EQ(fused[1].id, 3);  // 1/63 + 1/61, tie → lower id first... both equal
  EXPECT_NEAR(fused[0].score, 1.0 / 61 + 1.0 / 63, 1e-12);
  lists[1].weight = 3.0;  // weights shift the order
  fused = reciprocal_rank_fusion(lists, 60);
  EXPECT_EQ(fused[0].id, 3);
}

TEST_F(SearchTest, HybridCombinesBothSignals) {
  Searcher searcher(*store_, &embedder_);
  SearchRequest req;
  req.text = "private data 模型";
  req.mode = SearchMode::kHybrid;
  req.k = 3;
  auto r = searcher.search("kb", req);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->vector_used);
  ASSERT_FALSE(r->hits.empty());
  auto ids = doc_ids(r->hits);
  EXPECT_TRUE(contains(ids, "en-model"));
  EXPECT_TRUE(contains(ids, "zh-model"));
  for (size_t i = 1; i < r->hits.size(); ++i) EXPECT_GE(r->hits[i - 1].score, r->hits[i].score);
  // Filtered hybrid.
  req.where = {{"lang", "zh"}};
  r = searcher.search("kb", req);
  ASSERT_TRUE(r.is_ok());
  for (auto& h : r->hits) EXPECT_EQ(h.metadata["lang"], "zh");
  // Without an embedder, hybrid degrades to BM25 and says so.
  Searcher text_only(*store_, nullptr);
  req.where = nullptr;
  r = text_only.search("kb", req);
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->vector_used);
  EXPECT_FALSE(r->hits.empty());
  req.mode = SearchMode::kVector;
  EXPECT_EQ(text_only.search("kb", req).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(searcher.search("nope", req).status().code(), ErrorCode::kNotFound);
}

// Known RRF ordering with explicit vectors: C is 2nd in both lists and beats A (1st in BM25,
// 4th by vector); a zero vector weight leaves the BM25 order.
TEST(Hybrid, FusedOrderingWithExplicitVectors) {
  TempDir dir;
  auto s = open_sqlite_store(dir.path());
  ASSERT_TRUE(s.is_ok());
  Store& store = *s.value();
  ASSERT_TRUE(store.create_collection("h", Json::object(), 2).is_ok());
  auto put = [&](const std::string& id, const std::string& text, std::vector<float> v) {
    Document d;
    d.collection = "h";
    d.id = id;
    Chunk c;
    c.text = text;
    c.vector = std::move(v);
    ASSERT_TRUE(store.put_document(d, {c}).is_ok());
  };
  put("A", "apple apple apple", {1, 0});
  put("B", "pear", {0, 1});
  put("C", "apple pear plum fig", {0.3f, 0.95f});
  put("D", "kiwi", {0.6f, 0.8f});
  Searcher searcher(store, nullptr);
  SearchRequest req;
  req.text = "apple";
  req.vector = {0, 1};
  req.k = 4;
  auto r = searcher.search("h", req);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(doc_ids(r->hits), (std::vector<std::string>{"C", "A", "B", "D"}));
  EXPECT_NEAR(r->hits[0].score, 2.0 / 62, 1e-12);
  EXPECT_EQ(r->hits[0].highlighted, "<b>apple</b> pear plum fig");
  req.vector_weight = 0;
  r = searcher.search("h", req);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->hits[0].document_id, "A");
  EXPECT_EQ(r->hits[1].document_id, "C");
}

// "hnsw:space" in collection metadata picks the metric, as in Chroma.
TEST(Searcher, MetricFromCollectionMetadata) {
  TempDir dir;
  auto s = open_sqlite_store(dir.path());
  ASSERT_TRUE(s.is_ok());
  Store& store = *s.value();
  for (const char* space : {"cosine", "l2", "ip", "bogus"}) {
    ASSERT_TRUE(store.create_collection(space, {{"hnsw:space", space}}, 2).is_ok());
    for (auto [id, v] : {std::pair{"near-long", std::vector<float>{10, 1}},
                         std::pair{"far-short", std::vector<float>{0.5f, 0.6f}}}) {
      Document d;
      d.collection = space;
      d.id = id;
      Chunk c;
      c.text = id;
      c.vector = v;
      ASSERT_TRUE(store.put_document(d, {c}).is_ok());
    }
  }
  Searcher searcher(store, nullptr);
  SearchRequest req;
  req.mode = SearchMode::kVector;
  req.vector = {1, 0.1f};
  req.k = 1;
  auto top = [&](const char* coll) {
    auto r = searcher.search(coll, req);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() && !r->hits.empty() ? r->hits[0].document_id : std::string();
  };
  EXPECT_EQ(top("cosine"), "near-long");  // same direction
  EXPECT_EQ(top("ip"), "near-long");      // larger dot product
  EXPECT_EQ(top("l2"), "far-short");      // closer point
  EXPECT_EQ(searcher.search("bogus", req).status().code(), ErrorCode::kInvalidArgument);
}

// Writers and searchers in parallel: no errors, and every search sees whole documents.
TEST_F(SearchTest, ConcurrentIngestAndSearch) {
  Searcher searcher(*store_, &embedder_);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 15; ++i) {
        IngestRequest req;
        req.collection = "kb";
        req.document_id = "w" + std::to_string(w) + "-" + std::to_string(i);
        req.content = "并发写入测试 concurrent document number " + std::to_string(i);
        if (!ingestor_->ingest(req).is_ok()) ++failures;
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 15; ++i) {
        SearchRequest req;
        req.text = "concurrent 并发";
        req.k = 5;
        if (!searcher.search("kb", req).is_ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->list_documents("kb")->size(), 5u + 30u);
}

}  // namespace
}  // namespace dkb::kb
