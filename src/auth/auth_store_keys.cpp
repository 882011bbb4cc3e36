// AuthStore: API keys. Format "dkb_<id>_<secret>": id is 12 hex digits (public, listed),
// secret 32 random bytes base64url. Only SHA-256(full key) is stored.
#include <nlohmann/json.hpp>

#include "auth/auth_store.h"
#include "auth/crypto.h"
#include "auth_store_impl.h"

namespace dkb::auth {

namespace {

using nlohmann::json;
constexpr std::string_view kPrefix = "dkb_";
constexpr size_t kIdLen = 12, kSecretLen = 43;

std::string actions_json(const std::vector<Permission>& actions) {
  json a = json::array();
  for (Permission p : actions) a.push_back(std::string(permission_name(p)));
  return a.dump();
}

KeyScope read_scope(const std::string& actions, const std::string& kbs) {
  KeyScope sc;
  json a = json::parse(actions, nullptr, false), k = json::parse(kbs, nullptr, false);
  if (a.is_array()) {
    for (const auto& x : a) {
      if (auto p = x.is_string() ? parse_permission(x.get<std::string>()) : std::nullopt) sc.actions.push_back(*p);
    }
  }
  if (k.is_array()) {
    for (const auto& x : k) {
      if (x.is_string()) sc.kbs.push_back(x.get<std::string>());
    }
  }
  return sc;
}

constexpr const char* kKeyCols =
    "SELECT k.id, u.name, k.name, k.actions, k.kbs, k.created_ms, k.expires_ms, k.revoked_ms, "
    "k.rate_per_minute, k.hash FROM api_keys k JOIN users u ON u.id=k.user_id ";

ApiKeyInfo read_key(const sql::Stmt& s) {
  ApiKeyInfo k;
  k.id = s.col_text(0);
  k.user = s.col_text(1);
  k.name = s.col_text(2);
  k.scope = read_scope(s.col_text(3), s.col_text(4));
  k.created_ms = s.col_int(5);
  k.expires_ms = s.col_int(6);
  k.revoked_ms = s.col_int(7);
  k.rate_per_minute = s.col_int(8);
  return k;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status unauthenticated(const std::string& m) { return {ErrorCode::kUnauthenticated, m}; }

}  // namespace

Result<NewApiKey> AuthStore::create_key(const KeySpec& spec) {
  if (spec.name.size() > 128) return invalid_argument("a key name has at most 128 bytes");
  if (spec.scope.kbs.size() > 256) return invalid_argument("a key may name at most 256 knowledge bases");
  for (const auto& kb : spec.scope.kbs) {
    if (kb.empty() || kb.size() > 256) return invalid_argument("knowledge-base names in a key scope must have 1-256 bytes");
  }
  if (spec.rate_per_minute < 0) return invalid_argument("'rate_limit' must not be negative");
  if (spec.expires_ms < 0) return invalid_argument("the expiry must not be negative");
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(User u, impl_->user_by_name(spec.user));
  NewApiKey out;
  out.info.id = to_hex(random_bytes(kIdLen / 2));
  out.key = std::string(kPrefix) + out.info.id + "_" + base64url_encode(random_bytes(32));
  out.info.user = u.name;
  out.info.name = spec.name;
  out.info.scope = spec.scope;
  out.info.created_ms = now_ms();
  out.info.expires_ms = spec.expires_ms;
  out.info.rate_per_minute = spec.rate_per_minute;
  json kbs = spec.scope.kbs;
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "INSERT INTO api_keys(id, user_id, name, hash, actions, kbs, created_ms, expires_ms, "
      "rate_per_minute) VALUES(?,?,?,?,?,?,?,?,?)"));
  s.bind(1, out.info.id).bind(2, u.id).bind(3, spec.name).bind(4, to_hex(sha256(out.key)))
      .bind(5, actions_json(spec.scope.actions)).bind(6, kbs.dump()).bind(7, out.info.created_ms)
      .bind(8, spec.expires_ms).bind(9, spec.rate_per_minute);
  DKB_RETURN_IF_ERROR(s.run());
  return out;
}

Result<std::vector<ApiKeyInfo>> AuthStore::list_keys(const std::string& user) {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      std::string(kKeyCols) + "WHERE ?='' OR u.name=? ORDER BY k.created_ms, k.id"));
  s.bind(1, user).bind(2, user);
  std::vector<ApiKeyInfo> out;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return out;
    out.push_back(read_key(s));
  }
}

Result<ApiKeyInfo> AuthStore::get_key(const std::string& id) {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(), std::string(kKeyCols) + "WHERE k.id=?"));
  s.bind(1, id);
  DKB_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return not_found("no API key '" + id + "'");
  return read_key(s);
}

Status AuthStore::revoke_key(const std::string& id) {
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(),
      "UPDATE api_keys SET revoked_ms=? WHERE id=? AND revoked_ms=0"));
  s.bind(1, now_ms()).bind(2, id);
  DKB_RETURN_IF_ERROR(s.run());
  if (s.changes() == 0) return not_found("no active API key '" + id + "'");
  return Status::ok();
}

Result<ApiKeyInfo> AuthStore::check_key(std::string_view key, int64_t now) {
  if (key.size() != kPrefix.size() + kIdLen + 1 + kSecretLen || key.substr(0, kPrefix.size()) != kPrefix ||
      key[kPrefix.size() + kIdLen] != '_' || !is_hex(key.substr(kPrefix.size(), kIdLen))) {
    return unauthenticated("invalid API key");
  }
  std::string id(key.substr(kPrefix.size(), kIdLen));
  std::lock_guard lock(impl_->mu);
  DKB_ASSIGN_OR_RETURN(auto s, sql::Stmt::prepare(impl_->raw(), std::string(kKeyCols) + "WHERE k.id=?"));
  s.bind(1, id);
  DKB_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return unauthenticated("invalid API key");
  if (!constant_time_equal(to_hex(sha256(key)), s.col_text(9))) return unauthenticated("invalid API key");
  ApiKeyInfo info = read_key(s);
  if (info.revoked_ms != 0) return unauthenticated("the API key has been revoked");
  if (info.expires_ms != 0 && now >= info.expires_ms) return unauthenticated("the API key has expired");
  return info;
}

}  // namespace dkb::auth
