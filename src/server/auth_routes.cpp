// Sign-in routes:
//   POST /v1/auth/login   {username, password} → {access_token, token_type, expires_in,
//                         expires_at, user}; 401 on a wrong name or password, 429 with
//                         Retry-After after repeated failures (per name and per address).
//                         Open: the only route besides /health and /ready that needs no
//                         credentials. Every attempt is audited, never with the password.
//   GET  /v1/auth/whoami  the caller: user, kind, admin flag, roles, key scope.
#include <chrono>
#include <cmath>

#include "request_auth.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {

namespace {

void login(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto u = body->find("username");
  auto p = body->find("password");
  if (u == body->end() || !u->is_string() || u->get<std::string>().empty() || p == body->end() ||
      !p->is_string()) {
    return resp.respond(error_response(invalid_argument("'username' and 'password' must be strings")));
  }
  double retry = 0;
  auto r = app.auth()->login(u->get<std::string>(), p->get<std::string>(), req.remote, &retry);
  if (!r.is_ok()) {
    auto out = error_response(r.status());
    if (r.status().code() == ErrorCode::kResourceExhausted) {
      out = json_response(429, {{"error", {{"message", r.status().message()}, {"type", "rate_limit_error"},
                                           {"param", nullptr}, {"code", "rate_limit_exceeded"}}}});
      out.headers.push_back({"Retry-After", std::to_string(std::max<int64_t>(1, std::llround(std::ceil(retry))))});
    }
    return resp.respond(out);
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  resp.respond(json_response(200, {{"access_token", r->token},
                                   {"token_type", "Bearer"},
                                   {"expires_in", r->expires_at - now},
                                   {"expires_at", r->expires_at},
                                   {"user", {{"name", r->user.name}, {"admin", r->user.admin}}}}));
}

void whoami(const http::Request&, http::Responder& resp) {
  const RequestAuth* ra = current_request_auth();
  const auth::Principal& p = ra->principal;
  json roles = json::object();
  for (const auto& [kb, role] : p.kb_roles) roles[kb] = role;
  json models = json::object();
  for (const auto& [m, rs] : p.model_roles) models[m] = rs;
  json out = {{"user", p.username}, {"kind", p.kind_name()}, {"admin", p.global_admin},
              {"knowledge_bases", roles}, {"models", models}};
  if (!p.key_id.empty()) out["key_id"] = p.key_id;
  if (p.scope) {
    json actions = json::array();
    for (auto a : p.scope->actions) actions.push_back(std::string(auth::permission_name(a)));
    out["scope"] = {{"actions", actions}, {"knowledge_bases", p.scope->kbs}};
  }
  resp.respond(json_response(200, out));
}

}  // namespace

void handle_auth_routes(App& app, const http::Request& req, http::Responder& resp) {
  if (!app.auth()) {
    return resp.respond(error_response(unimplemented("authentication is disabled (serve --no-auth)")));
  }
  auto parts = split_path(req.path);  // "v1", "auth", ...
  const std::string sub = parts.size() == 3 ? parts[2] : "";
  auto not_allowed = [&] {
    auto r = error_response(invalid_argument("method " + req.method + " not allowed on " + req.path));
    r.status = 405;
    resp.respond(r);
  };
  if (sub == "login") return req.method == "POST" ? login(app, req, resp) : not_allowed();
  if (sub == "whoami") return req.method == "GET" ? whoami(req, resp) : not_allowed();
  resp.respond(error_response(not_found("no route for " + req.method + " " + req.path)));
}

}  // namespace dkb::server
