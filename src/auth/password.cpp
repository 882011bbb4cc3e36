#include "auth/password.h"

#include <argon2.h>

#include <vector>

#include "auth/crypto.h"

namespace dkb::auth {

Status check_password_policy(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return invalid_argument("the password must have at least " +
                            std::to_string(kMinPasswordLength) + " characters");
  }
  if (password.size() > kMaxPasswordLength) {
    return invalid_argument("the password must have at most " +
                            std::to_string(kMaxPasswordLength) + " characters");
  }
  return Status::ok();
}

Result<std::string> hash_password(std::string_view password, const PasswordParams& p) {
  DKB_RETURN_IF_ERROR(check_password_policy(password));
  constexpr size_t kSaltLen = 16, kHashLen = 32;
  std::string salt = random_bytes(kSaltLen);
  size_t len = argon2_encodedlen(p.t_cost, p.m_cost_kib, p.parallelism, kSaltLen, kHashLen,
                                 Argon2_id);
  std::vector<char> encoded(len);
  int rc = argon2id_hash_encoded(p.t_cost, p.m_cost_kib, p.parallelism, password.data(),
                                 password.size(), salt.data(), salt.size(), kHashLen,
                                 encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return internal_error(std::string("argon2id: ") + argon2_error_message(rc));
  return std::string(encoded.data());
}

bool verify_password(std::string_view password, const std::string& encoded) {
  if (password.size() > kMaxPasswordLength) return false;
  if (encoded.rfind("$argon2id$", 0) != 0) return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace dkb::auth
