// The authorization matrix (issue #8): every route × {anonymous, viewer, editor, kb admin,
// global admin, expired key, revoked key, key scoped to another KB, tampered JWT, JWT with
// alg:none} → the expected status, asserted per cell, against the real server.
#include <array>
#include <thread>

#include "auth_server.h"
#include "jwt_forge.h"

namespace dkb::test {
namespace {

const char* kChroma = "/api/v2/tenants/default_tenant/databases/default_database/collections";

enum Who { kAnon, kViewer, kEditor, kKbAdmin, kAdmin, kExpired, kRevoked, kOtherKb, kTampered, kAlgNone, kWhoCount };
const char* kWhoName[] = {"anonymous", "viewer", "editor", "kb-admin", "admin", "expired-key",
                          "revoked-key", "key-scoped-to-beta", "tampered-jwt", "alg-none-jwt"};

struct Cell {
  std::string method;
  std::string path;  // "{p}" is replaced by the principal's name (fresh resources per cell)
  json body;
  // Expected status for viewer, editor, kb admin, admin, key scoped to beta; every other
  // principal must get 401.
  std::array<int, 5> expect;
  bool prepare_kb = false;   // admin creates kb tmp-{p} (with the principal's role) first
  bool prepare_doc = false;  // admin adds document tmp-{p} to alpha first
};

std::string fill(std::string s, const std::string& p) {
  for (size_t at; (at = s.find("{p}")) != std::string::npos;) s.replace(at, 3, p);
  return s;
}
json fill(const json& j, const std::string& p) { return j.is_null() ? j : json::parse(fill(j.dump(), p)); }

std::vector<Cell> cells() {
  const json chat_msgs = json::array({{{"role", "user"}, {"content", "What is the alpha secret?"}}});
  const std::array<int, 5> all_ok = {200, 200, 200, 200, 200};
  const std::array<int, 5> read_alpha = {200, 200, 200, 200, 403};
  const std::array<int, 5> write_alpha = {403, 200, 200, 200, 403};
  const std::array<int, 5> delete_alpha = {403, 403, 200, 200, 403};
  const std::array<int, 5> admin_only = {403, 403, 403, 200, 200};
  std::string c = kChroma;
  return {
      {"GET", "/v1/models", nullptr, all_ok},
      {"GET", "/models", nullptr, all_ok},
      {"POST", "/v1/chat/completions", {{"messages", chat_msgs}, {"max_tokens", 2}}, all_ok},
      {"POST", "/v1/chat/completions",
       {{"messages", chat_msgs}, {"max_tokens", 2}, {"knowledge_base", {{"name", "alpha"}}}}, read_alpha},
      {"POST", "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 2}}, all_ok},
      {"POST", "/v1/chat", {{"prompt", "Once"}, {"max_tokens", 2}}, all_ok},
      {"POST", "/v1/embeddings", {{"input", "hello"}}, all_ok},
      {"POST", "/api/chat", {{"model", "stories260K"}, {"messages", chat_msgs}, {"stream", false},
                             {"options", {{"num_predict", 2}}}}, all_ok},
      {"POST", "/api/generate", {{"model", "stories260K"}, {"prompt", "Once"}, {"stream", false},
                                 {"options", {{"num_predict", 2}}}}, all_ok},
      {"POST", "/api/embed", {{"model", "tiny-bert-F16"}, {"input", "hi"}}, all_ok},
      {"GET", "/api/tags", nullptr, all_ok},
      {"POST", "/api/show", {{"model", "stories260K"}}, all_ok},
      {"GET", "/api/ps", nullptr, all_ok},
      {"GET", "/api/version", nullptr, all_ok},
      {"GET", "/v1/ws", nullptr, {426, 426, 426, 426, 426}},  // plain GET: 426 once authenticated
      {"POST", "/tokenize", {{"content", "hello"}}, all_ok},
      {"POST", "/detokenize", {{"tokens", {1, 2}}}, all_ok},
      {"POST", "/apply-template", {{"messages", chat_msgs}}, all_ok},
      {"GET", "/metrics", nullptr, admin_only},
      {"GET", "/v1/kb", nullptr, all_ok},
      {"POST", "/v1/kb", {{"name", "new-{p}"}}, {403, 403, 403, 201, 403}},
      {"GET", "/v1/kb/alpha", nullptr, read_alpha},
      {"GET", "/v1/kb/alpha/documents", nullptr, read_alpha},
      {"GET", "/v1/kb/alpha/documents/a1", nullptr, read_alpha},
      {"GET", "/v1/kb/alpha/jobs", nullptr, read_alpha},
      {"GET", "/v1/kb/alpha/graph", nullptr, read_alpha},
      {"POST", "/v1/kb/alpha/documents", {{"documents", {{{"id", "w-{p}"}, {"text", "written by {p}"}}}}}, write_alpha},
      {"DELETE", "/v1/kb/alpha/documents/tmp-{p}", nullptr, delete_alpha, false, true},
      {"POST", "/v1/kb/alpha/search", {{"query", "alpha secret"}}, read_alpha},
      {"POST", "/v1/kb/alpha/verify", json::object(), read_alpha},
      {"POST", "/v1/kb/alpha/repair", json::object(), {403, 403, 200, 200, 403}},
      {"POST", "/v1/kb/alpha/vault/sync", {{"notes", json::array()}, {"delete_missing", false}}, write_alpha},
      {"POST", "/v1/kb/alpha/ask", {{"question", "What is the alpha secret?"}, {"max_tokens", 2}}, read_alpha},
      {"DELETE", "/v1/kb/tmp-{p}", nullptr, delete_alpha, true},
      {"GET", "/api/v2/heartbeat", nullptr, all_ok},
      {"GET", c, nullptr, all_ok},
      {"GET", c + "/alpha", nullptr, read_alpha},
      {"POST", c + "/alpha/get", json::object(), read_alpha},
      {"POST", c + "/alpha/query", {{"query_texts", {"alpha"}}, {"n_results", 1}}, read_alpha},
      {"POST", c + "/alpha/add", {{"ids", {"c-{p}"}}, {"documents", {"chroma record by {p}"}}}, {403, 201, 201, 201, 403}},
      {"POST", c + "/alpha/delete", {{"ids", {"no-such-record"}}}, delete_alpha},
      {"GET", "/v1/auth/whoami", nullptr, all_ok},
      {"GET", "/v1/admin/users", nullptr, admin_only},
      {"POST", "/v1/admin/users", {{"username", "u-{p}"}, {"password", "password-{p}"}}, {403, 403, 403, 201, 201}},
      {"GET", "/v1/admin/audit", nullptr, admin_only},
      {"GET", "/v1/admin/grants?kb=alpha", nullptr, {403, 403, 200, 200, 403}},
      {"POST", "/v1/admin/grants", {{"user", "viewer"}, {"kb", "alpha"}, {"role", "viewer"}}, {403, 403, 200, 200, 403}},
      {"GET", "/v1/admin/keys", nullptr, all_ok},
      {"POST", "/v1/admin/keys", {{"name", "own key of {p}"}}, {201, 201, 201, 201, 201}},
  };
}

TEST(AuthMatrixTest, EveryRouteForEveryPrincipal) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  AuthServer s({"--rate-limit", "0"});
  ASSERT_TRUE(s.server->ready()) << s.server->output();
  const std::string admin = s.login("admin", kAdminPassword);
  ASSERT_FALSE(admin.empty());
  for (const char* kb : {"alpha", "beta"}) ASSERT_EQ(s.call("POST", "/v1/kb", {{"name", kb}}, admin).status, 201);
  ASSERT_EQ(s.call("POST", "/v1/kb/alpha/documents",
                   {{"documents", {{{"id", "a1"}, {"text", "The alpha secret is marmalade."}}}}}, admin).status, 200);
  const std::map<Who, std::string> roles = {{kViewer, "viewer"}, {kEditor, "editor"}, {kKbAdmin, "admin"}};
  std::array<std::string, kWhoCount> cred;
  for (const auto& [who, role] : roles) {
    std::string name = kWhoName[who];
    ASSERT_EQ(s.call("POST", "/v1/admin/users", {{"username", name}, {"password", name + "-password"}}, admin).status, 201);
    ASSERT_EQ(s.call("POST", "/v1/admin/grants", {{"user", name}, {"kb", "alpha"}, {"role", role}}, admin).status, 200);
    cred[who] = s.login(name, name + "-password");
    ASSERT_FALSE(cred[who].empty()) << name;
  }
  cred[kAdmin] = admin;
  cred[kExpired] = s.make_key(admin, {{"user", "viewer"}, {"expires_in", 1}});
  auto revoked = s.call("POST", "/v1/admin/keys", {{"user", "viewer"}}, admin);
  ASSERT_EQ(revoked.status, 201);
  cred[kRevoked] = json::parse(revoked.body)["key"];
  ASSERT_EQ(s.call("DELETE", "/v1/admin/keys/" + json::parse(revoked.body)["id"].get<std::string>(), nullptr, admin).status, 200);
  cred[kOtherKb] = s.make_key(admin, {{"kbs", {"beta"}}});
  cred[kTampered] = tamper_subject(cred[kViewer], "viewer", "admin");
  cred[kAlgNone] = alg_none(admin);
  for (Who w : {kExpired, kOtherKb, kTampered, kAlgNone}) ASSERT_FALSE(cred[w].empty()) << kWhoName[w];
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the 1-second key expires

  size_t checked = 0;
  for (const Cell& cell : cells()) {
    for (int w = 0; w < kWhoCount; ++w) {
      const std::string p = kWhoName[w];
      if (cell.prepare_kb) {
        ASSERT_EQ(s.call("POST", "/v1/kb", {{"name", "tmp-" + p}}, admin).status, 201);
        if (auto r = roles.find(Who(w)); r != roles.end()) {
          ASSERT_EQ(s.call("POST", "/v1/admin/grants", {{"user", p}, {"kb", "tmp-" + p}, {"role", r->second}}, admin).status, 200);
        }
      }
      if (cell.prepare_doc) {
        ASSERT_EQ(s.call("POST", "/v1/kb/alpha/documents", {{"documents", {{{"id", "tmp-" + p}, {"text", "temporary"}}}}}, admin).status, 200);
      }
      const int expected = w >= kViewer && w <= kAdmin ? cell.expect[w - kViewer]
                           : w == kOtherKb             ? cell.expect[4]
                                                       : 401;
      auto r = s.call(cell.method, fill(cell.path, p), fill(cell.body, p), cred[w]);
      EXPECT_EQ(r.status, expected) << cell.method << " " << fill(cell.path, p) << " as " << p << ": " << r.body.substr(0, 300);
      ++checked;
    }
  }
  EXPECT_EQ(checked, cells().size() * kWhoCount);
}

// 401 and 403 come in each API family's error shape; 401 asks for a bearer token.
TEST(AuthMatrixTest, ErrorShapes) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  AuthServer s({"--rate-limit", "0", "--api-key", "sk-static-e2e"});
  ASSERT_TRUE(s.server->ready()) << s.server->output();
  const std::string admin = s.login("admin", kAdminPassword);
  // serve --api-key still works, as a static key with global admin rights.
  EXPECT_EQ(s.call("GET", "/v1/admin/users", nullptr, "sk-static-e2e").status, 200);
  EXPECT_EQ(http_request(s.port(), "GET", "/metrics", "", {{"x-api-key", "sk-static-e2e"}}).status, 200);
  EXPECT_EQ(s.call("GET", "/v1/admin/users", nullptr, "sk-static-e2f").status, 401);
  ASSERT_EQ(s.call("POST", "/v1/admin/users", {{"username", "eve"}, {"password", "eve-password"}, {"models", json::array()}}, admin).status, 201);
  const std::string eve = s.login("eve", "eve-password");

