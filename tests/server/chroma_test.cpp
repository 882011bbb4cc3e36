// End-to-end: the Chroma-compatible API (/api/v2, /api/v1) of the real deepkb binary serving
// tiny-bert as its embedding model, with a fresh data directory.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/http_client.h"

namespace dkb::test {
namespace {

using nlohmann::json;
const std::map<std::string, std::string> kKey = {{"Authorization", "Bearer sk-test"}};
const std::string kDb = "/api/v2/tenants/default_tenant/databases/default_database";

class ChromaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fixture_exists("models/tiny-bert-F16.gguf")) return;
    server_ =
        new ServerProcess(DKB_BINARY, {"--embed-model", fixture_path("models/tiny-bert-F16.gguf"),
                                       "--api-key", "sk-test", "--threads", "2"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
    ASSERT_TRUE(server_ && server_->ready()) << (server_ ? server_->output() : "");
  }
  HttpResult req(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::map<std::string, std::string>& h = kKey) {
    return http_request(server_->port(), method, path, body, h);
  }
  HttpResult post(const std::string& path, const json& body) {
    return req("POST", path, body.dump());
  }
  HttpResult get(const std::string& path) { return req("GET", path); }
  // Creates a collection and returns its id.
  std::string create(const std::string& name, const json& extra = json::object()) {
    json body = extra;
    body["name"] = name;
    auto r = post(kDb + "/collections", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body).value("id", "");
  }
  std::string records(const std::string& id, const char* op) {
    return kDb + "/collections/" + id + "/" + op;
  }
  // Adds a=[1,0], b=[0,1], c=[0.5,0.5] with metadata and documents.
  void add_abc(const std::string& id) {
    auto r =
        post(records(id, "add"),
             {{"ids", {"a", "b", "c"}},
              {"embeddings", {{1, 0}, {0, 1}, {0.5, 0.5}}},
              {"metadatas",
               {{{"kind", "x"}, {"n", 1}}, {{"kind", "y"}, {"n", 2}}, {{"kind", "x"}, {"n", 3}}}},
              {"documents", {"apple pie", "banana bread", "cherry tart"}}});
    ASSERT_EQ(r.status, 201) << r.body;
  }
  static ServerProcess* server_;
};
ServerProcess* ChromaTest::server_ = nullptr;

void expect_chroma_error(const HttpResult& r, int status, const std::string& kind) {
  EXPECT_EQ(r.status, status) << r.body;
  auto j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j.value("error", ""), kind) << r.body;
  EXPECT_TRUE(j.contains("message") && j["message"].is_string()) << r.body;
}

TEST_F(ChromaTest, SystemTenantAndDatabase) {
  auto hb = req("GET", "/api/v2/heartbeat", "", {});
  ASSERT_EQ(hb.status, 200);
  EXPECT_GT(json::parse(hb.body)["nanosecond heartbeat"].get<int64_t>(), 0);
  EXPECT_EQ(req("GET", "/api/v1/heartbeat", "", {}).status, 200);
  EXPECT_TRUE(json::parse(req("GET", "/api/v2/version", "", {}).body).is_string());
  auto pf = json::parse(req("GET", "/api/v2/pre-flight-checks", "", {}).body);
  EXPECT_GT(pf["max_batch_size"].get<int>(), 0);
  EXPECT_EQ(pf["supports_base64_encoding"], false);
  expect_chroma_error(req("GET", kDb + "/collections", "", {}), 401, "AuthenticationError");
  EXPECT_EQ(req("GET", kDb + "/collections", "", {{"x-chroma-token", "sk-test"}}).status, 200);
  EXPECT_EQ(json::parse(get("/api/v2/auth/identity").body)["tenant"], "default_tenant");
  EXPECT_EQ(json::parse(get("/api/v2/tenants/default_tenant").body)["name"], "default_tenant");
  EXPECT_EQ(json::parse(get(kDb).body)["name"], "default_database");
  expect_chroma_error(get("/api/v2/tenants/other/databases/default_database/collections"), 404,
                      "NotFoundError");
  expect_chroma_error(get("/api/v2/tenants/default_tenant/databases/other/collections"), 404,
                      "NotFoundError");
}

