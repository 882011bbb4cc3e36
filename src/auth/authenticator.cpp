#include "auth/authenticator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "auth/crypto.h"

namespace dkb::auth {

namespace {

int64_t unix_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status unauthenticated(std::string m) { return {ErrorCode::kUnauthenticated, std::move(m)}; }

}  // namespace

Authenticator::Authenticator(AuthOptions opt, std::unique_ptr<AuthStore> store,
                             std::unique_ptr<AuditLog> audit, std::string secret)
    : opt_(std::move(opt)), store_(std::move(store)), audit_(std::move(audit)),
      jwt_(std::move(secret), opt_.issuer) {}
Authenticator::~Authenticator() = default;

Result<std::unique_ptr<Authenticator>> Authenticator::open(AuthOptions opt) {
  if (opt.data_dir.empty()) return invalid_argument("auth needs a data directory");
  if (opt.token_ttl_s < 60 || opt.token_ttl_s > 90 * 86400) {
    return invalid_argument("the token lifetime must be between 60 s and 90 days");
  }
  if (opt.rate_per_minute < 0 || opt.rate_burst < 0) return invalid_argument("rate limits must not be negative");
  for (const auto& k : opt.static_keys) {
    if (k.empty()) return invalid_argument("an --api-key must not be empty");
  }
  std::string secret = opt.jwt_secret;
  if (!secret.empty() && secret.size() < kMinSecretBytes) {
    return invalid_argument("the JWT secret must have at least " + std::to_string(kMinSecretBytes) + " bytes");
  }
  if (secret.empty()) {
    DKB_ASSIGN_OR_RETURN(secret, load_or_create_secret(opt.data_dir + "/jwt.secret"));
  }
  std::string db = opt.data_dir + "/auth.db";
  DKB_ASSIGN_OR_RETURN(auto store, AuthStore::open(db, opt.password));
  DKB_ASSIGN_OR_RETURN(auto audit, AuditLog::open(db));
  std::error_code ec;  // the database holds password hashes: owner-only, like the secret
  std::filesystem::permissions(db, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  return std::unique_ptr<Authenticator>(
      new Authenticator(std::move(opt), std::move(store), std::move(audit), std::move(secret)));
}

Result<Principal> Authenticator::authenticate(std::string_view credential) {
  if (credential.empty()) {
    return unauthenticated("authentication required: send 'Authorization: Bearer <token or API key>' or 'x-api-key'");
  }
  bool static_match = false;
  for (const auto& k : opt_.static_keys) static_match |= constant_time_equal(credential, k);
  if (static_match) {
    Principal p;
    p.kind = Principal::Kind::kStaticKey;
    p.username = "static-key";
    p.global_admin = true;
    return p;
  }
  if (credential.rfind("dkb_", 0) == 0) return from_key(credential);
  if (looks_like_jwt(credential)) return from_jwt(credential);
  return unauthenticated("invalid credentials: not a deepkb token or API key");
}

Result<Principal> Authenticator::from_key(std::string_view key) {
  DKB_ASSIGN_OR_RETURN(ApiKeyInfo info, store_->check_key(key, unix_ms()));
  auto user = store_->get_user(info.user);
  if (!user.is_ok()) return unauthenticated("the API key's owner no longer exists");
  DKB_ASSIGN_OR_RETURN(Principal p, store_->principal_for(*user));
  p.kind = Principal::Kind::kApiKey;
  p.key_id = info.id;
  p.scope = info.scope;
  p.rate_per_minute = static_cast<double>(info.rate_per_minute);
  return p;
}

Result<Principal> Authenticator::from_jwt(std::string_view token) {
  DKB_ASSIGN_OR_RETURN(JwtClaims c, jwt_.verify(token, unix_s()));
  auto user = store_->get_user_by_id(c.user_id);
  // A removed user, a reused name, or a password changed since the token was issued.
  if (!user.is_ok() || user->name != c.subject || user->token_version != c.version) {
    return unauthenticated("the token is no longer valid; sign in again");
  }
  return store_->principal_for(*user);
}

RateDecision Authenticator::admit(const Principal& who) {
  using K = Principal::Kind;
  if (who.kind == K::kOpen || who.kind == K::kAnonymous) return {};
  double per_min = who.rate_per_minute > 0 ? who.rate_per_minute : opt_.rate_per_minute;
  if (per_min <= 0) return {};
  double burst = opt_.rate_burst > 0 ? opt_.rate_burst : std::max(10.0, per_min / 5);
  if (who.rate_per_minute > 0) burst = std::max(1.0, std::min(burst, who.rate_per_minute));
  std::string key = who.kind == K::kApiKey  ? "key:" + who.key_id
                    : who.kind == K::kUser ? "user:" + std::to_string(who.user_id)
                                           : "static";
  return requests_.take(key, per_min / 60.0, burst);
}

Result<LoginResult> Authenticator::login(const std::string& username, std::string_view password,
                                         const std::string& remote, double* retry_after_s) {
  AuditEvent ev;
  ev.actor = username.substr(0, 64);
  ev.actor_kind = "user";
  ev.action = "login";
  ev.resource = "user:" + ev.actor;
  ev.remote = remote;
  const double rate = opt_.login_per_minute / 60.0;
  const std::string by_name = "name:" + username, by_addr = "addr:" + remote;
  RateDecision a = logins_.peek(by_name, rate, opt_.login_burst);
  RateDecision b = logins_.peek(by_addr, rate, opt_.login_burst);
  if (!a.allowed || !b.allowed) {
    double wait = std::max(a.retry_after_s, b.retry_after_s);
    if (retry_after_s) *retry_after_s = wait;
    ev.outcome = "rate_limited";
    ev.status = 429;
    ev.detail = "too many failed logins";
    (void)audit_->append(ev);
    return resource_exhausted("too many failed logins; retry in " + std::to_string(int64_t(wait) + 1) + " s");
  }
  auto user = store_->check_password(username, password);
  if (!user.is_ok()) {
    logins_.take(by_name, rate, opt_.login_burst);
    logins_.take(by_addr, rate, opt_.login_burst);
    ev.outcome = "failed";
    ev.status = user.status().code() == ErrorCode::kUnauthenticated ? 401 : 500;
    ev.detail = user.status().code() == ErrorCode::kUnauthenticated ? "invalid user name or password"
                                                                     : user.status().message();
    (void)audit_->append(ev);
    return user.status();
  }
  LoginResult out;
  out.user = *user;
  JwtClaims c;
  c.subject = user->name;
  c.user_id = user->id;
  c.version = user->token_version;
  c.issued_at = unix_s();
  c.expires_at = c.issued_at + opt_.token_ttl_s;
  c.id = to_hex(random_bytes(8));
  out.token = jwt_.sign(c);
  out.expires_at = c.expires_at;
  ev.outcome = "ok";
  ev.status = 200;
  ev.detail = "token " + c.id;
  DKB_RETURN_IF_ERROR(audit_->append(ev).status());
  return out;
}

Result<std::optional<BootstrapAdmin>> Authenticator::ensure_admin(const std::string& username,
                                                                  const std::string& password) {
  DKB_ASSIGN_OR_RETURN(int64_t n, store_->count_users());
  if (n > 0) return std::optional<BootstrapAdmin>();
  BootstrapAdmin b;
  b.username = username;
  std::string pw = password;
  if (pw.empty()) pw = b.password = base64url_encode(random_bytes(18));
  DKB_ASSIGN_OR_RETURN(User u, store_->add_user(username, pw, true));
  AuditEvent ev;
  ev.actor = "deepkb";
  ev.actor_kind = "system";
  ev.action = "user.add";
  ev.resource = "user:" + u.name;
  ev.outcome = "ok";
  ev.detail = "first administrator";
  DKB_RETURN_IF_ERROR(audit_->append(ev).status());
  return std::optional<BootstrapAdmin>(std::move(b));
}

}  // namespace dkb::auth
