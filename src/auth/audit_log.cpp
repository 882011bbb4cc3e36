#include "auth/audit_log.h"

#include "auth_store_impl.h"
#include "sqlite_db.h"

namespace dkb::auth {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  outcome TEXT NOT NULL,
  status INTEGER NOT NULL,
  remote TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(time_ms);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit(actor, id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

// Bounded fields: a hostile request cannot bloat the log.
std::string clip(const std::string& s, size_t n = 512) { return s.size() <= n ? s : s.substr(0, n); }

}  // namespace

struct AuditLog::Impl {
  sql::DbPtr db;
  std::mutex mu;
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuditLog::~AuditLog() = default;

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  DKB_ASSIGN_OR_RETURN(impl->db, sql::open(path));
  DKB_RETURN_IF_ERROR(sql::exec(impl->db.get(), kSchema).with_context("audit schema in " + path));
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

Result<AuditEvent> AuditLog::append(AuditEvent e) {
  if (e.time_ms == 0) e.time_ms = now_ms();
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->db.get(),
      "INSERT INTO audit(time_ms, actor, actor_kind, action, resource, outcome, status, remote, "
      "detail) VALUES(?,?,?,?,?,?,?,?,?)"));
  s.bind(1, e.time_ms).bind(2, clip(e.actor)).bind(3, clip(e.actor_kind)).bind(4, clip(e.action))
      .bind(5, clip(e.resource)).bind(6, clip(e.outcome)).bind(7, int64_t{e.status})
      .bind(8, clip(e.remote)).bind(9, clip(e.detail, 2048));
  DKB_RETURN_IF_ERROR(s.run());
  e.id = sqlite3_last_insert_rowid(impl_->db.get());
  return e;
}

Result<std::vector<AuditEvent>> AuditLog::query(const AuditQuery& q) {
  if (q.limit < 1 || q.limit > kMaxLimit) {
    return invalid_argument("'limit' must be between 1 and " + std::to_string(kMaxLimit));
  }
  if (q.since_ms < 0 || q.until_ms < 0 || q.before_id < 0) {
    return invalid_argument("'since', 'until' and 'before' must not be negative");
  }
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->db.get(),
      "SELECT id, time_ms, actor, actor_kind, action, resource, outcome, status, remote, detail "
      "FROM audit WHERE (?1='' OR actor=?1) AND (?2='' OR action=?2) AND (?3='' OR resource=?3) "
      "AND (?4='' OR outcome=?4) AND (?5=0 OR time_ms>=?5) AND (?6=0 OR time_ms<?6) "
      "AND (?7=0 OR id<?7) ORDER BY id DESC LIMIT ?8"));
  s.bind(1, q.actor).bind(2, q.action).bind(3, q.resource).bind(4, q.outcome).bind(5, q.since_ms)
      .bind(6, q.until_ms).bind(7, q.before_id).bind(8, q.limit);
  std::vector<AuditEvent> out;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return out;
    AuditEvent e;
    e.id = s.col_int(0);
    e.time_ms = s.col_int(1);
    e.actor = s.col_text(2);
    e.actor_kind = s.col_text(3);
    e.action = s.col_text(4);
    e.resource = s.col_text(5);
    e.outcome = s.col_text(6);
    e.status = static_cast<int>(s.col_int(7));
    e.remote = s.col_text(8);
    e.detail = s.col_text(9);
    out.push_back(std::move(e));
  }
}

}  // namespace dkb::auth
