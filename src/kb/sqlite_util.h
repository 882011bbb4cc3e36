// Thin RAII helpers over the SQLite C API. Private to kb.
// Stmt owns a prepared statement; Tx is a scoped transaction that rolls back unless commit()
// succeeded. Neither is thread-safe; callers hold the store mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "kb/filter.h"

namespace dkb::kb::sql {

Status error(sqlite3* db, int rc, std::string_view what);

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

class Stmt {
 public:
  static Result<Stmt> prepare(sqlite3* db, std::string_view sql);

  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind_null(int i);
  Stmt& bind_blob(int i, const void* data, size_t n);
  Stmt& bind_value(int i, const SqlValue& v);
  // sqlite3_bind_pointer: `p` (borrowed, must outlive the statement's run) for functions that
  // ask for pointers of `type` (a string literal).
  Stmt& bind_pointer(int i, void* p, const char* type);
  // Binds a compiled filter's parameters starting at index `first`; returns the next index.
  int bind_filter(int first, const CompiledFilter& f);

  // SQLITE_ROW → true, SQLITE_DONE → false, anything else → error.
  Result<bool> step();
  // Steps to completion expecting no rows.
  Status run();
  // Makes the statement ready to step again (bindings stay).
  void reset() { sqlite3_reset(stmt_.get()); }

  int64_t col_int(int i) const { return sqlite3_column_int64(stmt_.get(), i); }
  double col_double(int i) const { return sqlite3_column_double(stmt_.get(), i); }
  std::string col_text(int i) const;
  std::span<const uint8_t> col_blob(int i) const;
  bool col_is_null(int i) const { return sqlite3_column_type(stmt_.get(), i) == SQLITE_NULL; }

 private:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), stmt_(s) {}
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StmtDeleter> stmt_;
};

Status exec(sqlite3* db, const char* sql);

class Tx {
 public:
  explicit Tx(sqlite3* db) : db_(db) {}
  ~Tx();
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  Status begin();  // BEGIN IMMEDIATE
  Status commit();

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace dkb::kb::sql
