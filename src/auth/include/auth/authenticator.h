// Authenticator: auth's front door. Turns a presented credential (a JWT from login, a stored
// API key, or a static --api-key) into a Principal, signs users in (with brute-force limits
// and audit entries), applies per-user / per-key request rate limits, and creates the first
// administrator of an empty installation.
//
// Files in data_dir: auth.db (users, grants, keys, audit log; SQLite WAL) and jwt.secret
// (mode 0600) unless a secret is configured.
// Ownership: owns the AuthStore, AuditLog, JwtCodec and rate limiters.
// Thread-safety: all methods may be called concurrently.
// Errors: authenticate/login → kUnauthenticated (message says why, never echoes the
// credential); login → kResourceExhausted when rate-limited (with *retry_after_s set);
// open → kInvalidArgument (configuration), kIOError/kCorruption/kFailedPrecondition (files).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/audit_log.h"
#include "auth/auth_store.h"
#include "auth/jwt.h"
#include "auth/rate_limiter.h"

namespace dkb::auth {

struct AuthOptions {
  std::string data_dir;                  // where auth.db (and jwt.secret) live
  std::vector<std::string> static_keys;  // serve --api-key: global admin rights
  std::string jwt_secret;                // empty: <data_dir>/jwt.secret, generated once
  std::string issuer = "deepkb";
  int64_t token_ttl_s = 3600;
  double rate_per_minute = 600;  // per user and per key (a key may set its own); 0: unlimited
  double rate_burst = 0;         // bucket size; 0: max(10, rate_per_minute / 5)
  double login_burst = 5;        // failed logins in a row, per user name and per address
  double login_per_minute = 5;   // how fast that allowance comes back
  PasswordParams password;
};

struct LoginResult {
  std::string token;
  int64_t expires_at = 0;  // unix seconds
  User user;
};

// The administrator created on first run.
struct BootstrapAdmin {
  std::string username;
  std::string password;  // generated (to print once), or empty when it came from the caller
};

class Authenticator {
 public:
  static Result<std::unique_ptr<Authenticator>> open(AuthOptions opt);
  ~Authenticator();

  // credential: the value after "Bearer " or of x-api-key; empty → kUnauthenticated.
  Result<Principal> authenticate(std::string_view credential);
  // One request's worth of the principal's rate limit.
  RateDecision admit(const Principal& who);
  // Verifies the password and returns a signed JWT. Every attempt is audited (never with the
  // password); failures consume the name's and the address's login allowance.
  Result<LoginResult> login(const std::string& username, std::string_view password,
                            const std::string& remote, double* retry_after_s);
  // When no user exists: creates `username` as global admin with `password`, or a generated
  // one when `password` is empty. nullopt when users already exist.
  Result<std::optional<BootstrapAdmin>> ensure_admin(const std::string& username,
                                                     const std::string& password);

  AuthStore& store() { return *store_; }
  AuditLog& audit() { return *audit_; }
  const AuthOptions& options() const { return opt_; }

 private:
  Authenticator(AuthOptions opt, std::unique_ptr<AuthStore> store, std::unique_ptr<AuditLog> audit,
                std::string secret);
  Result<Principal> from_key(std::string_view key);
  Result<Principal> from_jwt(std::string_view token);

  AuthOptions opt_;
  std::unique_ptr<AuthStore> store_;
  std::unique_ptr<AuditLog> audit_;
  JwtCodec jwt_;
  RateLimiter requests_;
  RateLimiter logins_;
};

}  // namespace dkb::auth
