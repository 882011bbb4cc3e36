// Admin API (/v1/admin), on the Authenticator's store and audit log:
//   GET    /v1/admin/users                      list users                      admin.users
//   POST   /v1/admin/users                      {username, password?, admin?, models?}
//          → 201 {user, password?}; a password is generated (and returned once) when absent;
//          models: model roles on every model, default ["chat", "embeddings"]
//   DELETE /v1/admin/users/{name}               remove a user with their keys and roles
//   PUT    /v1/admin/users/{name}/password      {password}: admin.users, or the user themself
//   /v1/admin/keys…                             API keys (key_routes.cpp)
//   GET    /v1/admin/grants?user=&kb=           roles on knowledge bases (admin.users, or
//                                               kb.manage on ?kb)
//   POST   /v1/admin/grants                     {user, kb, role: admin|editor|viewer}   kb.manage
//   DELETE /v1/admin/grants?user=U&kb=K         remove U's role on K                    kb.manage
//   GET    /v1/admin/audit?actor=&action=&resource=&outcome=&since=&until=&before=&limit=
//                                               newest first (since/until: unix ms)  admin.audit
// Every change is audited (user.add, user.rm, user.passwd, key.create, key.revoke, grant.add,
// grant.revoke); passwords and keys never appear in the audit log or in later responses.
#include "admin_util.h"
#include "auth/crypto.h"
#include "routes.h"

