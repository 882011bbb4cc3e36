#include <gtest/gtest.h>

#include "auth/authenticator.h"
#include "auth/crypto.h"
#include "auth_test_util.h"

namespace dkb::auth {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    auth_.reset();
    AuthOptions o;
    o.data_dir = dir_.path();
    o.static_keys = {"static-secret-key"};
    o.password = test::cheap_params();
    o.rate_per_minute = 60;
    o.rate_burst = 3;
    auto a = Authenticator::open(o);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    auth_ = std::move(a).value();
  }
  // Every audit entry as one string, to search for leaked secrets.
  std::string audit_text() {
    AuditQuery q;
    q.limit = AuditLog::kMaxLimit;
    std::string all;
    auto events = auth_->audit().query(q);
    for (const auto& e : *events) {
      all += e.actor + "|" + e.action + "|" + e.resource + "|" + e.outcome + "|" + e.detail + "\n";
    }
    return all;
  }
  test::TempDir dir_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthenticatorTest, FirstRunCreatesOneAdmin) {
  auto first = auth_->ensure_admin("admin", "");
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  ASSERT_TRUE(first->has_value());
  const std::string pw = (*first)->password;
  EXPECT_GE(pw.size(), 20u);
  EXPECT_TRUE(auth_->store().check_password("admin", pw).is_ok());
  EXPECT_TRUE(auth_->store().get_user("admin")->admin);
  auto second = auth_->ensure_admin("admin", "");
  ASSERT_TRUE(second.is_ok());
  EXPECT_FALSE(second->has_value());
  EXPECT_EQ(audit_text().find(pw), std::string::npos);
}

TEST_F(AuthenticatorTest, LoginTokenAuthenticatesUntilPasswordChanges) {
  ASSERT_TRUE(auth_->store().add_user("alice", "alice-password", false).is_ok());
  ASSERT_TRUE(auth_->store().grant("alice", "kb", "a", "viewer").is_ok());
  auto login = auth_->login("alice", "alice-password", "127.0.0.1", nullptr);
  ASSERT_TRUE(login.is_ok()) << login.status().to_string();
  auto p = auth_->authenticate(login->token);
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->kind, Principal::Kind::kUser);
  EXPECT_EQ(p->username, "alice");
  EXPECT_EQ(p->kb_roles.at("a"), "viewer");
  // The token is signed by a persisted secret: it still works after a restart.
  open();
  EXPECT_TRUE(auth_->authenticate(login->token).is_ok());
  ASSERT_TRUE(auth_->store().set_password("alice", "alice-password-2").is_ok());
  auto stale = auth_->authenticate(login->token);
  EXPECT_EQ(stale.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(stale.status().message().find("sign in again"), std::string::npos);
}