TEST_F(ChromaTest, CollectionLifecycle) {
  auto r = post(kDb + "/collections", {{"name", "lifecycle"}, {"metadata", {{"team", "infra"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto c = json::parse(r.body);
  std::string id = c["id"];
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(c["name"], "lifecycle");
  EXPECT_EQ(c["metadata"], json({{"team", "infra"}}));  // the reserved id key stays hidden
  EXPECT_EQ(c["tenant"], "default_tenant");
  EXPECT_TRUE(c["configuration_json"].is_object());
  expect_chroma_error(post(kDb + "/collections", {{"name", "lifecycle"}}), 409,
                      "UniqueConstraintError");
  auto again = post(kDb + "/collections", {{"name", "lifecycle"}, {"get_or_create", true}});
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["id"], id);
  EXPECT_EQ(json::parse(get(kDb + "/collections/lifecycle").body)["id"], id);
  EXPECT_EQ(json::parse(get(kDb + "/collections/" + id).body)["name"], "lifecycle");
  EXPECT_EQ(json::parse(get(kDb + "/collections/by-id/" + id).body)["name"], "lifecycle");
  auto list = json::parse(get(kDb + "/collections").body);
  bool listed = false;
  for (const auto& x : list) listed = listed || x["id"] == id;
  EXPECT_TRUE(listed);
  EXPECT_GE(json::parse(get(kDb + "/collections_count").body).get<int>(), 1);
  EXPECT_GE(json::parse(get("/api/v1/count_collections").body).get<int>(), 1);
  EXPECT_EQ(json::parse(get("/api/v1/collections/lifecycle").body)["id"], id);

  auto mod = req("PUT", kDb + "/collections/" + id,
                 json({{"new_name", "renamed"}, {"new_metadata", {{"team", "ml"}}}}).dump());
  ASSERT_EQ(mod.status, 200) << mod.body;
  auto renamed = json::parse(get(kDb + "/collections/renamed").body);
  EXPECT_EQ(renamed["id"], id);
  EXPECT_EQ(renamed["metadata"], json({{"team", "ml"}}));
  expect_chroma_error(get(kDb + "/collections/lifecycle"), 404, "NotFoundError");
  // The same collection is a native knowledge base.
  auto native = get("/v1/kb/renamed");
  ASSERT_EQ(native.status, 200);
  EXPECT_EQ(json::parse(native.body)["chroma_id"], id);
  EXPECT_EQ(json::parse(native.body)["metadata"], json({{"team", "ml"}}));

  EXPECT_EQ(req("DELETE", kDb + "/collections/renamed").status, 200);
  expect_chroma_error(get(kDb + "/collections/" + id), 404, "NotFoundError");
  expect_chroma_error(req("DELETE", kDb + "/collections/renamed"), 404, "NotFoundError");
  expect_chroma_error(post(kDb + "/collections", {{"name", "x"}}), 400, "InvalidArgumentError");
  expect_chroma_error(post(kDb + "/collections", {{"name", "bad name!"}}), 400,
                      "InvalidArgumentError");
  expect_chroma_error(req("POST", kDb + "/collections", "{not json"), 400, "InvalidArgumentError");
  expect_chroma_error(
      post(kDb + "/collections", {{"name", "spaced"}, {"metadata", {{"hnsw:space", "manhattan"}}}}),
      400, "InvalidArgumentError");
}

TEST_F(ChromaTest, AddGetUpdateUpsertDeleteCount) {
  std::string id = create("records");
  add_abc(id);
  EXPECT_EQ(json::parse(get(records(id, "count")).body), 3);
  // Bad input changes nothing.
  expect_chroma_error(post(records(id, "add"), {{"ids", {"a"}}, {"embeddings", {{1, 1}}}}), 409,
                      "UniqueConstraintError");
  expect_chroma_error(
      post(records(id, "add"), {{"ids", {"d", "d"}}, {"embeddings", {{1, 1}, {1, 1}}}}), 400,
      "InvalidArgumentError");
  expect_chroma_error(post(records(id, "add"), {{"ids", {"d"}}, {"embeddings", {{1, 1, 1}}}}), 400,
                      "InvalidArgumentError");
  expect_chroma_error(post(records(id, "add"), {{"ids", {"d", "e"}}, {"embeddings", {{1, 1}}}}),
                      400, "InvalidArgumentError");
  expect_chroma_error(post(records(id, "add"), {{"ids", {""}}, {"embeddings", {{1, 1}}}}), 400,
                      "InvalidArgumentError");
  expect_chroma_error(
      post(records(id, "add"),
           {{"ids", {"d"}}, {"embeddings", {{1, 1}}}, {"metadatas", {{{"o", {{"x", 1}}}}}}}),
      400, "InvalidArgumentError");
  expect_chroma_error(req("POST", records(id, "add"), "[1,2"), 400, "InvalidArgumentError");
  expect_chroma_error(req("POST", records(id, "add"), R"({"ids":["d"],"embeddings":[[1e400, 1]]})"),
                      400, "InvalidArgumentError");
  expect_chroma_error(post(records("00000000-0000-4000-8000-000000000000", "add"),
                           {{"ids", {"d"}}, {"embeddings", {{1, 1}}}}),
                      404, "NotFoundError");
  EXPECT_EQ(json::parse(get(records(id, "count")).body), 3);

  auto g = json::parse(post(records(id, "get"),
                            {{"ids", {"b"}}, {"include", {"embeddings", "documents", "metadatas"}}})
                           .body);
  EXPECT_EQ(g["ids"], json({"b"}));
  EXPECT_EQ(g["embeddings"], json({{0.0, 1.0}}));
  EXPECT_EQ(g["documents"], json({"banana bread"}));
  EXPECT_EQ(g["metadatas"][0], json({{"kind", "y"}, {"n", 2}}));
  auto all = json::parse(post(records(id, "get"), json::object()).body);
  EXPECT_EQ(all["ids"], json({"a", "b", "c"}));
  EXPECT_TRUE(all["embeddings"].is_null());
  auto w = json::parse(post(records(id, "get"), {{"where", {{"kind", "x"}}}}).body);
  EXPECT_EQ(w["ids"], json({"a", "c"}));
  auto wd =
      json::parse(post(records(id, "get"), {{"where_document", {{"$contains", "bread"}}}}).body);
  EXPECT_EQ(wd["ids"], json({"b"}));
  auto page = json::parse(post(records(id, "get"), {{"limit", 1}, {"offset", 1}}).body);
  EXPECT_EQ(page["ids"], json({"b"}));
  auto gt = json::parse(
      post(records(id, "get"),
           {{"where", {{"$and", {{{"n", {{"$gte", 2}}}}, {{"kind", {{"$in", {"x", "y"}}}}}}}}}})
          .body);
  EXPECT_EQ(gt["ids"], json({"b", "c"}));
  expect_chroma_error(post(records(id, "get"), {{"where", {{"n", {{"$bogus", 1}}}}}}), 400,
                      "InvalidArgumentError");
  expect_chroma_error(post(records(id, "get"), {{"where_document", {{"$regex", "("}}}}), 400,
                      "InvalidArgumentError");
  expect_chroma_error(post(records(id, "get"), {{"include", {"distances"}}}), 400,
                      "InvalidArgumentError");

  // update merges metadata (null removes a key), skips unknown ids.
  ASSERT_EQ(
      post(records(id, "update"), {{"ids", {"a", "zzz"}},
                                   {"metadatas", {{{"n", nullptr}, {"extra", true}}, nullptr}},
                                   {"documents", {"apple crumble", nullptr}}})
          .status,
      200);
  auto ua =
      json::parse(post(records(id, "get"),
                       {{"ids", {"a"}}, {"include", {"metadatas", "documents", "embeddings"}}})
                      .body);
  EXPECT_EQ(ua["metadatas"][0], json({{"kind", "x"}, {"extra", true}}));
  EXPECT_EQ(ua["documents"][0], "apple crumble");
  EXPECT_EQ(ua["embeddings"][0], json({1.0, 0.0}));
  EXPECT_EQ(json::parse(get(records(id, "count")).body), 3);

  // upsert: replaces b's embedding, adds d.
  ASSERT_EQ(post(records(id, "upsert"), {{"ids", {"b", "d"}},
                                         {"embeddings", {{0, 2}, {3, 3}}},
                                         {"metadatas", {{{"kind", "z"}}, {{"kind", "z"}}}}})
                .status,
            200);
  EXPECT_EQ(json::parse(get(records(id, "count")).body), 4);
  auto ub = json::parse(post(records(id, "get"),
                             {{"where", {{"kind", "z"}}}, {"include", {"embeddings", "documents"}}})
                            .body);
  EXPECT_EQ(ub["ids"], json({"b", "d"}));
  EXPECT_EQ(ub["embeddings"], json({{0.0, 2.0}, {3.0, 3.0}}));
  EXPECT_EQ(ub["documents"], json({"banana bread", nullptr}));

  // delete by ids, then by where.
  auto d1 = post(records(id, "delete"), {{"ids", {"d", "nope"}}});
  ASSERT_EQ(d1.status, 200) << d1.body;
  EXPECT_EQ(json::parse(d1.body)["deleted"], 1);
  auto d2 = post(records(id, "delete"), {{"where", {{"kind", "z"}}}});
  EXPECT_EQ(json::parse(d2.body)["deleted"], 1);
  expect_chroma_error(post(records(id, "delete"), json::object()), 400, "InvalidArgumentError");
  EXPECT_EQ(json::parse(get(records(id, "count")).body), 2);
  EXPECT_EQ(json::parse(post(records(id, "get"), json::object()).body)["ids"], json({"a", "c"}));
}

// Distances of a=[1,0], b=[0,1], c=[0.5,0.5] from [1,0] in each space.
TEST_F(ChromaTest, QueryDistancesPerSpace) {
  struct Case {
    std::string name;
    json extra;
    std::vector<double> dist;  // a, c, b
  } cases[] = {
      {"space-l2", json::object(), {0.0, 0.5, 2.0}},
      {"space-cosine",
       {{"metadata", {{"hnsw:space", "cosine"}}}},
       {0.0, 1.0 - std::sqrt(0.5), 1.0}},
      {"space-ip", {{"configuration", {{"hnsw", {{"space", "ip"}}}}}}, {0.0, 0.5, 1.0}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string id = create(c.name, c.extra);
    add_abc(id);
    auto r = post(records(id, "query"),
                  {{"query_embeddings", {{1, 0}}},
                   {"n_results", 3},
                   {"include", {"distances", "documents", "metadatas", "embeddings"}}});
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["ids"], json({{"a", "c", "b"}}));
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(j["distances"][0][i].get<double>(), c.dist[i], 1e-5);
    EXPECT_EQ(j["documents"][0][0], "apple pie");
    EXPECT_EQ(j["metadatas"][0][1]["n"], 3);
    EXPECT_EQ(j["embeddings"][0][2], json({0.0, 1.0}));
  }
  std::string id = json::parse(get(kDb + "/collections/space-l2").body)["id"];
  // Two queries, a filter, n_results, the default include, and an id restriction.
  auto r = json::parse(
      post(records(id, "query"),
           {{"query_embeddings", {{1, 0}, {0, 1}}}, {"n_results", 1}, {"where", {{"kind", "x"}}}})
          .body);
  EXPECT_EQ(r["ids"], json({{"a"}, {"c"}}));
  EXPECT_TRUE(r["embeddings"].is_null());
  EXPECT_TRUE(r["distances"].is_array());
  auto restricted = json::parse(
      post(records(id, "query"), {{"query_embeddings", {{1, 0}}}, {"ids", {"b", "c"}}}).body);
  EXPECT_EQ(restricted["ids"], json::array({json::array({"c", "b"})}));
  auto wd =
      json::parse(post(records(id, "query"), {{"query_embeddings", {{1, 0}}},
                                              {"where_document", {{"$not_contains", "apple"}}}})
                      .body);
  EXPECT_EQ(wd["ids"], json::array({json::array({"c", "b"})}));
  expect_chroma_error(post(records(id, "query"), {{"query_embeddings", {{1, 0, 0}}}}), 400,
                      "InvalidArgumentError");
  expect_chroma_error(
      post(records(id, "query"), {{"query_embeddings", {{1, 0}}}, {"where", {{"$and", 1}}}}), 400,
      "InvalidArgumentError");
  expect_chroma_error(post(records(id, "query"), {{"n_results", 2}}), 400, "InvalidArgumentError");
  // An empty collection answers with empty lists.
  std::string empty = create("space-empty");
  auto e = json::parse(post(records(empty, "query"), {{"query_embeddings", {{1, 0}}}}).body);
  EXPECT_EQ(e["ids"], json({json::array()}));
}

TEST_F(ChromaTest, ServerEmbedsDocumentsWithoutEmbeddings) {
  std::string id = create("server-embedded");
  auto r = post(records(id, "add"),
                {{"ids", {"fr", "de", "jp"}},
                 {"documents",
                  {"Paris is the capital of France", "Berlin is the capital of Germany",
                   "Sushi is a Japanese dish"}}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto c = json::parse(get(kDb + "/collections/" + id).body);
  EXPECT_GT(c["dimension"].get<int>(), 0);
  auto q =
      post(records(id, "query"), {{"query_texts", {"Sushi is a Japanese dish"}}, {"n_results", 3}});
  ASSERT_EQ(q.status, 200) << q.body;
  auto j = json::parse(q.body);
  EXPECT_EQ(j["ids"][0][0], "jp");
  EXPECT_NEAR(j["distances"][0][0].get<double>(), 0.0, 1e-3);
  EXPECT_LE(j["distances"][0][0].get<double>(), j["distances"][0][1].get<double>());
  // A record with neither embedding nor document is refused; the native API sees the records.
  expect_chroma_error(post(records(id, "add"), {{"ids", {"x"}}}), 400, "InvalidArgumentError");
  auto s = post("/v1/kb/server-embedded/search", {{"query", "Berlin"}, {"mode", "bm25"}});
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(json::parse(s.body)["hits"][0]["document"], "de");
}

TEST_F(ChromaTest, V1PathsMethodsAndAuthOnRecords) {
  std::string id = create("v1-records");
  auto add =
      post("/api/v1/collections/" + id + "/add", {{"ids", {"p"}}, {"embeddings", {{0.25, 0.75}}}});
  ASSERT_EQ(add.status, 201) << add.body;
  auto q = json::parse(
      post("/api/v1/collections/" + id + "/query", {{"query_embeddings", {{0.25, 0.75}}}}).body);
  EXPECT_EQ(q["ids"], json::array({json::array({"p"})}));
  EXPECT_EQ(json::parse(get("/api/v1/collections/" + id + "/count").body), 1);
  EXPECT_EQ(req("GET", records(id, "add")).status, 405);
  EXPECT_EQ(req("POST", records(id, "count")).status, 405);
  expect_chroma_error(req("POST", records(id, "add"), "{}", {{"Authorization", "Bearer wrong"}}),
                      401, "AuthenticationError");
  expect_chroma_error(post(records(id, "frobnicate"), json::object()), 404, "NotFoundError");
  // Updating a document without an embedding keeps the record's (2-dim) vector: the server's
  // model has another dimension.
  ASSERT_EQ(post(records(id, "update"), {{"ids", {"p"}}, {"documents", {"new text"}}}).status, 200);
  auto g = json::parse(post(records(id, "get"), {{"include", {"documents", "embeddings"}}}).body);
  EXPECT_EQ(g["documents"][0], "new text");
  EXPECT_EQ(g["embeddings"][0], json({0.25, 0.75}));
  // A new record without an embedding gets the server's, of the wrong dimension here.
  expect_chroma_error(post(records(id, "upsert"), {{"ids", {"q"}}, {"documents", {"text"}}}), 400,
                      "InvalidArgumentError");
  EXPECT_EQ(json::parse(get(records(id, "count")).body), 1);
  // A renamed collection keeps its records and answers queries under the same id.
  ASSERT_EQ(req("PUT", kDb + "/collections/" + id, json({{"new_name", "v1-moved"}}).dump()).status, 200);
  auto moved = json::parse(post(records(id, "query"), {{"query_embeddings", {{0.25, 0.75}}}}).body);
  EXPECT_EQ(moved["ids"], json::array({json::array({"p"})}));
  EXPECT_EQ(json::parse(get(kDb + "/collections/v1-moved").body)["id"], id);
}

}  // namespace
}  // namespace dkb::test
