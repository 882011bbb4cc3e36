// API keys under /v1/admin/keys (admin_routes.cpp lists the whole admin API):
//   GET    /v1/admin/keys[?user=U]   keys (never their secrets): everyone's for an admin, else
//                                    the caller's own
//   POST   /v1/admin/keys            {user?, name?, actions?: [permission…], kbs?: [kb…],
//                                    expires_in?: seconds, rate_limit?: requests per minute}
//          → 201 {key, id, …}: the key is shown this once and only its hash is stored
//   DELETE /v1/admin/keys/{id}       revoke
// Users manage their own keys (keys.own); admin.users manages anyone's.
#include <chrono>

#include "admin_util.h"
#include "routes.h"

namespace dkb::server {

namespace {

using auth::Permission;
using auth::Resource;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::vector<std::string>> string_list(const json& body, const char* key) {
  std::vector<std::string> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) return invalid_argument(std::string("'") + key + "' must be an array of strings");
  for (const auto& x : *it) {
    if (!x.is_string()) return invalid_argument(std::string("'") + key + "' must be an array of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

Result<auth::KeySpec> key_spec(const json& body, const std::string& default_user) {
  auth::KeySpec spec;
  spec.user = body.value("user", default_user);
  if (!body.value("user", json("")).is_string()) return invalid_argument("'user' must be a string");
  if (spec.user.empty()) return invalid_argument("'user' is required: whose key is it?");
  if (auto n = body.find("name"); n != body.end() && !n->is_null()) {
    if (!n->is_string()) return invalid_argument("'name' must be a string");
    spec.name = *n;
  }
  DKB_ASSIGN_OR_RETURN(auto actions, string_list(body, "actions"));
  for (const auto& a : actions) {
    auto p = auth::parse_permission(a);
    if (!p || *p == Permission::kAuthenticated) return invalid_argument("unknown action '" + a + "'");
    spec.scope.actions.push_back(*p);
  }
  DKB_ASSIGN_OR_RETURN(spec.scope.kbs, string_list(body, "kbs"));
  DKB_ASSIGN_OR_RETURN(int64_t expires_in, get_int(body, "expires_in", 0, 0, int64_t{10} * 365 * 86400));
  if (expires_in > 0) spec.expires_ms = unix_ms() + expires_in * 1000;
  DKB_ASSIGN_OR_RETURN(spec.rate_per_minute, get_int(body, "rate_limit", 0, 0, 1000000));
  return spec;
}

}  // namespace

json key_json(const auth::ApiKeyInfo& k) {
  json actions = json::array();
  for (auto a : k.scope.actions) actions.push_back(std::string(auth::permission_name(a)));
  return {{"id", k.id},
          {"user", k.user},
          {"name", k.name},
          {"actions", actions},
          {"kbs", k.scope.kbs},
          {"created", k.created_ms},
          {"expires", k.expires_ms ? json(k.expires_ms) : json(nullptr)},
          {"revoked", k.revoked_ms ? json(k.revoked_ms) : json(nullptr)},
          {"rate_limit", k.rate_per_minute}};
}

void handle_admin_keys(App& app, const std::vector<std::string>& parts, const http::Request& req,
                       http::Responder& resp) {
  auth::AuthStore& store = app.auth()->store();
  const std::string& m = req.method;
  if (parts.size() == 4) {
    if (m != "DELETE") return method_not_allowed(req, resp);
    audit_as("key.revoke", "key:" + parts[3].substr(0, 64));
    auto k = store.get_key(parts[3]);
    if (!k.is_ok()) {
      // Only admins learn whether a key id exists.
      Status s = authorize(Permission::kAdminUsers, Resource::global());
      return resp.respond(error_response(s.is_ok() ? k.status() : s));
    }
    if (Status s = authorize(Permission::kOwnKeys, Resource::user(k->user)); !s.is_ok()) {
      return resp.respond(error_response(s));
    }
    if (Status s = store.revoke_key(k->id); !s.is_ok()) return resp.respond(error_response(s));
    return resp.respond(json_response(200, {{"revoked", k->id}}));
  }
  if (m == "GET") {
    std::string user = query_param(req, "user");
    if (user.empty() && !may(Permission::kAdminUsers, Resource::global())) user = caller_user();
    Status s = user.empty() ? authorize(Permission::kAdminUsers, Resource::global())
                            : authorize(Permission::kOwnKeys, Resource::user(user));
    if (!s.is_ok()) return resp.respond(error_response(s));
    auto list = store.list_keys(user);
    if (!list.is_ok()) return resp.respond(error_response(list.status()));
    json data = json::array();
    for (const auto& k : *list) data.push_back(key_json(k));
    return resp.respond(json_response(200, {{"data", data}}));
  }
  if (m != "POST") return method_not_allowed(req, resp);
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto spec = key_spec(*body, caller_user());
  if (!spec.is_ok()) return resp.respond(error_response(spec.status()));
  audit_as("key.create", "user:" + spec->user.substr(0, 64), spec->name.empty() ? "" : "name " + spec->name);
  if (Status s = authorize(Permission::kOwnKeys, Resource::user(spec->user)); !s.is_ok()) {
    return resp.respond(error_response(s));
  }
  auto created = store.create_key(*spec);
  if (!created.is_ok()) return resp.respond(error_response(created.status()));
  current_request_auth()->resource = "key:" + created->info.id;
  json out = key_json(created->info);
  out["key"] = created->key;  // shown this once
  resp.respond(json_response(201, out));
}

}  // namespace dkb::server