namespace dkb::server {

namespace {

using auth::Permission;
using auth::Resource;

json user_json(const auth::User& u) {
  return {{"name", u.name}, {"admin", u.admin}, {"created", u.created_ms}};
}

void users(App& app, const std::vector<std::string>& parts, const http::Request& req,
           http::Responder& resp) {
  auth::AuthStore& store = app.auth()->store();
  const std::string& m = req.method;
  if (parts.size() == 5 && parts[4] == "password") {
    if (m != "PUT" && m != "POST") return method_not_allowed(req, resp);
    const std::string& name = parts[3];
    if (caller_user() != name || current_request_auth()->principal.kind != auth::Principal::Kind::kUser) {
      if (Status s = authorize(Permission::kAdminUsers, Resource::user(name)); !s.is_ok()) {
        return resp.respond(error_response(s));
      }
    }
    audit_as("user.passwd", "user:" + name);
    auto body = parse_json_object(req);
    if (!body.is_ok()) return resp.respond(error_response(body.status()));
    auto pw = body->find("password");
    if (pw == body->end() || !pw->is_string()) return resp.respond(error_response(invalid_argument("'password' must be a string")));
    if (Status s = store.set_password(name, pw->get<std::string>()); !s.is_ok()) return resp.respond(error_response(s));
    return resp.respond(json_response(200, {{"user", name}, {"password_changed", true}}));
  }
  if (Status s = authorize(Permission::kAdminUsers, Resource::global()); !s.is_ok()) {
    return resp.respond(error_response(s));
  }
  if (parts.size() == 3) {
    if (m == "GET") {
      auto list = store.list_users();
      if (!list.is_ok()) return resp.respond(error_response(list.status()));
      json data = json::array();
      for (const auto& u : *list) data.push_back(user_json(u));
      return resp.respond(json_response(200, {{"data", data}}));
    }
    if (m != "POST") return method_not_allowed(req, resp);
    auto body = parse_json_object(req);
    if (!body.is_ok()) return resp.respond(error_response(body.status()));
    auto name = body->find("username");
    if (name == body->end() || !name->is_string()) return resp.respond(error_response(invalid_argument("'username' must be a string")));
    audit_as("user.add", "user:" + name->get<std::string>().substr(0, 64));
    auto admin = get_bool(*body, "admin", false);
    if (!admin.is_ok()) return resp.respond(error_response(admin.status()));
    json models = body->value("models", json::array({auth::kRoleChat, auth::kRoleEmbeddings}));
    bool models_ok = models.is_array();
    for (const auto& r : models) models_ok = models_ok && r.is_string() && auth::is_model_role(r.get<std::string>());
    if (!models_ok) return resp.respond(error_response(invalid_argument("'models' must be an array of chat, embeddings")));
    std::string password, generated;
    if (auto pw = body->find("password"); pw != body->end() && !pw->is_null()) {
      if (!pw->is_string()) return resp.respond(error_response(invalid_argument("'password' must be a string")));
      password = pw->get<std::string>();
    } else {
      password = generated = auth::base64url_encode(auth::random_bytes(18));
    }
    auto u = store.add_user(name->get<std::string>(), password, *admin);
    if (!u.is_ok()) return resp.respond(error_response(u.status()));
    for (const auto& r : models) {
      if (Status s = store.grant(u->name, "model", "*", r.get<std::string>()); !s.is_ok()) {
        return resp.respond(error_response(s));
      }
    }
    json out = {{"user", user_json(*u)}, {"models", models}};
    if (!generated.empty()) out["password"] = generated;  // shown this once
    return resp.respond(json_response(201, out));
  }
  if (parts.size() == 4) {
    if (m != "DELETE") return method_not_allowed(req, resp);
    audit_as("user.rm", "user:" + parts[3]);
    if (Status s = store.remove_user(parts[3]); !s.is_ok()) return resp.respond(error_response(s));
    return resp.respond(json_response(200, {{"deleted", parts[3]}}));
  }
  resp.respond(error_response(not_found("no route for " + m + " " + req.path)));
}

void grants(App& app, const http::Request& req, http::Responder& resp) {
  auth::AuthStore& store = app.auth()->store();
  const std::string& m = req.method;
  std::string user = query_param(req, "user"), kb = query_param(req, "kb"), role;
  if (m == "POST") {
    auto body = parse_json_object(req);
    if (!body.is_ok()) return resp.respond(error_response(body.status()));
    for (const char* k : {"user", "kb", "role"}) {
      if (!body->contains(k) || !(*body)[k].is_string()) {
        return resp.respond(error_response(invalid_argument(std::string("'") + k + "' must be a string")));
      }
    }
    user = (*body)["user"];
    kb = (*body)["kb"];
    role = (*body)["role"];
  }
  if (m == "GET" && kb.empty()) {
    if (Status s = authorize(Permission::kAdminUsers, Resource::global()); !s.is_ok()) return resp.respond(error_response(s));
  } else if (m == "GET" || m == "POST" || m == "DELETE") {
    if (kb.empty() || (m == "DELETE" && user.empty())) {
      return resp.respond(error_response(invalid_argument("'user' and 'kb' are required")));
    }
    if (Status s = authorize(Permission::kKbManage, Resource::kb(kb)); !s.is_ok()) return resp.respond(error_response(s));
  } else {
    return method_not_allowed(req, resp);
  }
  if (m == "GET") {
    auto list = store.list_grants(user, "kb", kb);
    if (!list.is_ok()) return resp.respond(error_response(list.status()));
    json data = json::array();
    for (const auto& g : *list) data.push_back({{"user", g.user}, {"kb", g.resource}, {"role", g.role}});
    return resp.respond(json_response(200, {{"data", data}}));
  }
  if (m == "DELETE") {
    audit_as("grant.revoke", "kb:" + kb, "user " + user);
    if (Status s = store.revoke(user, "kb", kb); !s.is_ok()) return resp.respond(error_response(s));
    return resp.respond(json_response(200, {{"revoked", {{"user", user}, {"kb", kb}}}}));
  }
  audit_as("grant.add", "kb:" + kb, "user " + user + " as " + role);
  if (!app.kb_store()) return resp.respond(error_response(failed_precondition("no knowledge base is configured")));
  if (auto c = app.kb_store()->get_collection(kb); !c.is_ok()) return resp.respond(error_response(c.status()));
  if (Status s = store.grant(user, "kb", kb, role); !s.is_ok()) return resp.respond(error_response(s));
  resp.respond(json_response(200, {{"granted", {{"user", user}, {"kb", kb}, {"role", role}}}}));
}

Result<int64_t> int_param(const http::Request& req, const char* name, int64_t def) {
  std::string v = query_param(req, name);
  if (v.empty()) return def;
  try {
    size_t used = 0;
    int64_t x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  return invalid_argument(std::string("'") + name + "' must be an integer");
}

void audit(App& app, const http::Request& req, http::Responder& resp) {
  if (req.method != "GET") return method_not_allowed(req, resp);
  if (Status s = authorize(Permission::kAdminAudit, Resource::global()); !s.is_ok()) return resp.respond(error_response(s));
  auth::AuditQuery q;
  q.actor = query_param(req, "actor");
  q.action = query_param(req, "action");
  q.resource = query_param(req, "resource");
  q.outcome = query_param(req, "outcome");
  for (auto [name, field, def] : {std::tuple{"since", &q.since_ms, int64_t{0}}, {"until", &q.until_ms, int64_t{0}},
                                  {"before", &q.before_id, int64_t{0}}, {"limit", &q.limit, int64_t{100}}}) {
    auto v = int_param(req, name, def);
    if (!v.is_ok()) return resp.respond(error_response(v.status()));
    *field = *v;
  }
  auto events = app.auth()->audit().query(q);
  if (!events.is_ok()) return resp.respond(error_response(events.status()));
  json data = json::array();
  for (const auto& e : *events) {
    data.push_back({{"id", e.id}, {"time", e.time_ms}, {"actor", e.actor}, {"actor_kind", e.actor_kind},
                    {"action", e.action}, {"resource", e.resource}, {"outcome", e.outcome},
                    {"status", e.status}, {"remote", e.remote}, {"detail", e.detail}});
  }
  resp.respond(json_response(200, {{"data", data}}));
}

}  // namespace

void method_not_allowed(const http::Request& req, http::Responder& resp) {
  auto r = error_response(invalid_argument("method " + req.method + " not allowed on " + req.path));
  r.status = 405;
  resp.respond(r);
}

std::string query_param(const http::Request& req, const char* name) {
  auto it = req.query.find(name);
  return it == req.query.end() ? "" : it->second;
}

std::string caller_user() {
  const RequestAuth* ra = current_request_auth();
  if (!ra) return "";
  auto k = ra->principal.kind;
  return k == auth::Principal::Kind::kUser || k == auth::Principal::Kind::kApiKey ? ra->principal.username : "";
}

void handle_admin(App& app, const http::Request& req, http::Responder& resp) {
  if (!app.auth()) {
    return resp.respond(error_response(unimplemented("user management is disabled (serve --no-auth)")));
  }
  auto parts = split_path(req.path);  // "v1", "admin", ...
  const std::string area = parts.size() >= 3 ? parts[2] : "";
  if (area == "users" && parts.size() <= 5) return users(app, parts, req, resp);
  if (area == "keys" && parts.size() <= 4) return handle_admin_keys(app, parts, req, resp);
  if (area == "grants" && parts.size() == 3) return grants(app, req, resp);
  if (area == "audit" && parts.size() == 3) return audit(app, req, resp);
  resp.respond(error_response(not_found("no route for " + req.method + " " + req.path)));
}

}  // namespace dkb::server
