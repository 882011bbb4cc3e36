#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "auth/crypto.h"
#include "auth/jwt.h"
#include "auth_test_util.h"

namespace dkb::auth {
namespace {

const std::string kSecret(40, 's');
constexpr int64_t kNow = 1800000000;

JwtClaims claims() {
  JwtClaims c;
  c.subject = "alice";
  c.user_id = 7;
  c.version = 2;
  c.issued_at = kNow;
  c.expires_at = kNow + 3600;
  c.id = "abc";
  return c;
}

// header.payload.signature pieces of a token.
std::vector<std::string> parts(const std::string& t) {
  size_t a = t.find('.'), b = t.find('.', a + 1);
  return {t.substr(0, a), t.substr(a + 1, b - a - 1), t.substr(b + 1)};
}

TEST(JwtTest, SignedTokenVerifies) {
  JwtCodec codec(kSecret, "deepkb");
  std::string t = codec.sign(claims());
  EXPECT_TRUE(looks_like_jwt(t));
  auto c = codec.verify(t, kNow + 10);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->subject, "alice");
  EXPECT_EQ(c->user_id, 7);
  EXPECT_EQ(c->version, 2);
  EXPECT_EQ(c->expires_at, kNow + 3600);
  EXPECT_EQ(c->id, "abc");
}

TEST(JwtTest, ExpiredTokenIsRejected) {
  JwtCodec codec(kSecret, "deepkb");
  std::string t = codec.sign(claims());
  auto c = codec.verify(t, kNow + 3600);
  EXPECT_EQ(c.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(c.status().message().find("expired"), std::string::npos);
}

TEST(JwtTest, WrongIssuerOrSecretIsRejected) {
  std::string t = JwtCodec(kSecret, "other").sign(claims());
  auto c = JwtCodec(kSecret, "deepkb").verify(t, kNow);
  EXPECT_EQ(c.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(c.status().message().find("issuer"), std::string::npos);
  std::string t2 = JwtCodec(std::string(40, 'x'), "deepkb").sign(claims());
  EXPECT_EQ(JwtCodec(kSecret, "deepkb").verify(t2, kNow).status().code(), ErrorCode::kUnauthenticated);
}

TEST(JwtTest, TamperedPayloadOrSignatureIsRejected) {
  JwtCodec codec(kSecret, "deepkb");
  auto p = parts(codec.sign(claims()));
  // Promote the subject to another user, keeping the original signature.
  std::string payload = *base64url_decode(p[1]);
  payload.replace(payload.find("alice"), 5, "admin");
  std::string forged = p[0] + "." + base64url_encode(payload) + "." + p[2];
  auto c = codec.verify(forged, kNow);
  EXPECT_EQ(c.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(c.status().message().find("signature"), std::string::npos);
  // One flipped signature bit.
  std::string sig = *base64url_decode(p[2]);
  sig[5] ^= 1;
  EXPECT_FALSE(codec.verify(p[0] + "." + p[1] + "." + base64url_encode(sig), kNow).is_ok());
  // Empty and truncated signatures.
  EXPECT_FALSE(codec.verify(p[0] + "." + p[1] + ".", kNow).is_ok());
  EXPECT_FALSE(codec.verify(p[0] + "." + p[1] + "." + p[2].substr(0, 20), kNow).is_ok());
}

TEST(JwtTest, AlgNoneAndOtherAlgorithmsAreRejected) {
  JwtCodec codec(kSecret, "deepkb");
  auto p = parts(codec.sign(claims()));
  for (const char* header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"None"})", R"({"alg":"HS512"})",
                             R"({"alg":"RS256"})", R"({"typ":"JWT"})", R"({"alg":["HS256"]})"}) {
    std::string h = base64url_encode(header);
    EXPECT_FALSE(codec.verify(h + "." + p[1] + ".", kNow).is_ok()) << header;
    // Even with a valid HMAC over the new header, only HS256 is accepted.
    std::string sig = base64url_encode(hmac_sha256(kSecret, h + "." + p[1]));
    auto c = codec.verify(h + "." + p[1] + "." + sig, kNow);
    EXPECT_EQ(c.status().code(), ErrorCode::kUnauthenticated) << header;
  }
}

TEST(JwtTest, MalformedTokensAreRejected) {
  JwtCodec codec(kSecret, "deepkb");
  const std::vector<std::string> tokens = {"", "abc", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.",
                                           std::string(9000, 'a')};
  for (const std::string& t : tokens) {
    auto c = codec.verify(t, kNow);
    EXPECT_EQ(c.status().code(), ErrorCode::kUnauthenticated) << t.substr(0, 20);
  }
  EXPECT_FALSE(looks_like_jwt("dkb_0123_abc"));
  EXPECT_FALSE(looks_like_jwt("a.b.c d"));
}

TEST(JwtTest, SecretFileIsCreatedOwnerOnlyAndReused) {
  test::TempDir dir;
  std::string path = dir.path() + "/jwt.secret";
  auto a = load_or_create_secret(path);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_GE(a->size(), kMinSecretBytes);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = load_or_create_secret(path);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(*a, *b);
  // A secret others can read is refused rather than trusted.
  chmod(path.c_str(), 0644);
  EXPECT_EQ(load_or_create_secret(path).status().code(), ErrorCode::kFailedPrecondition);
  // Too short.
  std::string short_path = dir.path() + "/short.secret";
  std::ofstream(short_path) << "tiny";
  chmod(short_path.c_str(), 0600);
  EXPECT_EQ(load_or_create_secret(short_path).status().code(), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace dkb::auth
