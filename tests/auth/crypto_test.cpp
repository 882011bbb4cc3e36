#include <gtest/gtest.h>

#include "auth/crypto.h"

namespace dkb::auth {
namespace {

TEST(CryptoTest, Sha256KnownVector) {
  EXPECT_EQ(to_hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CryptoTest, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, Base64UrlRoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    auto back = base64url_decode(base64url_encode(bytes));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, bytes) << n;
    bytes.push_back(static_cast<char>(n * 37 + 200));
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");  // url alphabet, no padding
}

TEST(CryptoTest, Base64UrlRejectsMalformedInput) {
  EXPECT_FALSE(base64url_decode("ab=c").has_value());   // padding / foreign characters
  EXPECT_FALSE(base64url_decode("ab+c").has_value());   // standard alphabet
  EXPECT_FALSE(base64url_decode("abcde").has_value());  // impossible length
  EXPECT_FALSE(base64url_decode("-_9").has_value());    // stray bits in the last symbol
  EXPECT_TRUE(base64url_decode("-_8").has_value());
}

TEST(CryptoTest, RandomBytesDiffer) {
  std::string a = random_bytes(32), b = random_bytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

TEST(CryptoTest, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

}  // namespace
}  // namespace dkb::auth
