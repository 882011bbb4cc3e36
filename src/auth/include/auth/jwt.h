// JSON Web Tokens (RFC 7519) signed with HMAC-SHA-256 (JWS "HS256") — the session tokens that
// POST /v1/auth/login hands out.
//
// verify() accepts only a header whose "alg" is exactly "HS256" (so "none", "HS512", "RS256"
// and alg-confusion tricks are refused), recomputes the signature over the exact bytes received
// and compares it in constant time, then requires "iss" to equal the configured issuer and
// "exp" to lie in the future. Claims: iss, sub (user name), uid (user id), ver (the user's
// token version: bumped when the password changes or the user is removed, which invalidates
// older tokens), iat, exp, jti.
// Ownership: JwtCodec holds a copy of the secret. Thread-safety: immutable after construction,
// safe to use concurrently. Errors: verify → kUnauthenticated with the reason (never echoes
// the token); load_or_create_secret → kIOError / kFailedPrecondition.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dkb::auth {

struct JwtClaims {
  std::string subject;     // user name
  int64_t user_id = 0;
  int64_t version = 0;     // token version of the user when issued
  int64_t issued_at = 0;   // unix seconds
  int64_t expires_at = 0;  // unix seconds
  std::string id;          // jti: random, for the audit log
};

inline constexpr size_t kMaxTokenBytes = 8192;
inline constexpr size_t kMinSecretBytes = 32;

class JwtCodec {
 public:
  // secret: at least kMinSecretBytes bytes (DKB_CHECK: the caller validates configuration).
  JwtCodec(std::string secret, std::string issuer);

  std::string sign(const JwtClaims& claims) const;
  Result<JwtClaims> verify(std::string_view token, int64_t now_s) const;
  const std::string& issuer() const { return issuer_; }

 private:
  std::string secret_;
  std::string issuer_;
};

// True for something shaped like a compact JWS (three dot-separated base64url parts).
bool looks_like_jwt(std::string_view token);

// The signing secret kept at `path`: read when it exists (it must be a regular file readable
// only by its owner, mode 0600, holding at least kMinSecretBytes bytes), else 32 random bytes
// are written there hex-encoded with mode 0600 (O_EXCL, fsync'd).
Result<std::string> load_or_create_secret(const std::string& path);

}  // namespace dkb::auth
