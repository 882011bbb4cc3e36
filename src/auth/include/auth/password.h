// Password hashing with Argon2id (libargon2), in the PHC string format
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), so each hash carries its own parameters
// and verification keeps working after the defaults change.
// Thread-safety: stateless; safe to call concurrently (each call allocates m_cost KiB).
// Errors: kInvalidArgument for a password outside the length limits; kInternal if libargon2
// fails; verify_password returns false for a wrong password or a malformed stored hash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dkb::auth {

struct PasswordParams {
  // OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
  uint32_t m_cost_kib = 19456;
  uint32_t t_cost = 2;
  uint32_t parallelism = 1;
};

inline constexpr size_t kMinPasswordLength = 8;
inline constexpr size_t kMaxPasswordLength = 1024;

// kInvalidArgument unless kMinPasswordLength ≤ size ≤ kMaxPasswordLength.
Status check_password_policy(std::string_view password);

// A fresh 16-byte random salt per call.
Result<std::string> hash_password(std::string_view password, const PasswordParams& p = {});

// Constant-time in the password's correctness (libargon2 compares the digests in constant time).
bool verify_password(std::string_view password, const std::string& encoded);

}  // namespace dkb::auth
