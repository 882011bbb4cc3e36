// A version-1 store (before the links table) opens, is upgraded in place to version 2, keeps
// its documents, and stores links afterwards.
#include <sqlite3.h>
#include <gtest/gtest.h>

#include "kb/sqlite_store.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

int64_t query_int(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

TEST(SchemaUpgrade, VersionOneStoreGetsTheLinksTable) {
  testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  {
    auto s = open_sqlite_store(data);
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE((*s)->create_collection("kb", Json::object(), 0).is_ok());
    Document d;
    d.id = "old.md";
    d.collection = "kb";
    Chunk c;
    c.text = "written by version one";
    ASSERT_TRUE((*s)->put_document(d, {c}).is_ok());
  }
  {  // Turn it into the version-1 layout.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((data + "/kb.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE links; PRAGMA user_version=1", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = open_sqlite_store(data);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ((*s)->get_chunks("kb", "old.md")->at(0).text, "written by version one");
  Document d;
  d.id = "new.md";
  d.collection = "kb";
  d.links = {DocumentLink{"old", "", "", false}};
  Chunk c;
  c.text = "links to old";
  ASSERT_TRUE((*s)->put_document(d, {c}).is_ok());
  auto links = (*s)->list_links("kb");
  ASSERT_TRUE(links.is_ok());
  ASSERT_EQ(links->size(), 1u);
  EXPECT_EQ((*links)[0].source_id, "new.md");
  s->reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data + "/kb.db").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(query_int(db, "PRAGMA user_version"), kSchemaVersion);
  sqlite3_close(db);
}

}  // namespace
}  // namespace dkb::kb
