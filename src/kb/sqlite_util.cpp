#include "sqlite_util.h"

namespace dkb::kb::sql {

Status error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xFF;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return corruption(msg);
  if (primary == SQLITE_FULL) return resource_exhausted(msg);
  if (primary == SQLITE_CONSTRAINT) return invalid_argument(msg);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return failed_precondition(msg);
  return io_error(msg);
}

Result<Stmt> Stmt::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
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
Stmt& Stmt::bind(int i, double v) {
  sqlite3_bind_double(stmt_.get(), i, v);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(stmt_.get(), i);
  return *this;
}
Stmt& Stmt::bind_blob(int i, const void* data, size_t n) {
  sqlite3_bind_blob(stmt_.get(), i, data, static_cast<int>(n), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_pointer(int i, void* p, const char* type) {
  sqlite3_bind_pointer(stmt_.get(), i, p, type, nullptr);
  return *this;
}
Stmt& Stmt::bind_value(int i, const SqlValue& v) {
  std::visit([&](const auto& x) { bind(i, x); }, v);
  return *this;
}
int Stmt::bind_filter(int first, const CompiledFilter& f) {
  for (const auto& p : f.params) bind_value(first++, p);
  return first;
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

std::span<const uint8_t> Stmt::col_blob(int i) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_.get(), i));
  int n = sqlite3_column_bytes(stmt_.get(), i);
  return p ? std::span<const uint8_t>(p, static_cast<size_t>(n)) : std::span<const uint8_t>();
}

Status exec(sqlite3* db, const char* sql_text) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql_text, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return error(nullptr, rc, std::string("exec: ") + msg);
  }
  return Status::ok();
}

Tx::~Tx() {
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
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

}  // namespace dkb::kb::sql
