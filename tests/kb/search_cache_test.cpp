// The store answers `where` filters and BM25 from in-memory caches (a MetadataIndex per
// collection, FTS5 document lengths) kept current by its writes. Through every kind of write
// — add, replace, delete, a reused rowid, a batch naming a document twice, rename, drop and
// recreate, repair — filtered ids and BM25 results (ids, order and scores) must equal what
// the SQL the store ran before returns: json_extract filters and bm25() ORDER BY, read
// through a second, raw connection to the same database file.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "fts5_tokenizer.h"
#include "kb/filter.h"
#include "kb/sqlite_store.h"
#include "kb/text_tokenizer.h"
#include "kb_test_util.h"
#include "sqlite_functions.h"

namespace dkb::kb {
namespace {

using testing::TempDir;

class SqlOracle {
 public:
  explicit SqlOracle(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    EXPECT_TRUE(register_fts5_tokenizer(db_).is_ok());
    EXPECT_TRUE(register_sql_functions(db_).is_ok());
  }
  ~SqlOracle() { sqlite3_close(db_); }

  std::vector<int64_t> filter(int64_t coll, const Json& where, const Json& where_document) {
    auto f = compile_where(where, "c.metadata").value();
    auto d = compile_where_document(where_document, "c.text").value();
    std::vector<int64_t> out;
    run("SELECT c.id FROM chunks c WHERE c.collection_id = ? AND (" + f.sql + ") AND (" + d.sql +
            ") ORDER BY c.id",
        coll, {f, d}, [&](sqlite3_stmt* st) { out.push_back(sqlite3_column_int64(st, 0)); });
    return out;
  }

  // The two full-text queries of the store before BM25 moved into one FTS5 call.
  std::vector<std::pair<int64_t, double>> bm25(int64_t coll, const std::string& text,
                                               const Json& where, const Json& where_document,
                                               size_t k) {
    auto f = compile_where(where, "c.metadata").value();
    auto d = compile_where_document(where_document, "c.text").value();
    std::string q;
    if (f.sql == "1" && d.sql == "1") {
      q = "SELECT top.rid, top.score FROM (SELECT chunks_fts.rowid AS rid, bm25(chunks_fts) AS "
          "score FROM chunks_fts WHERE chunks_fts MATCH ? AND EXISTS (SELECT 1 FROM chunks "
          "INDEXED BY chunks_by_collection WHERE collection_id = ? AND id = chunks_fts.rowid) "
          "ORDER BY score LIMIT ?) AS top JOIN chunks c ON c.id = top.rid JOIN documents d ON "
          "d.id = c.document_id ORDER BY top.score";
    } else {
      q = "SELECT c.id, bm25(chunks_fts) FROM chunks_fts JOIN chunks c ON c.id = "
          "chunks_fts.rowid JOIN documents d ON d.id = c.document_id WHERE chunks_fts MATCH ? "
          "AND c.collection_id = ? AND (" + f.sql + ") AND (" + d.sql +
          ") ORDER BY bm25(chunks_fts) LIMIT ?";
    }
    std::vector<std::pair<int64_t, double>> out;
    std::string match = fts5_match_expression(text);
    run(q, coll, {f, d}, [&](sqlite3_stmt* st) {
      out.emplace_back(sqlite3_column_int64(st, 0), -sqlite3_column_double(st, 1));
    }, &match, static_cast<int64_t>(k));
    return out;
  }

 private:
  void run(const std::string& sql, int64_t coll, std::initializer_list<CompiledFilter> filters,
           const std::function<void(sqlite3_stmt*)>& row, const std::string* match = nullptr,
           int64_t limit = 0) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_) << "\n" << sql;
    // Placeholders in text order: match, collection, filter parameters, limit.
    int n = 1;
    if (match) sqlite3_bind_text(st, n++, match->c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, n++, coll);
    for (const auto& f : filters) {
      for (const SqlValue& v : f.params) {
        if (const auto* s = std::get_if<std::string>(&v)) {
          sqlite3_bind_text(st, n++, s->c_str(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
        } else if (const auto* x = std::get_if<int64_t>(&v)) {
          sqlite3_bind_int64(st, n++, *x);
        } else {
          sqlite3_bind_double(st, n++, std::get<double>(v));
        }
      }
    }
    if (match) sqlite3_bind_int64(st, n++, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db_);
    sqlite3_finalize(st);
  }

  sqlite3* db_ = nullptr;
};

class SearchCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_sqlite_store(dir_.path()).value();
    oracle_ = std::make_unique<SqlOracle>(dir_.path() + "/kb.db");
    ASSERT_TRUE(store_->create_collection("kb", Json::object(), 0).is_ok());
    ASSERT_TRUE(store_->create_collection("other", Json::object(), 0).is_ok());
  }

