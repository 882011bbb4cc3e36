#include <gtest/gtest.h>

#include "auth/auth_store.h"
#include "auth_test_util.h"

namespace dkb::auth {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = AuthStore::open(dir_.path() + "/auth.db", test::cheap_params());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  test::TempDir dir_;
  std::unique_ptr<AuthStore> store_;
};

TEST_F(StoreTest, UsersAddCheckAndRemove) {
  auto alice = store_->add_user("alice", "alice-password", false);
  ASSERT_TRUE(alice.is_ok()) << alice.status().to_string();
  EXPECT_FALSE(alice->admin);
  EXPECT_EQ(store_->add_user("alice", "another-password", false).status().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store_->add_user("bad name", "alice-password", false).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->add_user("", "alice-password", false).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->add_user("bob", "short", false).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store_->get_user("bob").is_ok());  // the refused user was not created

  EXPECT_TRUE(store_->check_password("alice", "alice-password").is_ok());
  EXPECT_EQ(store_->check_password("alice", "wrong-password").status().code(), ErrorCode::kUnauthenticated);
  auto unknown = store_->check_password("nobody", "alice-password");
  EXPECT_EQ(unknown.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(unknown.status().message(), "invalid user name or password");  // no enumeration

  ASSERT_TRUE(store_->set_password("alice", "new-password-1").is_ok());
  EXPECT_FALSE(store_->check_password("alice", "alice-password").is_ok());
  auto again = store_->check_password("alice", "new-password-1");
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->token_version, alice->token_version + 1);

  ASSERT_TRUE(store_->remove_user("alice").is_ok());
  EXPECT_EQ(store_->get_user("alice").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->remove_user("alice").code(), ErrorCode::kNotFound);
}

TEST_F(StoreTest, TheLastAdminCannotBeRemoved) {
  ASSERT_TRUE(store_->add_user("root", "root-password", true).is_ok());
  EXPECT_EQ(store_->remove_user("root").code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(store_->add_user("root2", "root-password", true).is_ok());
  EXPECT_TRUE(store_->remove_user("root").is_ok());
  auto users = store_->list_users();
  ASSERT_TRUE(users.is_ok());
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].name, "root2");
}

TEST_F(StoreTest, GrantsBuildThePrincipal) {
  auto u = store_->add_user("vic", "vic-password", false);
  ASSERT_TRUE(u.is_ok());
  ASSERT_TRUE(store_->grant("vic", "kb", "a", "viewer").is_ok());
  ASSERT_TRUE(store_->grant("vic", "kb", "a", "editor").is_ok());  // replaces viewer
  ASSERT_TRUE(store_->grant("vic", "kb", "b", "viewer").is_ok());
  ASSERT_TRUE(store_->grant("vic", "model", "*", "chat").is_ok());
  ASSERT_TRUE(store_->grant("vic", "model", "*", "embeddings").is_ok());
  EXPECT_EQ(store_->grant("vic", "kb", "a", "owner").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->grant("vic", "model", "*", "viewer").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->grant("vic", "table", "a", "viewer").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->grant("nobody", "kb", "a", "viewer").code(), ErrorCode::kNotFound);

  auto p = store_->principal_for(*u);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->kb_roles.at("a"), "editor");
  EXPECT_EQ(p->kb_roles.at("b"), "viewer");
  EXPECT_EQ(p->model_roles.at("*").size(), 2u);
  EXPECT_TRUE(authorize(*p, Permission::kKbWrite, Resource::kb("a")).is_ok());

  ASSERT_TRUE(store_->revoke("vic", "kb", "b").is_ok());
  EXPECT_EQ(store_->revoke("vic", "kb", "b").code(), ErrorCode::kNotFound);
  auto grants = store_->list_grants("vic", "kb", "");
  ASSERT_TRUE(grants.is_ok());
  ASSERT_EQ(grants->size(), 1u);
  EXPECT_EQ((*grants)[0].resource, "a");

  // Renaming a base keeps its members; deleting it drops them.
  ASSERT_TRUE(store_->rename_resource("kb", "a", "a2").is_ok());
  EXPECT_EQ(store_->principal_for(*u)->kb_roles.count("a"), 0u);
  EXPECT_EQ(store_->principal_for(*u)->kb_roles.at("a2"), "editor");
  ASSERT_TRUE(store_->drop_resource("kb", "a2").is_ok());
  EXPECT_TRUE(store_->principal_for(*u)->kb_roles.empty());
}

