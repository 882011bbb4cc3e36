// Roles → permissions: the one table (permissions.cpp) and the one check, authorize().
//
// Roles: a user flagged global admin may do everything. Per knowledge base: "admin" (read,
// write, delete, manage members), "editor" (read, write), "viewer" (read). Per model (a
// name or "*"): "chat" (generation, tokenizer utilities) and "embeddings". Every signed-in
// user may manage their own API keys. An API key acts for its owner, narrowed by its scope
// (a subset of actions and of knowledge bases); it never has more rights than its owner.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dkb::auth {

enum class Permission : uint8_t {
  kKbRead,       // search, ask, list and read documents
  kKbWrite,      // add or replace documents and records
  kKbDelete,     // delete documents, records or the knowledge base
  kKbManage,     // grant and revoke roles on the knowledge base; rename it
  kKbCreate,     // create a knowledge base
  kModelChat,    // generation and tokenizer utilities
  kModelEmbed,   // embeddings
  kAdminUsers,   // users, everyone's keys
  kAdminAudit,   // read the audit log
  kMetrics,      // GET /metrics
  kOwnKeys,      // create, list, revoke one's own API keys (resource: the user)
  kAuthenticated,  // anything a signed-in caller may do (list models, whoami); never scoped
};

// "kb.read", "kb.write", "kb.delete", "kb.manage", "kb.create", "model.chat",
// "model.embeddings", "admin.users", "admin.audit", "metrics", "keys.own", "authenticated".
std::string_view permission_name(Permission p);
std::optional<Permission> parse_permission(std::string_view name);
// Actions an API key may be scoped to (every permission except kAuthenticated).
std::vector<Permission> scopable_permissions();

struct Resource {
  enum class Kind : uint8_t { kGlobal, kKb, kModel, kUser };
  Kind kind = Kind::kGlobal;
  std::string name;
  static Resource global() { return {}; }
  static Resource kb(std::string n) { return {Kind::kKb, std::move(n)}; }
  static Resource model(std::string n) { return {Kind::kModel, std::move(n)}; }
  static Resource user(std::string n) { return {Kind::kUser, std::move(n)}; }
  std::string describe() const;  // "knowledge base 'a'", "model 'm'", ...
};

// Role names as stored in grants.
inline constexpr const char* kRoleKbAdmin = "admin";
inline constexpr const char* kRoleKbEditor = "editor";
inline constexpr const char* kRoleKbViewer = "viewer";
inline constexpr const char* kRoleChat = "chat";
inline constexpr const char* kRoleEmbeddings = "embeddings";
bool is_kb_role(std::string_view role);
bool is_model_role(std::string_view role);

// True when `role` on a resource of `kind` carries permission `p` (the table).
bool role_grants(std::string_view role, Resource::Kind kind, Permission p);

struct KeyScope {
  std::vector<Permission> actions;  // empty: everything the owner may do
  std::vector<std::string> kbs;     // empty: every knowledge base the owner may use
};

struct Principal {
  enum class Kind : uint8_t {
    kAnonymous,  // no or invalid credentials
    kOpen,       // --no-auth: everything allowed
    kStaticKey,  // serve --api-key: global admin
    kUser,       // signed in with a JWT
    kApiKey,     // a stored API key acting for its owner
  };
  Kind kind = Kind::kAnonymous;
  int64_t user_id = 0;
  std::string username;  // the user, or the key's owner
  std::string key_id;    // public id of an API key
  bool global_admin = false;
  std::map<std::string, std::string> kb_roles;               // knowledge base → role
  std::map<std::string, std::set<std::string>> model_roles;  // model or "*" → {chat, embeddings}
  std::optional<KeyScope> scope;                             // API keys only
  double rate_per_minute = 0;                                // key's own limit; 0: server default

  // Who, for the audit log: "alice", "alice/key:k_ab12", "static-key", "anonymous", "open".
  std::string audit_name() const;
  std::string_view kind_name() const;
};

// OK, kUnauthenticated for an anonymous principal, or kPermissionDenied naming what is missing.
Status authorize(const Principal& who, Permission p, const Resource& on);

}  // namespace dkb::auth
