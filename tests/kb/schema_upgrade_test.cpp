// A version-1 store (before persistent generations, the metadata index and the links table)
// opens, is upgraded in place, and works: generations, filters, writes, links, verify.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "kb/index_manager.h"
#include "kb/sqlite_store.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

using testing::TempDir;

int64_t pragma(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

TEST(SchemaUpgrade, VersionOneStoreIsUpgradedInPlace) {
  TempDir dir;
  const std::string db_path = dir.path() + "/kb.db";
  {
    auto store = open_sqlite_store(dir.path()).value();
    ASSERT_TRUE(store->create_collection("c", Json::object(), 4).is_ok());
    Document d;
    d.collection = "c";
    d.id = "a";
    d.metadata = {{"g", 1}};
    std::vector<Chunk> chunks(2);
    chunks[0].text = "alpha";
    chunks[0].vector = {1, 0, 0, 0};
    chunks[1].text = "beta";
    chunks[1].vector = {0, 1, 0, 0};
    ASSERT_TRUE(store->put_document(d, chunks).is_ok());
  }
  // Rewrite into the version-1 layout.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db,
                           // ALTER TABLE would re-check the FTS triggers, which need
                           // deepkb's tokenizer: edit the stored schema text instead.
                           "DROP INDEX chunks_by_metadata; DROP TABLE kb_state; DROP TABLE links;"
                           "PRAGMA writable_schema=ON;"
                           "UPDATE sqlite_master SET sql = replace(sql, ',\n  generation INTEGER "
                           "NOT NULL DEFAULT 0', '') WHERE name = 'collections';"
                           "PRAGMA writable_schema=OFF; PRAGMA user_version=1;",
                           nullptr, nullptr, &err),
              SQLITE_OK)
        << (err ? err : "");
    sqlite3_close(db);
  }
  ASSERT_EQ(pragma(db_path, "PRAGMA user_version"), 1);
  ASSERT_EQ(pragma(db_path, "SELECT instr(sql, 'generation') FROM sqlite_master WHERE name='collections'"), 0);
  {
    auto opened = open_sqlite_store(dir.path());
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    Store& store = **opened;
    uint64_t g0 = store.generation("c");
    Document d;
    d.collection = "c";
    d.id = "b";
    d.metadata = {{"g", 2}};
    std::vector<Chunk> chunks(1);
    chunks[0].text = "gamma";
    chunks[0].vector = {0, 0, 1, 0};
    ASSERT_TRUE(store.put_document(d, chunks).is_ok());
    EXPECT_GT(store.generation("c"), g0);
    Document linked;
    linked.collection = "c";
    linked.id = "links.md";
    linked.links = {DocumentLink{"a", "", "", false}};
    std::vector<Chunk> lc(1);
    lc[0].text = "links to a";
    lc[0].vector = {0, 0, 0, 1};
    ASSERT_TRUE(store.put_document(linked, lc).is_ok());
    auto links = store.list_links("c");
    ASSERT_TRUE(links.is_ok()) << links.status().to_string();
    ASSERT_EQ(links->size(), 1u);
    EXPECT_EQ((*links)[0].source_id, "links.md");
    auto ids = store.filter_chunk_ids("c", {{"g", 1}});
    ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
    EXPECT_EQ(ids->size(), 2u);
    IndexManager m(store, IndexManagerOptions{});
    auto coll = store.get_collection("c").value();
    auto hits = m.search(coll, Metric::kCosine, std::vector<float>{0, 0, 1, 0}, 1, nullptr);
    ASSERT_TRUE(hits.is_ok());
    EXPECT_EQ(hits->front().id, store.get_chunks("c", "b").value()[0].id);
    auto report = store.verify();
    ASSERT_TRUE(report.is_ok());
    EXPECT_TRUE(report->problems.empty());
  }
  EXPECT_EQ(pragma(db_path, "PRAGMA user_version"), 2);
  EXPECT_EQ(pragma(db_path, "SELECT count(*) FROM sqlite_master WHERE name='chunks_by_metadata'"), 1);
}

}  // namespace
}  // namespace dkb::kb
