// Retrieval never crosses knowledge bases a caller may not read: a viewer of alpha asks for
// beta's content through every retrieval path (native search in each mode, Chroma query,
// RAG ask, chat with a knowledge base, listings) and never receives a chunk of beta.
#include "auth_server.h"

namespace dkb::test {
namespace {

const char* kChroma = "/api/v2/tenants/default_tenant/databases/default_database/collections";
const char* kBetaSecret = "zeppelin";

TEST(AuthIsolationTest, ViewerOfAlphaNeverReceivesBeta) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  AuthServer s({"--rate-limit", "0"});
  ASSERT_TRUE(s.server->ready()) << s.server->output();
  const std::string admin = s.login("admin", kAdminPassword);
  ASSERT_EQ(s.call("POST", "/v1/kb", {{"name", "alpha"}}, admin).status, 201);
  ASSERT_EQ(s.call("POST", "/v1/kb", {{"name", "beta"}}, admin).status, 201);
  ASSERT_EQ(s.call("POST", "/v1/kb/alpha/documents",
                   {{"documents", {{{"id", "a1"}, {"text", "The alpha secret is marmalade. Alpha is open."}}}}}, admin).status, 200);
  ASSERT_EQ(s.call("POST", "/v1/kb/beta/documents",
                   {{"documents", {{{"id", "b1"}, {"text", std::string("The beta secret is ") + kBetaSecret + ". Beta is closed."}}}}}, admin).status, 200);
  ASSERT_EQ(s.call("POST", "/v1/admin/users", {{"username", "vic"}, {"password", "vic-password"}}, admin).status, 201);
  ASSERT_EQ(s.call("POST", "/v1/admin/grants", {{"user", "vic"}, {"kb", "alpha"}, {"role", "viewer"}}, admin).status, 200);
  const std::string vic = s.login("vic", "vic-password");
  ASSERT_FALSE(vic.empty());
  // The admin does see beta's secret: the retrieval paths below do work.
  auto admin_hit = s.call("POST", "/v1/kb/beta/search", {{"query", "beta secret"}, {"mode", "bm25"}}, admin);
  ASSERT_EQ(admin_hit.status, 200);
  ASSERT_NE(admin_hit.body.find(kBetaSecret), std::string::npos);

  auto no_beta = [&](const HttpResult& r, const std::string& what) {
    EXPECT_EQ(r.body.find(kBetaSecret), std::string::npos) << what << ": " << r.body.substr(0, 400);
  };
  // Direct access to beta is refused on every path.
  for (const char* mode : {"hybrid", "vector", "bm25"}) {
    auto r = s.call("POST", "/v1/kb/beta/search", {{"query", "beta secret zeppelin"}, {"mode", mode}}, vic);
    EXPECT_EQ(r.status, 403) << mode;
    no_beta(r, std::string("search beta ") + mode);
    r = s.call("POST", "/v1/kb/alpha/search", {{"query", "beta secret zeppelin"}, {"mode", mode}, {"top_k", 50}}, vic);
    EXPECT_EQ(r.status, 200) << mode;
    no_beta(r, std::string("search alpha ") + mode);
  }
  auto r = s.call("POST", "/v1/kb/beta/ask", {{"question", "What is the beta secret?"}, {"max_tokens", 4}}, vic);
  EXPECT_EQ(r.status, 403);
  no_beta(r, "ask beta");
  r = s.call("POST", "/v1/kb/alpha/ask", {{"question", "What is the beta secret?"}, {"max_tokens", 4}, {"return_prompt", true}}, vic);
  EXPECT_EQ(r.status, 200);
  no_beta(r, "ask alpha");
  const json msgs = json::array({{{"role", "user"}, {"content", "What is the beta secret?"}}});
  r = s.call("POST", "/v1/chat/completions", {{"messages", msgs}, {"max_tokens", 4}, {"knowledge_base", {{"name", "beta"}}}}, vic);
  EXPECT_EQ(r.status, 403);
  no_beta(r, "chat with beta");
  r = s.call("POST", "/v1/chat/completions", {{"messages", msgs}, {"max_tokens", 4}, {"knowledge_base", {{"name", "alpha"}, {"top_k", 20}}}}, vic);
  EXPECT_EQ(r.status, 200);
  no_beta(r, "chat with alpha");
  r = s.call("POST", std::string(kChroma) + "/beta/query", {{"query_texts", {"beta secret"}}, {"n_results", 5}}, vic);
  EXPECT_EQ(r.status, 403);
  no_beta(r, "chroma query beta");
  r = s.call("POST", std::string(kChroma) + "/beta/get", json::object(), vic);
  EXPECT_EQ(r.status, 403);
  no_beta(r, "chroma get beta");
  r = s.call("POST", std::string(kChroma) + "/alpha/query", {{"query_texts", {"beta secret zeppelin"}}, {"n_results", 10}}, vic);
  EXPECT_EQ(r.status, 200);
  no_beta(r, "chroma query alpha");
  // Chroma addresses collections by id too: beta's id does not help.
  auto beta_coll = s.call("GET", std::string(kChroma) + "/beta", nullptr, admin);
  ASSERT_EQ(beta_coll.status, 200);
  std::string beta_id = json::parse(beta_coll.body)["id"];
  r = s.call("POST", std::string(kChroma) + "/" + beta_id + "/query", {{"query_texts", {"beta"}}, {"n_results", 5}}, vic);
  EXPECT_EQ(r.status, 403);
  no_beta(r, "chroma query beta by id");

  // Listings show only what the viewer may read.
  r = s.call("GET", "/v1/kb", nullptr, vic);
  ASSERT_EQ(r.status, 200);
  json names = json::array();
  const json listed = json::parse(r.body);
  for (const auto& c : listed["data"]) names.push_back(c["name"]);
  EXPECT_EQ(names, json::array({"alpha"}));
  r = s.call("GET", kChroma, nullptr, vic);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(json::parse(r.body).size(), 1u);
  EXPECT_EQ(json::parse(r.body)[0]["name"], "alpha");
  EXPECT_EQ(json::parse(s.call("GET", std::string(kChroma) + "_count", nullptr, vic).body), 1);
  EXPECT_EQ(json::parse(s.call("GET", std::string(kChroma) + "_count", nullptr, admin).body), 2);

  // Revoking the role takes effect on the next request.
  ASSERT_EQ(s.call("DELETE", "/v1/admin/grants?user=vic&kb=alpha", nullptr, admin).status, 200);
  EXPECT_EQ(s.call("POST", "/v1/kb/alpha/search", {{"query", "alpha"}}, vic).status, 403);
  EXPECT_EQ(json::parse(s.call("GET", "/v1/kb", nullptr, vic).body)["data"].size(), 0u);
  // Deleting a base drops its members: a new base of the same name starts closed.
  ASSERT_EQ(s.call("POST", "/v1/admin/grants", {{"user", "vic"}, {"kb", "beta"}, {"role", "viewer"}}, admin).status, 200);
  ASSERT_EQ(s.call("DELETE", "/v1/kb/beta", nullptr, admin).status, 200);
  ASSERT_EQ(s.call("POST", "/v1/kb", {{"name", "beta"}}, admin).status, 201);
  EXPECT_EQ(s.call("GET", "/v1/kb/beta", nullptr, vic).status, 403);
}

}  // namespace
}  // namespace dkb::test
