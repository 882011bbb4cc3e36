#include <gtest/gtest.h>

#include "auth/password.h"

namespace dkb::auth {
namespace {

TEST(PasswordTest, Argon2idHashVerifies) {
  auto h = hash_password("correct horse battery");
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  // PHC string with the default (OWASP) cost.
  EXPECT_EQ(h->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *h;
  EXPECT_EQ(h->find("correct horse"), std::string::npos);
  EXPECT_TRUE(verify_password("correct horse battery", *h));
  EXPECT_FALSE(verify_password("correct horse batterY", *h));
  EXPECT_FALSE(verify_password("", *h));
}

TEST(PasswordTest, SaltMakesEachHashDifferent) {
  PasswordParams cheap{1024, 1, 1};
  auto a = hash_password("same password", cheap);
  auto b = hash_password("same password", cheap);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verify_password("same password", *a));
  EXPECT_TRUE(verify_password("same password", *b));
}

TEST(PasswordTest, PolicyRejectsShortAndHugePasswords) {
  EXPECT_EQ(hash_password("short").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(hash_password(std::string(kMaxPasswordLength + 1, 'x')).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(check_password_policy("eight ch").is_ok());
}

TEST(PasswordTest, MalformedStoredHashNeverVerifies) {
  EXPECT_FALSE(verify_password("anything", ""));
  EXPECT_FALSE(verify_password("anything", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
  EXPECT_FALSE(verify_password("anything", "$argon2id$garbage"));
  EXPECT_FALSE(verify_password("anything", "plaintext"));
}

}  // namespace
}  // namespace dkb::auth
