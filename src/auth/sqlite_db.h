// Minimal RAII over the SQLite C API for auth's own database (auth.db). Private to auth.
// Db owns a connection opened in WAL mode with foreign keys on and a busy timeout; Stmt owns a
// prepared statement; Tx is a BEGIN IMMEDIATE transaction rolled back unless committed.
// Not thread-safe: the owning class serialises access with its mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dkb::auth::sql {

Status error(sqlite3* db, int rc, std::string_view what);

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbDeleter>;

// Opens (creating) path with journal_mode=WAL, synchronous=FULL, foreign_keys=ON.
Result<DbPtr> open(const std::string& path);
Status exec(sqlite3* db, const char* sql);

class Stmt {
 public:
  static Result<Stmt> prepare(sqlite3* db, std::string_view sql);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, int64_t v);
  Result<bool> step();  // true: a row
  Status run();         // to completion
  int64_t col_int(int i) const { return sqlite3_column_int64(stmt_.get(), i); }
  std::string col_text(int i) const;
  int changes() const { return sqlite3_changes(db_); }

 private:
  struct Deleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), stmt_(s) {}
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Deleter> stmt_;
};

class Tx {
 public:
  explicit Tx(sqlite3* db) : db_(db) {}
  ~Tx();
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  Status begin();
  Status commit();

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace dkb::auth::sql
