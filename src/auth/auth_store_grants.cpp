// AuthStore: role grants on knowledge bases and models.
#include "auth/auth_store.h"
#include "auth_store_impl.h"

namespace dkb::auth {

namespace {

Status validate_grant(const std::string& kind, const std::string& resource, const std::string& role) {
  if (kind == "kb") {
    if (!is_kb_role(role)) return invalid_argument("unknown knowledge-base role '" + role + "' (admin, editor, viewer)");
  } else if (kind == "model") {
    if (!is_model_role(role)) return invalid_argument("unknown model role '" + role + "' (chat, embeddings)");
  } else {
    return invalid_argument("grants are on a knowledge base ('kb') or a model ('model'), not '" + kind + "'");
  }
  if (resource.empty() || resource.size() > 256) return invalid_argument("the resource name must have 1-256 bytes");
  return Status::ok();
}

}  // namespace

Status AuthStore::grant(const std::string& user, const std::string& kind,
                        const std::string& resource, const std::string& role) {
  DKB_RETURN_IF_ERROR(validate_grant(kind, resource, role));
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(User u, impl_->user_by_name(user));
  sql::Tx tx(impl_->raw());
  DKB_RETURN_IF_ERROR(tx.begin());
  if (kind == "kb") {  // one role per knowledge base
    DKB_ASSIGN_OR_RETURN(auto d, sql::Stmt::prepare(impl_->raw(),
        "DELETE FROM grants WHERE user_id=? AND kind='kb' AND resource=?"));
    d.bind(1, u.id).bind(2, resource);
    DKB_RETURN_IF_ERROR(d.run());
  }
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "INSERT OR IGNORE INTO grants(user_id, kind, resource, role) VALUES(?,?,?,?)"));
  s.bind(1, u.id).bind(2, kind).bind(3, resource).bind(4, role);
  DKB_RETURN_IF_ERROR(s.run());
  return tx.commit();
}

Status AuthStore::revoke(const std::string& user, const std::string& kind,
                         const std::string& resource, const std::string& role) {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(User u, impl_->user_by_name(user));
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "DELETE FROM grants WHERE user_id=? AND kind=? AND resource=? AND (?='' OR role=?)"));
  s.bind(1, u.id).bind(2, kind).bind(3, resource).bind(4, role).bind(5, role);
  DKB_RETURN_IF_ERROR(s.run());
  if (s.changes() == 0) {
    return not_found("user '" + user + "' has no " + (role.empty() ? "role" : "'" + role + "' role") +
                     " on " + kind + " '" + resource + "'");
  }
  return Status::ok();
}

Result<std::vector<Grant>> AuthStore::list_grants(const std::string& user, const std::string& kind,
                                                  const std::string& resource) {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "SELECT u.name, g.kind, g.resource, g.role FROM grants g JOIN users u ON u.id=g.user_id "
      "WHERE (?='' OR u.name=?) AND (?='' OR g.kind=?) AND (?='' OR g.resource=?) "
      "ORDER BY g.kind, g.resource, u.name, g.role"));
  s.bind(1, user).bind(2, user).bind(3, kind).bind(4, kind).bind(5, resource).bind(6, resource);
  std::vector<Grant> out;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return out;
    out.push_back({s.col_text(0), s.col_text(1), s.col_text(2), s.col_text(3)});
  }
}

Status AuthStore::rename_resource(const std::string& kind, const std::string& from,
                                  const std::string& to) {
  std::lock_guard lock(impl_->mu);
  sql::Tx tx(impl_->raw());
  DKB_RETURN_IF_ERROR(tx.begin());
  // Stale grants on the new name (a base deleted without drop_resource) must not survive.
  DKB_ASSIGN_OR_RETURN(auto d, sql::Stmt::prepare(impl_->raw(), "DELETE FROM grants WHERE kind=? AND resource=?"));
  d.bind(1, kind).bind(2, to);
  DKB_RETURN_IF_ERROR(d.run());
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "UPDATE grants SET resource=? WHERE kind=? AND resource=?"));
  s.bind(1, to).bind(2, kind).bind(3, from);
  DKB_RETURN_IF_ERROR(s.run());
  return tx.commit();
}

Status AuthStore::drop_resource(const std::string& kind, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(), "DELETE FROM grants WHERE kind=? AND resource=?"));
  s.bind(1, kind).bind(2, name);
  return s.run();
}

}  // namespace dkb::auth
