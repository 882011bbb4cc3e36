// Authentication around the routes: first run, sign-in limits, request rate limits, the audit
// log across a restart, no secret in the server's output or the audit log, --no-auth.
#include <stdlib.h>

#include <filesystem>
#include <regex>

#include "auth_server.h"

namespace dkb::test {
namespace {

class TempData {
 public:
  TempData() {
    char tmpl[] = "/tmp/dkb_auth_e2e_XXXXXX";
    path = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempData() { std::filesystem::remove_all(path); }
  std::string path;
};

json audit(const AuthServer& s, const std::string& admin, const std::string& query) {
  auto r = s.call("GET", "/v1/admin/audit?limit=1000" + query, nullptr, admin);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? json::parse(r.body)["data"] : json::array();
}

TEST(AuthLifecycleTest, FirstRunPrintsAGeneratedAdminPasswordOnce) {
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  TempData data;
  std::string password;
  {
    AuthServer s({"--data", data.path}, false, {});
    ASSERT_TRUE(s.server->ready()) << s.server->output();
    std::smatch m;
    std::string out = s.server->output();
    ASSERT_TRUE(std::regex_search(out, m, std::regex("created administrator 'admin' with password: (\\S+)"))) << out;
    password = m[1];
    EXPECT_FALSE(s.login("admin", password).empty());
    EXPECT_EQ(s.call("GET", "/v1/models", nullptr, "").status, 401);
  }
  AuthServer again({"--data", data.path}, false, {});
  ASSERT_TRUE(again.server->ready()) << again.server->output();
  EXPECT_EQ(again.server->output().find("created administrator"), std::string::npos);
  EXPECT_EQ(again.server->output().find(password), std::string::npos);
  EXPECT_FALSE(again.login("admin", password).empty());
  // The secret that signs tokens sits in the data directory, readable by its owner only.
  auto perms = std::filesystem::status(data.path + "/jwt.secret").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(AuthLifecycleTest, BruteForceLoginsAreLimitedAndAudited) {
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  AuthServer s({}, false);
  ASSERT_TRUE(s.server->ready()) << s.server->output();
  const std::string admin = s.login("admin", kAdminPassword);
  ASSERT_FALSE(admin.empty());
  ASSERT_EQ(s.call("POST", "/v1/admin/users", {{"username", "target"}, {"password", "target-password"}}, admin).status, 201);
  for (int i = 0; i < 5; ++i) {
    auto r = s.call("POST", "/v1/auth/login", {{"username", "target"}, {"password", "guess-" + std::to_string(i)}}, "");
    EXPECT_EQ(r.status, 401) << i;
  }
  // Refused before the password is checked, even the right one.
  auto r = s.call("POST", "/v1/auth/login", {{"username", "target"}, {"password", "target-password"}}, "");
  EXPECT_EQ(r.status, 429);
  ASSERT_TRUE(r.headers.count("retry-after"));
  EXPECT_GE(std::stoi(r.headers["retry-after"]), 1);
  EXPECT_EQ(json::parse(r.body)["error"]["type"], "rate_limit_error");
  json failed = audit(s, admin, "&action=login&outcome=failed");
  EXPECT_EQ(failed.size(), 5u);
  for (const auto& e : failed) {
    EXPECT_EQ(e["actor"], "target");
    EXPECT_EQ(e["remote"], "127.0.0.1");
  }
  EXPECT_GE(audit(s, admin, "&action=login&outcome=rate_limited").size(), 1u);
  EXPECT_EQ(audit(s, admin, "&action=login&outcome=ok&actor=admin").size(), 1u);
  std::string all = audit(s, admin, "").dump();
  EXPECT_EQ(all.find("guess-"), std::string::npos);
  EXPECT_EQ(all.find("target-password"), std::string::npos);
}

TEST(AuthLifecycleTest, RequestRateLimitAnswers429WithRetryAfter) {
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  AuthServer s({"--rate-limit", "6", "--rate-burst", "3"}, false);
  ASSERT_TRUE(s.server->ready()) << s.server->output();
  const std::string admin = s.login("admin", kAdminPassword);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.call("GET", "/v1/models", nullptr, admin).status, 200) << i;
  auto r = s.call("GET", "/v1/models", nullptr, admin);
  EXPECT_EQ(r.status, 429);
  ASSERT_TRUE(r.headers.count("retry-after"));
  EXPECT_GE(std::stoi(r.headers["retry-after"]), 1);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "rate_limit_exceeded");
  // Ollama and Chroma clients get 429 in their own shapes.
  r = s.call("GET", "/api/tags", nullptr, admin);
  EXPECT_EQ(r.status, 429);
  EXPECT_TRUE(json::parse(r.body)["error"].is_string());
  // /health stays open and unlimited.
  EXPECT_EQ(s.call("GET", "/health", nullptr, "").status, 200);
}

TEST(AuthLifecycleTest, AuditLogSurvivesRestartAndHoldsNoSecrets) {
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  TempData data;
  std::vector<std::string> secrets = {kAdminPassword, "alice-password-1", "alice-password-2"};
  std::string output;
  {
    AuthServer s({"--data", data.path}, false);
    ASSERT_TRUE(s.server->ready()) << s.server->output();
    const std::string admin = s.login("admin", kAdminPassword);
    secrets.push_back(admin);
    ASSERT_EQ(s.call("POST", "/v1/admin/users", {{"username", "alice"}, {"password", "alice-password-1"}}, admin).status, 201);
    auto gen = s.call("POST", "/v1/admin/users", {{"username", "bob"}}, admin);  // generated password
    ASSERT_EQ(gen.status, 201);
    secrets.push_back(json::parse(gen.body)["password"]);
    ASSERT_EQ(s.call("PUT", "/v1/admin/users/alice/password", {{"password", "alice-password-2"}}, admin).status, 200);
    const std::string alice = s.login("alice", "alice-password-2");
    secrets.push_back(alice);
    auto key = s.call("POST", "/v1/admin/keys", {{"name", "laptop"}}, alice);
    ASSERT_EQ(key.status, 201);
    std::string k = json::parse(key.body)["key"];
    secrets.push_back(k);
    EXPECT_EQ(s.call("GET", "/v1/auth/whoami", nullptr, k).status, 200);
    // A later listing never shows the key again.
    auto listed = s.call("GET", "/v1/admin/keys", nullptr, admin);
    EXPECT_EQ(listed.body.find(k), std::string::npos);
    EXPECT_EQ(listed.body.find(k.substr(17)), std::string::npos);
    EXPECT_EQ(s.call("GET", "/v1/admin/users", nullptr, admin).body.find("argon2"), std::string::npos);
    EXPECT_EQ(s.call("POST", "/v1/kb", {{"name", "notes"}}, alice).status, 403);  // denied: audited
    ASSERT_EQ(s.call("POST", "/v1/kb", {{"name", "notes"}}, admin).status, 201);
    EXPECT_EQ(s.call("POST", "/v1/auth/login", {{"username", "alice"}, {"password", "wrong-password"}}, "").status, 401);
    EXPECT_EQ(s.server->terminate(), 0);
    output = s.server->output();
  }
  AuthServer s({"--data", data.path}, false);
  ASSERT_TRUE(s.server->ready()) << s.server->output();
  output += s.server->output();
  const std::string admin = s.login("admin", kAdminPassword);
  ASSERT_FALSE(admin.empty());
  json events = audit(s, admin, "");
  auto has = [&](const std::string& action, const std::string& outcome, const std::string& actor) {
    for (const auto& e : events) {
      if (e["action"] == action && e["outcome"] == outcome && (actor.empty() || e["actor"] == actor)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("user.add", "ok", "admin"));
  EXPECT_TRUE(has("user.passwd", "ok", "admin"));
  EXPECT_TRUE(has("key.create", "ok", "alice"));
  EXPECT_TRUE(has("kb.create", "denied", "alice"));
  EXPECT_TRUE(has("kb.create", "ok", "admin"));
  EXPECT_TRUE(has("login", "failed", "alice"));
  EXPECT_TRUE(has("login", "ok", "alice"));
  for (const auto& e : events) {
    EXPECT_TRUE(e["time"].is_number());
    EXPECT_TRUE(e["remote"].is_string());
  }
  // Filters.
  for (const auto& e : audit(s, admin, "&actor=alice")) EXPECT_EQ(e["actor"], "alice");
  EXPECT_TRUE(audit(s, admin, "&since=99999999999999").empty());
  // No password, key or token anywhere in the audit log or the server's output.
  std::string log = events.dump();
  for (const auto& secret : secrets) {
    ASSERT_FALSE(secret.empty());
    EXPECT_EQ(log.find(secret), std::string::npos) << "audit log holds a secret";
    EXPECT_EQ(output.find(secret), std::string::npos) << "server output holds a secret";
  }
  // Tokens and keys issued before the restart stay valid (persisted signing secret, stored hashes).
  EXPECT_EQ(s.call("GET", "/v1/auth/whoami", nullptr, secrets[5]).status, 200);
  EXPECT_EQ(s.call("GET", "/v1/auth/whoami", nullptr, secrets[6]).status, 200);
}

TEST(AuthLifecycleTest, NoAuthIsOpenAndSaysSoLoudly) {
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  ServerProcess s(DKB_BINARY, {"--embed-model", fixture_path("models/tiny-bert-F16.gguf"), "--no-warmup"});
  ASSERT_TRUE(s.ready()) << s.output();
  EXPECT_NE(s.output().find("WARNING: --no-auth: authentication is OFF"), std::string::npos) << s.output();
  EXPECT_EQ(http_request(s.port(), "GET", "/v1/models").status, 200);
  EXPECT_EQ(http_request(s.port(), "POST", "/v1/kb", R"({"name":"open"})").status, 201);
  EXPECT_EQ(http_request(s.port(), "GET", "/v1/admin/users").status, 501);
  EXPECT_EQ(http_request(s.port(), "POST", "/v1/auth/login", R"({"username":"a","password":"b"})").status, 501);
}

}  // namespace
}  // namespace dkb::test
