// MetadataIndex answers `where` filters in memory with exactly the rows compile_where's SQL
// selects (json_extract in SQLite): a differential test over random metadata and random
// filters, plus the corner cases of SQLite's semantics spelled out.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <random>

#include "kb/filter.h"
#include "kb/metadata_index.h"

namespace dkb::kb {
namespace {

// The SQL side: an in-memory table (id, metadata) filtered by compile_where, as the store
// did before filters moved to memory.
class SqlOracle {
 public:
  SqlOracle() {
    EXPECT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    exec("CREATE TABLE t(id INTEGER PRIMARY KEY, metadata TEXT NOT NULL)");
  }
  ~SqlOracle() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  }
  void put(int64_t id, const Json& meta) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "INSERT INTO t VALUES (?, ?)", -1, &st, nullptr);
    sqlite3_bind_int64(st, 1, id);
    std::string text = meta.dump();
    sqlite3_bind_text(st, 2, text.c_str(), -1, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
  }
  void remove(int64_t id) { exec("DELETE FROM t WHERE id = " + std::to_string(id)); }
  std::vector<int64_t> select(const Json& where) {
    auto f = compile_where(where, "metadata");
    EXPECT_TRUE(f.is_ok()) << f.status().to_string();
    sqlite3_stmt* st = nullptr;
    std::string sql = "SELECT id FROM t WHERE " + f->sql + " ORDER BY id";
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    for (size_t i = 0; i < f->params.size(); ++i) {
      int n = static_cast<int>(i) + 1;
      const SqlValue& v = f->params[i];
      if (const auto* s = std::get_if<std::string>(&v)) {
        sqlite3_bind_text(st, n, s->c_str(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      } else if (const auto* x = std::get_if<int64_t>(&v)) {
        sqlite3_bind_int64(st, n, *x);
      } else {
        sqlite3_bind_double(st, n, std::get<double>(v));
      }
    }
    std::vector<int64_t> out;
    while (sqlite3_step(st) == SQLITE_ROW) out.push_back(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::vector<int64_t> select(const MetadataIndex& index, const Json& where) {
  auto tree = parse_where(where);
  EXPECT_TRUE(tree.is_ok()) << tree.status().to_string();
  return tree.is_ok() ? index.select(*tree) : std::vector<int64_t>{};
}

// Values of every kind json_extract distinguishes, including the ones that meet in SQLite's
// ordering (bool = integer, integer = real, strings that look like numbers or like an
// array's JSON text).
struct Gen {
  std::mt19937 rng{20261129};
  size_t pick(size_t n) { return rng() % n; }
  Json scalar(bool numbers_only = false) {
    static const Json kNumbers[] = {0, 1, 2, -3, 1.0, 2.5, -0.5, 1e20, INT64_MAX, INT64_MIN};
    static const Json kOthers[] = {"", "a", "b", "ab", "1", "[1,2]", "[\"a\",\"b\"]", "é", true, false};
    if (numbers_only || pick(2) == 0) return kNumbers[pick(std::size(kNumbers))];
    return kOthers[pick(std::size(kOthers))];
  }
  Json value() {
    switch (pick(8)) {
      case 0: return nullptr;
      case 1: return Json(uint64_t{18446744073709551615ULL});  // beyond int64: REAL in SQL
      case 2:
      case 3: {
        static const Json kArrays[] = {Json::parse("[1,2]"), Json::parse("[\"a\",\"b\"]"),
                                       Json::parse("[true]"), Json::parse("[2.5,\"a\",null]")};
        if (pick(2) == 0) return kArrays[pick(std::size(kArrays))];
        Json a = Json::array();
        for (size_t i = 0, n = 1 + pick(3); i < n; ++i) a.push_back(scalar());
        return a;
      }
      default: return scalar();
    }
  }
  const char* key() {
    static const char* kKeys[] = {"a", "b", "c", "d k", "x.y", "é"};
    return kKeys[pick(std::size(kKeys))];
  }
  Json metadata() {
    Json m = Json::object();
    for (size_t i = 0, n = pick(5); i < n; ++i) m[key()] = value();
    return m;
  }
  Json leaf() {
    static const char* kOps[] = {"", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains"};
    std::string op = kOps[pick(std::size(kOps))];
    if (op.empty()) return {{key(), scalar()}};
    bool numeric = op == "$gt" || op == "$gte" || op == "$lt" || op == "$lte";
    Json operand;
    if (op == "$in" || op == "$nin") {
      operand = Json::array();
      for (size_t i = 0, n = 1 + pick(3); i < n; ++i) operand.push_back(scalar());
    } else {
      operand = scalar(numeric);
    }
    return {{key(), {{op, operand}}}};
  }
  Json filter(int depth) {
    size_t kind = depth >= 3 ? 0 : pick(4);
    if (kind <= 1) return leaf();
    if (kind == 2) {  // an implicit $and of several keys
      Json f = leaf();
      Json g = leaf();
      f.update(g);
      return f;
    }
    Json list = Json::array();
    for (size_t i = 0, n = 1 + pick(3); i < n; ++i) list.push_back(filter(depth + 1));
    return {{pick(2) ? "$and" : "$or", list}};
  }
};

TEST(MetadataIndex, MatchesTheSqlFilterOnRandomData) {
  Gen gen;
  SqlOracle sql;
  MetadataIndex index(true);
  int64_t next_id = 1;
  std::vector<int64_t> live;
  auto add = [&](size_t n) {
    for (size_t i = 0; i < n; ++i) {
      int64_t id = next_id;
      next_id += 1 + static_cast<int64_t>(gen.pick(3));  // gaps, like other collections' rows
      Json m = gen.metadata();
      sql.put(id, m);
      ASSERT_TRUE(index.add(id, m));
      live.push_back(id);
    }
  };
  auto compare_all = [&](int n_filters) {
    for (int i = 0; i < n_filters; ++i) {
      Json f = gen.filter(0);
      ASSERT_EQ(select(index, f), sql.select(f)) << f.dump();
    }
  };
  add(400);
  compare_all(600);
  // Removals, compaction, and additions after them keep the same answers.
  for (int round = 0; round < 3; ++round) {
    std::vector<int64_t> keep;
    for (int64_t id : live) {
      if (gen.pick(3) == 0) {
        sql.remove(id);
        index.remove(id);
      } else {
        keep.push_back(id);
      }
    }
    live = keep;
    add(150);
    compare_all(150);
  }
  EXPECT_EQ(index.size(), live.size());
  EXPECT_EQ(index.ids(), live);
}

TEST(MetadataIndex, SqliteSemanticsSpelledOut) {
  MetadataIndex index(true);
  const Json rows[] = {
      Json::parse(R"({"n": 1, "s": "x", "t": ["a", "b"]})"),
      Json::parse(R"({"n": 1.0, "s": "10", "t": "a"})"),
      Json::parse(R"({"n": true, "s": 10, "t": [1, 2]})"),
      Json::parse(R"({"n": "5", "s": null})"),
      Json::parse(R"({})"),
  };
  for (size_t i = 0; i < std::size(rows); ++i) ASSERT_TRUE(index.add(static_cast<int64_t>(i + 1), rows[i]));
  using V = std::vector<int64_t>;
  EXPECT_EQ(select(index, {{"n", 1}}), (V{1, 2, 3}));          // 1 = 1.0 = true
  EXPECT_EQ(select(index, {{"n", true}}), (V{1, 2, 3}));
  EXPECT_EQ(select(index, {{"n", {{"$gt", 100}}}}), (V{4}));   // a string is above every number
  EXPECT_EQ(select(index, {{"n", {{"$lt", 100}}}}), (V{1, 2, 3}));
  EXPECT_EQ(select(index, {{"s", "10"}}), (V{2}));             // text ≠ integer
  EXPECT_EQ(select(index, {{"s", {{"$ne", "x"}}}}), (V{2, 3, 4, 5}));  // NULL and missing too
  EXPECT_EQ(select(index, {{"t", {{"$contains", "a"}}}}), (V{1, 2}));  // a scalar contains itself
  EXPECT_EQ(select(index, {{"t", "[1,2]"}}), (V{3}));          // an array is its JSON text
  EXPECT_EQ(select(index, {{"t", {{"$nin", {"a", "[1,2]"}}}}}), (V{1, 4, 5}));
  EXPECT_EQ(select(index, Json::object()), (V{1, 2, 3, 4, 5}));
}

TEST(MetadataIndex, BackslashKeysMatch) {
  // json_extract compares a key's escaped JSON text with the path, so SQL never matched keys
  // containing a backslash; here they match like any other key.
  MetadataIndex index(true);
  ASSERT_TRUE(index.add(1, {{"a\\b", 1}}));
  SqlOracle sql;
  sql.put(1, {{"a\\b", 1}});
  EXPECT_EQ(select(index, {{"a\\b", 1}}), std::vector<int64_t>{1});
  EXPECT_TRUE(sql.select({{"a\\b", 1}}).empty());
}

TEST(MetadataIndex, ReusedIdsAndIdsOnly) {
  MetadataIndex index(true);
  ASSERT_TRUE(index.add(5, {{"g", 1}}));
  ASSERT_TRUE(index.add(9, {{"g", 2}}));
  EXPECT_FALSE(index.add(9, {{"g", 3}}));  // not above a live id: refused, nothing changed
  EXPECT_FALSE(index.add(7, {{"g", 3}}));
  index.remove(9);
  // SQLite hands out max(rowid) + 1 again after the highest row is deleted.
  ASSERT_TRUE(index.add(9, {{"g", 3}}));
  ASSERT_TRUE(index.add(10, {{"g", 2}}));
  EXPECT_EQ(select(index, {{"g", 2}}), (std::vector<int64_t>{10}));
  EXPECT_EQ(select(index, {{"g", 3}}), (std::vector<int64_t>{9}));
  EXPECT_TRUE(index.contains(9));
  EXPECT_FALSE(index.contains(8));
  MetadataIndex ids_only(false);
  ASSERT_TRUE(ids_only.add(3, {{"g", 1}}));
  ASSERT_TRUE(ids_only.add(70, Json()));
  EXPECT_EQ(ids_only.ids(), (std::vector<int64_t>{3, 70}));
  EXPECT_TRUE(ids_only.contains(70));
}

TEST(IdBitmap, GrowsBothWays) {
  IdBitmap b(std::vector<int64_t>{100, 300});
  EXPECT_TRUE(b.contains(100));
  EXPECT_TRUE(b.contains(300));
  EXPECT_FALSE(b.contains(200));
  EXPECT_FALSE(b.contains(-5));
  b.insert(3);
  b.insert(100000);
  b.erase(300);
  EXPECT_TRUE(b.contains(3));
  EXPECT_TRUE(b.contains(100));
  EXPECT_TRUE(b.contains(100000));
  EXPECT_FALSE(b.contains(300));
  EXPECT_FALSE(IdBitmap().contains(0));
}

}  // namespace
}  // namespace dkb::kb