TEST_F(StoreTest, KeysAreShownOnceStoredHashedAndChecked) {
  ASSERT_TRUE(store_->add_user("kim", "kim-password", false).is_ok());
  KeySpec spec;
  spec.user = "kim";
  spec.name = "ci";
  spec.scope.actions = {Permission::kKbRead};
  spec.scope.kbs = {"a"};
  spec.rate_per_minute = 30;
  auto k = store_->create_key(spec);
  ASSERT_TRUE(k.is_ok()) << k.status().to_string();
  EXPECT_EQ(k->key.rfind("dkb_" + k->info.id + "_", 0), 0u);
  EXPECT_EQ(k->key.size(), 60u);

  auto checked = store_->check_key(k->key, 0);
  ASSERT_TRUE(checked.is_ok()) << checked.status().to_string();
  EXPECT_EQ(checked->user, "kim");
  EXPECT_EQ(checked->scope.kbs, std::vector<std::string>{"a"});
  EXPECT_EQ(checked->scope.actions, std::vector<Permission>{Permission::kKbRead});
  EXPECT_EQ(checked->rate_per_minute, 30);

  std::string wrong = k->key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(store_->check_key(wrong, 0).status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(store_->check_key("dkb_nothex", 0).status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(store_->check_key("", 0).status().code(), ErrorCode::kUnauthenticated);

  // The secret is nowhere in the database file.
  FILE* f = std::fopen((dir_.path() + "/auth.db").c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::string bytes;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.append(buf, n);
  std::fclose(f);
  std::string secret = k->key.substr(17);
  EXPECT_EQ(bytes.find(secret), std::string::npos);

  auto listed = store_->list_keys("kim");
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, k->info.id);

  ASSERT_TRUE(store_->revoke_key(k->info.id).is_ok());
  auto revoked = store_->check_key(k->key, 0);
  EXPECT_EQ(revoked.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(revoked.status().message().find("revoked"), std::string::npos);
  EXPECT_EQ(store_->revoke_key(k->info.id).code(), ErrorCode::kNotFound);
  EXPECT_NE(store_->get_key(k->info.id)->revoked_ms, 0);
}

TEST_F(StoreTest, KeysExpireAndDieWithTheirOwner) {
  ASSERT_TRUE(store_->add_user("kim", "kim-password", false).is_ok());
  KeySpec spec;
  spec.user = "kim";
  spec.expires_ms = 1000;
  auto k = store_->create_key(spec);
  ASSERT_TRUE(k.is_ok());
  EXPECT_TRUE(store_->check_key(k->key, 999).is_ok());
  auto expired = store_->check_key(k->key, 1000);
  EXPECT_EQ(expired.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
  spec.expires_ms = 0;
  auto k2 = store_->create_key(spec);
  ASSERT_TRUE(k2.is_ok());
  ASSERT_TRUE(store_->remove_user("kim").is_ok());
  EXPECT_FALSE(store_->check_key(k2->key, 0).is_ok());
  spec.user = "nobody";
  EXPECT_EQ(store_->create_key(spec).status().code(), ErrorCode::kNotFound);
}

TEST_F(StoreTest, EverythingSurvivesReopening) {
  ASSERT_TRUE(store_->add_user("alice", "alice-password", true).is_ok());
  ASSERT_TRUE(store_->grant("alice", "kb", "a", "viewer").is_ok());
  KeySpec spec;
  spec.user = "alice";
  auto k = store_->create_key(spec);
  ASSERT_TRUE(k.is_ok());
  store_.reset();
  auto reopened = AuthStore::open(dir_.path() + "/auth.db", test::cheap_params());
  ASSERT_TRUE(reopened.is_ok());
  EXPECT_TRUE((*reopened)->check_password("alice", "alice-password").is_ok());
  EXPECT_TRUE((*reopened)->check_key(k->key, 0).is_ok());
  EXPECT_EQ((*reopened)->list_grants("alice", "", "")->size(), 1u);
}

TEST(StoreOpenTest, ACorruptDatabaseIsReported) {
  test::TempDir dir;
  std::string path = dir.path() + "/auth.db";
  FILE* f = std::fopen(path.c_str(), "wb");
  std::string junk(8192, 'x');
  std::fwrite(junk.data(), 1, junk.size(), f);
  std::fclose(f);
  auto s = AuthStore::open(path, test::cheap_params());
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kCorruption) << s.status().to_string();
}

}  // namespace
}  // namespace dkb::auth
