// AuditLog: the append-only record of who did what, when, from where, and how it ended —
// every write, delete, permission change, login (success and failure) and denied request.
//
// Stored in SQLite (the auth database, WAL, synchronous=FULL), so an acknowledged entry
// survives a crash or restart. Append-only: the API has no update or delete, and triggers
// make the database refuse UPDATE and DELETE on the table. Entries never hold secrets;
// callers pass names, ids and outcomes only.
// Ownership: owns its connection. Thread-safety: all methods may be called concurrently.
// Errors: kInvalidArgument (bad query), kIOError/kCorruption (disk).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"

namespace dkb::auth {

struct AuditEvent {
  int64_t id = 0;        // assigned by append, increasing
  int64_t time_ms = 0;   // unix milliseconds; append fills it when 0
  std::string actor;     // Principal::audit_name(), or the attempted user name for logins
  std::string actor_kind;
  std::string action;    // "login", "kb.write", "user.add", "request", ...
  std::string resource;  // "kb:docs", "user:bob", "key:3f9a…", "" when none
  std::string outcome;   // "ok", "denied", "failed", "rate_limited", "error"
  int status = 0;        // HTTP status when the event is a request
  std::string remote;    // client address
  std::string detail;    // e.g. "POST /v1/kb/docs/documents"
};

struct AuditQuery {
  // Exact matches; empty = any.
  std::string actor, action, resource, outcome;
  int64_t since_ms = 0;   // inclusive; 0 = no bound
  int64_t until_ms = 0;   // exclusive; 0 = no bound
  int64_t before_id = 0;  // page backwards from here; 0 = newest
  int64_t limit = 100;    // 1..1000
};

class AuditLog {
 public:
  static constexpr int64_t kMaxLimit = 1000;
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  ~AuditLog();

  // Returns the stored entry (with id and time).
  Result<AuditEvent> append(AuditEvent e);
  // Newest first.
  Result<std::vector<AuditEvent>> query(const AuditQuery& q);

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dkb::auth
