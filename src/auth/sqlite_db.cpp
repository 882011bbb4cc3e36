#include "sqlite_db.h"

namespace dkb::auth::sql {

Status error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xFF;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return corruption(msg);
  if (primary == SQLITE_FULL) return resource_exhausted(msg);
  if (primary == SQLITE_CONSTRAINT) return invalid_argument(msg);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return failed_precondition(msg);
  return io_error(msg);
}

Status exec(sqlite3* db, const char* sql_text) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql_text, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return error(nullptr, rc, msg);
}

Result<DbPtr> open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return error(raw, rc, "open " + path);
  sqlite3_busy_timeout(db.get(), 5000);
  DKB_RETURN_IF_ERROR(exec(db.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                     "PRAGMA foreign_keys=ON;"));
  return db;
}

Result<Stmt> Stmt::prepare(sqlite3* db, std::string_view sql_text) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql_text.data(), static_cast<int>(sql_text.size()), &s, nullptr);
  if (rc != SQLITE_OK) return error(db, rc, "prepare");
  return Stmt(db, s);
}

Stmt& Stmt::bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_.get(), i, v);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error(db_, rc, "step");
}

Status Stmt::run() {
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return Status::ok();
  }
}

std::string Stmt::col_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_.get(), i);
  int n = sqlite3_column_bytes(stmt_.get(), i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

Tx::~Tx() {
  if (open_) (void)exec(db_, "ROLLBACK");
}

Status Tx::begin() {
  DKB_RETURN_IF_ERROR(exec(db_, "BEGIN IMMEDIATE"));
  open_ = true;
  return Status::ok();
}

Status Tx::commit() {
  DKB_RETURN_IF_ERROR(exec(db_, "COMMIT"));
  open_ = false;
  return Status::ok();
}

}  // namespace dkb::auth::sql