TEST_F(AuthenticatorTest, CredentialsOfEveryKind) {
  auto st = auth_->authenticate("static-secret-key");
  ASSERT_TRUE(st.is_ok());
  EXPECT_EQ(st->kind, Principal::Kind::kStaticKey);
  EXPECT_TRUE(authorize(*st, Permission::kAdminUsers, Resource::global()).is_ok());
  EXPECT_EQ(auth_->authenticate("").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(auth_->authenticate("static-secret-kez").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(auth_->authenticate("a.b.c").status().code(), ErrorCode::kUnauthenticated);

  ASSERT_TRUE(auth_->store().add_user("kim", "kim-password", false).is_ok());
  ASSERT_TRUE(auth_->store().grant("kim", "kb", "a", "editor").is_ok());
  KeySpec spec;
  spec.user = "kim";
  spec.scope.kbs = {"a"};
  auto key = auth_->store().create_key(spec);
  ASSERT_TRUE(key.is_ok());
  auto kp = auth_->authenticate(key->key);
  ASSERT_TRUE(kp.is_ok()) << kp.status().to_string();
  EXPECT_EQ(kp->kind, Principal::Kind::kApiKey);
  EXPECT_EQ(kp->key_id, key->info.id);
  EXPECT_TRUE(authorize(*kp, Permission::kKbWrite, Resource::kb("a")).is_ok());
  // Grants are read per request: a revoked role takes effect at once.
  ASSERT_TRUE(auth_->store().revoke("kim", "kb", "a").is_ok());
  EXPECT_FALSE(authorize(*auth_->authenticate(key->key), Permission::kKbRead, Resource::kb("a")).is_ok());
  ASSERT_TRUE(auth_->store().revoke_key(key->info.id).is_ok());
  EXPECT_EQ(auth_->authenticate(key->key).status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, BruteForceIsRateLimitedAndAudited) {
  ASSERT_TRUE(auth_->store().add_user("alice", "alice-password", false).is_ok());
  const std::vector<std::string> guesses = {"guess-one-1", "guess-two-2", "guess-three", "guess-four4",
                                            "guess-five5"};
  for (const auto& g : guesses) {
    auto r = auth_->login("alice", g, "10.1.1.1", nullptr);
    EXPECT_EQ(r.status().code(), ErrorCode::kUnauthenticated);
  }
  double retry = 0;
  // The sixth attempt is refused before the password is even checked — the right one too.
  auto limited = auth_->login("alice", "alice-password", "10.1.1.1", &retry);
  EXPECT_EQ(limited.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_GT(retry, 0);
  // Another address is limited too, because the name's allowance is spent.
  EXPECT_EQ(auth_->login("alice", "alice-password", "10.2.2.2", nullptr).status().code(),
            ErrorCode::kResourceExhausted);
  // Another name from a fresh address is unaffected.
  ASSERT_TRUE(auth_->store().add_user("bob", "bob-password", false).is_ok());
  EXPECT_TRUE(auth_->login("bob", "bob-password", "10.3.3.3", nullptr).is_ok());

  AuditQuery q;
  q.action = "login";
  q.outcome = "failed";
  EXPECT_EQ(auth_->audit().query(q)->size(), 5u);
  q.outcome = "rate_limited";
  EXPECT_EQ(auth_->audit().query(q)->size(), 2u);
  q.outcome = "ok";
  auto ok = auth_->audit().query(q);
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].actor, "bob");
  EXPECT_EQ((*ok)[0].remote, "10.3.3.3");
  std::string text = audit_text();
  for (const auto& g : guesses) EXPECT_EQ(text.find(g), std::string::npos) << g;
  EXPECT_EQ(text.find("alice-password"), std::string::npos);
  EXPECT_EQ(text.find("bob-password"), std::string::npos);
}

TEST_F(AuthenticatorTest, RequestRateLimitPerPrincipal) {
  auto st = auth_->authenticate("static-secret-key");
  ASSERT_TRUE(st.is_ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(auth_->admit(*st).allowed) << i;
  RateDecision d = auth_->admit(*st);
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after_s, 0);
  // A key with its own, lower limit.
  ASSERT_TRUE(auth_->store().add_user("kim", "kim-password", false).is_ok());
  KeySpec spec;
  spec.user = "kim";
  spec.rate_per_minute = 1;
  auto key = auth_->store().create_key(spec);
  auto kp = auth_->authenticate(key->key);
  ASSERT_TRUE(kp.is_ok());
  EXPECT_TRUE(auth_->admit(*kp).allowed);
  EXPECT_FALSE(auth_->admit(*kp).allowed);
  Principal open;
  open.kind = Principal::Kind::kOpen;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(auth_->admit(open).allowed);
}

TEST(AuthenticatorOpenTest, BadConfigurationIsRefused) {
  test::TempDir dir;
  AuthOptions o;
  o.data_dir = dir.path();
  o.jwt_secret = "too short";
  EXPECT_EQ(Authenticator::open(o).status().code(), ErrorCode::kInvalidArgument);
  o.jwt_secret = "";
  o.token_ttl_s = 1;
  EXPECT_EQ(Authenticator::open(o).status().code(), ErrorCode::kInvalidArgument);
  o.token_ttl_s = 3600;
  o.static_keys = {""};
  EXPECT_EQ(Authenticator::open(o).status().code(), ErrorCode::kInvalidArgument);
  o.static_keys = {};
  o.data_dir = dir.path() + "/missing/dir";
  EXPECT_FALSE(Authenticator::open(o).is_ok());
}

}  // namespace
}  // namespace dkb::auth