  // Eight words of a twelve-word vocabulary (equal lengths: many tied BM25 scores), some CJK.
  Document doc(const std::string& coll, const std::string& id, int seed, std::vector<Chunk>& chunks) {
    static const char* kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                   "golf", "hotel", "india", "juliet", "kilo", "lima"};
    Document d;
    d.collection = coll;
    d.id = id;
    d.metadata = {{"g", seed % 4}, {"year", 2019 + seed % 6}, {"lang", seed % 3 ? "en" : "zh"}};
    if (seed % 5 == 0) d.metadata["tag"] = {"x", seed % 2 ? "y" : "z"};
    chunks.assign(3, Chunk());
    for (int c = 0; c < 3; ++c) {
      uint32_t h = static_cast<uint32_t>(seed * 7919 + c * 104729);
      for (int w = 0; w < 8; ++w) {
        h = h * 1103515245u + 12345u;
        chunks[c].text += std::string(kWords[(h >> 16) % 12]) + " ";
      }
      if ((seed + c) % 3 == 0) chunks[c].text += (seed + c) % 2 ? "大语言模型在本地运行" : "知识库保存文档。图书馆也是库";
      chunks[c].metadata = {{"part", c}};
    }
    return d;
  }

  void put(const std::string& coll, const std::string& id, int seed) {
    std::vector<Chunk> chunks;
    Document d = doc(coll, id, seed, chunks);
    auto r = store_->put_document(d, chunks);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  }

  // Every query × filter on `coll`; only unfiltered full-text on `unfiltered_coll` (so its
  // cache holds ids only).
  void check(const std::string& coll, const std::string& unfiltered_coll, const char* step) {
    SCOPED_TRACE(step);
    static const char* kQueries[] = {"alpha", "alpha bravo", "charlie delta echo", "模型",
                                     "库 模型", "lima 模型 kilo", "zulu"};
    const Json kWheres[] = {nullptr,
                            {{"g", 1}},
                            {{"year", {{"$gte", 2021}}}},
                            {{"$or", {{{"lang", "zh"}}, {{"g", 0}}}}},
                            {{"tag", {{"$contains", "x"}}}},
                            {{"part", {{"$ne", 1}}}, {"g", {{"$in", {0, 3}}}}}};
    const Json kDocFilters[] = {nullptr, {{"$contains", "alpha"}}, {{"$not_regex", "模型"}}};
    for (const std::string& name : {coll, unfiltered_coll}) {
      auto c = store_->get_collection(name);
      ASSERT_TRUE(c.is_ok()) << name;
      bool all = name == coll;
      for (const Json& where : kWheres) {
        for (const Json& wd : kDocFilters) {
          if (!all && (!where.is_null() || !wd.is_null())) continue;
          auto ids = store_->filter_chunk_ids(name, where, wd);
          ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
          if (all) {
            EXPECT_EQ(*ids, oracle_->filter(c->id, where, wd)) << where.dump() << wd.dump();
          }
          for (const char* q : kQueries) {
            for (size_t k : {size_t{3}, size_t{50}}) {
              TextQuery tq;
              tq.text = q;
              tq.k = k;
              tq.where = where;
              tq.where_document = wd;
              auto hits = store_->text_search(name, tq);
              ASSERT_TRUE(hits.is_ok()) << hits.status().to_string();
              std::vector<std::pair<int64_t, double>> got;
              for (const auto& h : *hits) got.emplace_back(h.chunk_id, h.score);
              EXPECT_EQ(got, oracle_->bm25(c->id, q, where, wd, k))
                  << name << " " << q << " k=" << k << " " << where.dump() << wd.dump();
            }
          }
        }
      }
    }
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SqlOracle> oracle_;
};

TEST_F(SearchCacheTest, CachesFollowEveryWrite) {
  // Interleaved collections: their chunk ids interleave too.
  for (int i = 0; i < 40; ++i) {
    put("kb", "d" + std::to_string(i), i);
    if (i % 2 == 0) put("other", "o" + std::to_string(i), i + 1000);
  }
  check("kb", "other", "initial");

  // Deleting the newest document frees the highest rowids; SQLite hands them out again (here
  // to chunks of other lengths than the cached ones).
  ASSERT_TRUE(store_->delete_document("kb", "d39").is_ok());
  put("kb", "d39b", 40);
  check("kb", "other", "reused rowids");

  for (int i = 40; i < 45; ++i) put("kb", "d" + std::to_string(i), i);
  put("other", "o-new", 77);
  check("kb", "other", "added");

  put("kb", "d3", 503);  // replaced: new text and metadata
  put("other", "o4", 504);
  check("kb", "other", "replaced");

  ASSERT_TRUE(store_->delete_document("kb", "d10").is_ok());
  ASSERT_TRUE(store_->delete_document("other", "o8").is_ok());
  check("kb", "other", "deleted");

  ASSERT_TRUE(store_->delete_document("kb", "d44").is_ok());
  put("kb", "d44b", 645);
  check("kb", "other", "reused rowids again");

  // One batch naming a document twice: its first version's chunks come and go in the batch.
  std::vector<DocumentWrite> batch(4);
  for (size_t i = 0; i < batch.size(); ++i) {
    int seed = 700 + static_cast<int>(i);
    batch[i].doc = doc("kb", i == 2 ? "dup" : (i == 0 ? "dup" : "b" + std::to_string(i)), seed, batch[i].chunks);
  }
  ASSERT_TRUE(store_->put_documents("kb", batch).is_ok());
  check("kb", "other", "batch with a repeated document");

  std::vector<std::string> gone{"d1", "d2", "missing", "b1"};
  ASSERT_TRUE(store_->delete_documents("kb", gone).is_ok());
  check("kb", "other", "batch delete");

  ASSERT_TRUE(store_->rename_collection("other", "other2").is_ok());
  put("other2", "o-renamed", 901);
  check("kb", "other2", "renamed");

  ASSERT_TRUE(store_->delete_collection("other2").is_ok());
  ASSERT_TRUE(store_->create_collection("third", Json::object(), 0).is_ok());
  for (int i = 0; i < 6; ++i) put("third", "t" + std::to_string(i), 950 + i);
  put("kb", "after-drop", 990);
  check("kb", "third", "dropped and recreated");
  check("third", "kb", "filters on a fresh collection");

  ASSERT_TRUE(store_->repair().is_ok());
  put("kb", "after-repair", 991);
  check("kb", "third", "after repair");
}

}  // namespace
}  // namespace dkb::kb
