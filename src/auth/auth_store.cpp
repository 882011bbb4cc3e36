#include "auth/auth_store.h"

#include "auth_store_impl.h"

namespace dkb::auth {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  admin INTEGER NOT NULL DEFAULT 0,
  token_version INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS grants(
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  resource TEXT NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY(user_id, kind, resource, role));
CREATE INDEX IF NOT EXISTS grants_by_resource ON grants(kind, resource);
CREATE TABLE IF NOT EXISTS api_keys(
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  actions TEXT NOT NULL,
  kbs TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL DEFAULT 0,
  revoked_ms INTEGER NOT NULL DEFAULT 0,
  rate_per_minute INTEGER NOT NULL DEFAULT 0);
)sql";

constexpr const char* kUserCols = "SELECT id, name, admin, token_version, created_ms FROM users ";

User read_user(const sql::Stmt& s) {
  return {s.col_int(0), s.col_text(1), s.col_int(2) != 0, s.col_int(3), s.col_int(4)};
}

}  // namespace

Status validate_user_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' ||
                c == '-');
  }
  if (ok) return Status::ok();
  return invalid_argument("a user name has 1-64 letters, digits or . _ @ -");
}

Result<User> AuthStore::Impl::user_by_name(const std::string& name) {
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(raw(), std::string(kUserCols) + "WHERE name=?"));
  s.bind(1, name);
  DKB_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return not_found("no user '" + name + "'");
  return read_user(s);
}

AuthStore::AuthStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuthStore::~AuthStore() = default;

Result<std::unique_ptr<AuthStore>> AuthStore::open(const std::string& path, PasswordParams params) {
  auto impl = std::make_unique<Impl>();
  DKB_ASSIGN_OR_RETURN(impl->db, sql::open(path));
  DKB_RETURN_IF_ERROR(sql::exec(impl->raw(), kSchema).with_context("auth schema in " + path));
  impl->params = params;
  DKB_ASSIGN_OR_RETURN(impl->dummy_hash, hash_password("dummy password for timing", params));
  return std::unique_ptr<AuthStore>(new AuthStore(std::move(impl)));
}

Result<User> AuthStore::add_user(const std::string& name, std::string_view password, bool admin) {
  DKB_RETURN_IF_ERROR(validate_user_name(name));
  DKB_ASSIGN_OR_RETURN(std::string hash, hash_password(password, impl_->params));
  std::lock_guard lock(impl_->mu);
  if (impl_->user_by_name(name).is_ok()) return already_exists("user '" + name + "' already exists");
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "INSERT INTO users(name, password_hash, admin, created_ms) VALUES(?,?,?,?)"));
  s.bind(1, name).bind(2, hash).bind(3, int64_t{admin}).bind(4, now_ms());
  DKB_RETURN_IF_ERROR(s.run());
  return impl_->user_by_name(name);
}

Result<User> AuthStore::get_user(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  return impl_->user_by_name(name);
}

Result<User> AuthStore::get_user_by_id(int64_t id) {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(), std::string(kUserCols) + "WHERE id=?"));
  s.bind(1, id);
  DKB_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return not_found("no user with id " + std::to_string(id));
  return read_user(s);
}

Result<std::vector<User>> AuthStore::list_users() {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(), std::string(kUserCols) + "ORDER BY name"));
  std::vector<User> out;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return out;
    out.push_back(read_user(s));
  }
}

Result<int64_t> AuthStore::count_users() {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(), "SELECT count(*) FROM users"));
  DKB_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.col_int(0) : 0;
}

Status AuthStore::remove_user(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(User u, impl_->user_by_name(name));
  sql::Tx tx(impl_->raw());
  DKB_RETURN_IF_ERROR(tx.begin());
  if (u.admin) {
    DKB_ASSIGN_OR_RETURN(auto c, sql::Stmt::prepare(impl_->raw(), "SELECT count(*) FROM users WHERE admin=1"));
    DKB_ASSIGN_OR_RETURN(bool row, c.step());
    if (row && c.col_int(0) <= 1) {
      return failed_precondition("'" + name + "' is the last admin; add another admin first");
    }
  }
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(), "DELETE FROM users WHERE id=?"));
  s.bind(1, u.id);
  DKB_RETURN_IF_ERROR(s.run());
  return tx.commit();
}

Status AuthStore::set_password(const std::string& name, std::string_view password) {
  DKB_ASSIGN_OR_RETURN(std::string hash, hash_password(password, impl_->params));
  std::lock_guard lock(impl_->mu);
  DKB_RETURN_IF_ERROR(impl_->user_by_name(name).status());
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "UPDATE users SET password_hash=?, token_version=token_version+1 WHERE name=?"));
  s.bind(1, hash).bind(2, name);
  return s.run();
}

Result<User> AuthStore::check_password(const std::string& name, std::string_view password) {
  std::string hash;
  Result<User> user = not_found("");
  {
    std::lock_guard lock(impl_->mu);
    user = impl_->user_by_name(name);
    if (user.is_ok()) {
      DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
          "SELECT password_hash FROM users WHERE id=?"));
      s.bind(1, user->id);
      DKB_ASSIGN_OR_RETURN(bool row, s.step());
      if (row) hash = s.col_text(0);
    } else if (user.status().code() != ErrorCode::kNotFound) {
      return user.status();
    }
  }
  // Hashing outside the lock: Argon2 is deliberately slow.
  bool match = verify_password(password, hash.empty() ? impl_->dummy_hash : hash);
  if (!user.is_ok() || hash.empty() || !match) {
    return Status(ErrorCode::kUnauthenticated, "invalid user name or password");
  }
  return user;
}

Result<Principal> AuthStore::principal_for(const User& user) {
  Principal p;
  p.kind = Principal::Kind::kUser;
  p.user_id = user.id;
  p.username = user.name;
  p.global_admin = user.admin;
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "SELECT kind, resource, role FROM grants WHERE user_id=?"));
  s.bind(1, user.id);
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    std::string kind = s.col_text(0);
    if (kind == "kb") p.kb_roles[s.col_text(1)] = s.col_text(2);
    else if (kind == "model") p.model_roles[s.col_text(1)].insert(s.col_text(2));
  }
  return p;
}

}  // namespace dkb::auth
