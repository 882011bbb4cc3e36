#include "auth/permissions.h"

#include <algorithm>
#include <array>

namespace dkb::auth {

namespace {

using P = Permission;
using K = Resource::Kind;

constexpr std::array<std::pair<P, const char*>, 12> kNames = {{
    {P::kKbRead, "kb.read"},
    {P::kKbWrite, "kb.write"},
    {P::kKbDelete, "kb.delete"},
    {P::kKbManage, "kb.manage"},
    {P::kKbCreate, "kb.create"},
    {P::kModelChat, "model.chat"},
    {P::kModelEmbed, "model.embeddings"},
    {P::kAdminUsers, "admin.users"},
    {P::kAdminAudit, "admin.audit"},
    {P::kMetrics, "metrics"},
    {P::kOwnKeys, "keys.own"},
    {P::kAuthenticated, "authenticated"},
}};

// The permission table: what each role grants, on which kind of resource. A global admin
// has every permission and is handled before this table.
struct RoleRow {
  const char* role;
  K kind;
  std::initializer_list<P> grants;
};
const RoleRow kTable[] = {
    {kRoleKbAdmin, K::kKb, {P::kKbRead, P::kKbWrite, P::kKbDelete, P::kKbManage}},
    {kRoleKbEditor, K::kKb, {P::kKbRead, P::kKbWrite}},
    {kRoleKbViewer, K::kKb, {P::kKbRead}},
    {kRoleChat, K::kModel, {P::kModelChat}},
    {kRoleEmbeddings, K::kModel, {P::kModelEmbed}},
};

bool contains(const std::vector<P>& v, P p) { return std::find(v.begin(), v.end(), p) != v.end(); }

Status denied(const Principal& who, P p, const Resource& on) {
  std::string what = on.kind == K::kGlobal ? "" : " on " + on.describe();
  return {ErrorCode::kPermissionDenied,
          (who.kind == Principal::Kind::kApiKey ? "this API key" : "user '" + who.username + "'") +
              " may not " + std::string(permission_name(p)) + what};
}

}  // namespace

std::string_view permission_name(Permission p) {
  for (const auto& [perm, name] : kNames) {
    if (perm == p) return name;
  }
  return "unknown";
}

std::optional<Permission> parse_permission(std::string_view name) {
  for (const auto& [perm, n] : kNames) {
    if (n == name) return perm;
  }
  return std::nullopt;
}

std::vector<Permission> scopable_permissions() {
  std::vector<Permission> out;
  for (const auto& [perm, name] : kNames) {
    if (perm != P::kAuthenticated) out.push_back(perm);
  }
  return out;
}

std::string Resource::describe() const {
  switch (kind) {
    case K::kGlobal: return "the server";
    case K::kKb: return "knowledge base '" + name + "'";
    case K::kModel: return "model '" + name + "'";
    case K::kUser: return "user '" + name + "'";
  }
  return name;
}

bool is_kb_role(std::string_view role) {
  return role == kRoleKbAdmin || role == kRoleKbEditor || role == kRoleKbViewer;
}
bool is_model_role(std::string_view role) { return role == kRoleChat || role == kRoleEmbeddings; }

bool role_grants(std::string_view role, Resource::Kind kind, Permission p) {
  for (const RoleRow& r : kTable) {
    if (r.kind == kind && role == r.role) {
      return std::find(r.grants.begin(), r.grants.end(), p) != r.grants.end();
    }
  }
  return false;
}

std::string Principal::audit_name() const {
  switch (kind) {
    case Kind::kAnonymous: return "anonymous";
    case Kind::kOpen: return "open";
    case Kind::kStaticKey: return "static-key";
    case Kind::kUser: return username;
    case Kind::kApiKey: return username + "/key:" + key_id;
  }
  return "unknown";
}

std::string_view Principal::kind_name() const {
  switch (kind) {
    case Kind::kAnonymous: return "anonymous";
    case Kind::kOpen: return "open";
    case Kind::kStaticKey: return "static_key";
    case Kind::kUser: return "user";
    case Kind::kApiKey: return "api_key";
  }
  return "unknown";
}

Status authorize(const Principal& who, Permission p, const Resource& on) {
  using PK = Principal::Kind;
  if (who.kind == PK::kOpen || who.kind == PK::kStaticKey) return Status::ok();
  if (who.kind == PK::kAnonymous) {
    return {ErrorCode::kUnauthenticated, "authentication required"};
  }
  if (p == P::kAuthenticated) return Status::ok();
  if (who.scope) {
    if (!who.scope->actions.empty() && !contains(who.scope->actions, p)) return denied(who, p, on);
    if (on.kind == K::kKb && !who.scope->kbs.empty() &&
        std::find(who.scope->kbs.begin(), who.scope->kbs.end(), on.name) == who.scope->kbs.end()) {
      return denied(who, p, on);
    }
  }
  if (who.global_admin) return Status::ok();
  switch (on.kind) {
    case K::kKb:
      if (auto it = who.kb_roles.find(on.name);
          it != who.kb_roles.end() && role_grants(it->second, K::kKb, p)) {
        return Status::ok();
      }
      break;
    case K::kModel:
      for (const std::string& m : {on.name, std::string("*")}) {
        auto it = who.model_roles.find(m);
        if (it == who.model_roles.end()) continue;
        for (const auto& role : it->second) {
          if (role_grants(role, K::kModel, p)) return Status::ok();
        }
      }
      break;
    case K::kUser:
      if (p == P::kOwnKeys && on.name == who.username) return Status::ok();
      break;
    case K::kGlobal:
      break;
  }
  return denied(who, p, on);
}

}  // namespace dkb::auth