  auto r = s.call("POST", "/v1/chat/completions", {{"messages", json::array()}}, "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  json e = json::parse(r.body);
  EXPECT_EQ(e["error"]["type"], "authentication_error");
  EXPECT_TRUE(e["error"]["message"].is_string());
  r = s.call("POST", "/v1/chat/completions", {{"messages", json::array()}}, eve);  // no model access
  EXPECT_EQ(r.status, 403);
  e = json::parse(r.body);
  EXPECT_EQ(e["error"]["type"], "permission_error");
  EXPECT_NE(e["error"]["message"].get<std::string>().find("model.chat"), std::string::npos);
  r = s.call("POST", "/api/chat", {{"model", "stories260K"}}, eve);
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(json::parse(r.body)["error"].is_string());  // Ollama's shape
  r = s.call("GET", std::string(kChroma) + "/nope", nullptr, "");
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(json::parse(r.body)["error"].is_string());  // Chroma's shape
  EXPECT_TRUE(json::parse(r.body)["message"].is_string());
  // Only /health and /ready are open.
  EXPECT_EQ(s.call("GET", "/health", nullptr, "").status, 200);
  EXPECT_EQ(s.call("GET", "/ready", nullptr, "").status, 200);
  EXPECT_EQ(s.call("GET", "/no/such/route", nullptr, "").status, 401);
  EXPECT_EQ(s.call("GET", "/no/such/route", nullptr, admin).status, 404);
  // Malformed credentials and bodies.
  EXPECT_EQ(http_request(s.port(), "GET", "/v1/models", "", {{"Authorization", "Bearer "}}).status, 401);
  EXPECT_EQ(http_request(s.port(), "GET", "/v1/models", "", {{"Authorization", "Basic abc"}}).status, 401);
  EXPECT_EQ(http_request(s.port(), "GET", "/v1/models", "", {{"x-api-key", "dkb_zzzz_zz"}}).status, 401);
  EXPECT_EQ(http_request(s.port(), "GET", "/v1/models", "", {{"x-api-key", admin}}).status, 200);
  EXPECT_EQ(s.call("POST", "/v1/auth/login", {{"username", 5}}, "").status, 400);
  EXPECT_EQ(http_request(s.port(), "POST", "/v1/auth/login", "{not json").status, 400);
  EXPECT_EQ(s.call("POST", "/v1/admin/users", {{"username", "bad name!"}, {"password", "long-enough"}}, admin).status, 400);
  EXPECT_EQ(s.call("POST", "/v1/admin/users", {{"username", "shorty"}, {"password", "short"}}, admin).status, 400);
  EXPECT_EQ(s.call("POST", "/v1/admin/grants", {{"user", "eve"}, {"kb", "missing"}, {"role", "viewer"}}, admin).status, 404);
  EXPECT_EQ(s.call("POST", "/v1/admin/keys", {{"actions", {"kb.fly"}}}, admin).status, 400);
  EXPECT_EQ(s.call("GET", "/v1/admin/audit?limit=abc", nullptr, admin).status, 400);
  EXPECT_EQ(s.call("GET", "/v1/admin/audit?limit=0", nullptr, admin).status, 400);
}

}  // namespace
}  // namespace dkb::test
