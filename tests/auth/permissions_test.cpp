#include <gtest/gtest.h>

#include "auth/permissions.h"

namespace dkb::auth {
namespace {

using P = Permission;

Principal user_with(std::map<std::string, std::string> kb_roles) {
  Principal p;
  p.kind = Principal::Kind::kUser;
  p.username = "u";
  p.kb_roles = std::move(kb_roles);
  return p;
}

TEST(PermissionsTest, TableOfKnowledgeBaseRoles) {
  const auto kb = Resource::Kind::kKb;
  for (P p : {P::kKbRead, P::kKbWrite, P::kKbDelete, P::kKbManage}) EXPECT_TRUE(role_grants("admin", kb, p));
  EXPECT_TRUE(role_grants("editor", kb, P::kKbRead));
  EXPECT_TRUE(role_grants("editor", kb, P::kKbWrite));
  EXPECT_FALSE(role_grants("editor", kb, P::kKbDelete));
  EXPECT_FALSE(role_grants("editor", kb, P::kKbManage));
  EXPECT_TRUE(role_grants("viewer", kb, P::kKbRead));
  EXPECT_FALSE(role_grants("viewer", kb, P::kKbWrite));
  // Knowledge-base roles carry no model access and no global rights.
  EXPECT_FALSE(role_grants("admin", Resource::Kind::kModel, P::kModelChat));
  EXPECT_FALSE(role_grants("admin", kb, P::kKbCreate));
  EXPECT_TRUE(role_grants("chat", Resource::Kind::kModel, P::kModelChat));
  EXPECT_FALSE(role_grants("chat", Resource::Kind::kModel, P::kModelEmbed));
  EXPECT_TRUE(role_grants("embeddings", Resource::Kind::kModel, P::kModelEmbed));
  EXPECT_FALSE(role_grants("owner", kb, P::kKbRead));
}

TEST(PermissionsTest, AuthorizeFollowsPerBaseRoles) {
  Principal viewer = user_with({{"a", "viewer"}});
  EXPECT_TRUE(authorize(viewer, P::kKbRead, Resource::kb("a")).is_ok());
  auto w = authorize(viewer, P::kKbWrite, Resource::kb("a"));
  EXPECT_EQ(w.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(w.message().find("kb.write"), std::string::npos);
  EXPECT_EQ(authorize(viewer, P::kKbRead, Resource::kb("b")).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(authorize(viewer, P::kKbCreate, Resource::kb("new")).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(authorize(viewer, P::kMetrics, Resource::global()).code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(authorize(viewer, P::kAuthenticated, Resource::global()).is_ok());

  Principal editor = user_with({{"a", "editor"}});
  EXPECT_TRUE(authorize(editor, P::kKbWrite, Resource::kb("a")).is_ok());
  EXPECT_FALSE(authorize(editor, P::kKbDelete, Resource::kb("a")).is_ok());
  Principal kb_admin = user_with({{"a", "admin"}});
  EXPECT_TRUE(authorize(kb_admin, P::kKbManage, Resource::kb("a")).is_ok());
  EXPECT_FALSE(authorize(kb_admin, P::kKbManage, Resource::kb("b")).is_ok());
  EXPECT_FALSE(authorize(kb_admin, P::kAdminUsers, Resource::global()).is_ok());
}

TEST(PermissionsTest, ModelAccessIsItsOwnPermission) {
  Principal p = user_with({{"a", "admin"}});
  EXPECT_FALSE(authorize(p, P::kModelChat, Resource::model("m")).is_ok());
  p.model_roles["*"] = {"chat"};
  EXPECT_TRUE(authorize(p, P::kModelChat, Resource::model("m")).is_ok());
  EXPECT_FALSE(authorize(p, P::kModelEmbed, Resource::model("m")).is_ok());
  p.model_roles["bert"] = {"embeddings"};
  EXPECT_TRUE(authorize(p, P::kModelEmbed, Resource::model("bert")).is_ok());
  EXPECT_FALSE(authorize(p, P::kModelEmbed, Resource::model("other")).is_ok());
}

TEST(PermissionsTest, GlobalAdminStaticKeyOpenAndAnonymous) {
  Principal admin = user_with({});
  admin.global_admin = true;
  for (P p : scopable_permissions()) EXPECT_TRUE(authorize(admin, p, Resource::kb("x")).is_ok());
  Principal open;
  open.kind = Principal::Kind::kOpen;
  EXPECT_TRUE(authorize(open, P::kAdminUsers, Resource::global()).is_ok());
  Principal anon;
  EXPECT_EQ(authorize(anon, P::kKbRead, Resource::kb("a")).code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(authorize(anon, P::kAuthenticated, Resource::global()).code(), ErrorCode::kUnauthenticated);
}

TEST(PermissionsTest, KeyScopeNarrowsButNeverWidens) {
  Principal key = user_with({{"a", "editor"}, {"b", "admin"}});
  key.kind = Principal::Kind::kApiKey;
  key.key_id = "k1";
  key.scope = KeyScope{{P::kKbRead}, {"a"}};
  EXPECT_TRUE(authorize(key, P::kKbRead, Resource::kb("a")).is_ok());
  EXPECT_FALSE(authorize(key, P::kKbWrite, Resource::kb("a")).is_ok());  // action not in scope
  EXPECT_FALSE(authorize(key, P::kKbRead, Resource::kb("b")).is_ok());   // base not in scope
  EXPECT_FALSE(authorize(key, P::kKbRead, Resource::kb("c")).is_ok());   // owner has no role
  // A global admin's key scoped to one base reaches only that base.
  Principal admin_key = key;
  admin_key.global_admin = true;
  admin_key.scope = KeyScope{{}, {"a"}};
  EXPECT_TRUE(authorize(admin_key, P::kKbDelete, Resource::kb("a")).is_ok());
  EXPECT_FALSE(authorize(admin_key, P::kKbRead, Resource::kb("b")).is_ok());
  // An unscoped key acts with its owner's rights.
  key.scope = KeyScope{};
  EXPECT_TRUE(authorize(key, P::kKbWrite, Resource::kb("a")).is_ok());
  EXPECT_FALSE(authorize(key, P::kKbDelete, Resource::kb("a")).is_ok());
}

TEST(PermissionsTest, OwnKeysOnlyForOneself) {
  Principal p = user_with({});
  EXPECT_TRUE(authorize(p, P::kOwnKeys, Resource::user("u")).is_ok());
  EXPECT_FALSE(authorize(p, P::kOwnKeys, Resource::user("someone")).is_ok());
}

TEST(PermissionsTest, NamesRoundTrip) {
  for (P p : scopable_permissions()) EXPECT_EQ(parse_permission(permission_name(p)), p);
  EXPECT_FALSE(parse_permission("kb.READ").has_value());
  const auto scopable = scopable_permissions();
  EXPECT_EQ(std::find(scopable.begin(), scopable.end(), P::kAuthenticated), scopable.end());
}

}  // namespace
}  // namespace dkb::auth
