// End-to-end: the real deepkb binary serving stories260K (and tiny-bert for embeddings) on
// 127.0.0.1, driven over HTTP.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/http_client.h"

namespace dkb::test {
namespace {

using nlohmann::json;
const std::map<std::string, std::string> kAuth = {{"Authorization", "Bearer sk-test"}};

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fixture_exists("models/stories260K.gguf") || !fixture_exists("models/tiny-bert-F16.gguf")) return;
    server_ = new ServerProcess(DKB_BINARY, {"-m", fixture_path("models/stories260K.gguf"),
                                             "--embed-model", fixture_path("models/tiny-bert-F16.gguf"),
                                             "--alias", "deepseek-chat", "--api-key", "sk-test",
                                             "--ctx-size", "512", "--prompt-limit", "200",
                                             "--threads", "2"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
    DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
    ASSERT_TRUE(server_ && server_->ready()) << (server_ ? server_->output() : "");
  }
  HttpResult post(const std::string& path, const json& body,
                  const std::map<std::string, std::string>& h = kAuth) {
    return http_request(server_->port(), "POST", path, body.dump(), h);
  }
  HttpResult get(const std::string& path, const std::map<std::string, std::string>& h = kAuth) {
    return http_request(server_->port(), "GET", path, "", h);
  }
  static ServerProcess* server_;
};
ServerProcess* ServerTest::server_ = nullptr;

std::string greedy_reference(const char* prompt) {
  auto ref = json::parse(read_file(fixture_path("reference/stories260K.json")));
  for (const auto& c : ref["cases"]) {
    if (c["prompt"] == prompt) return c["greedy_text"];
  }
  return "";
}

TEST_F(ServerTest, HealthAndReadyNeedNoKey) {
  EXPECT_EQ(get("/health", {}).status, 200);
  auto r = get("/ready", {});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["status"], "ready");
}

TEST_F(ServerTest, CompletionsMatchReferenceGreedyText) {
  auto r = post("/v1/completions", {{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 32}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["choices"][0]["text"], greedy_reference("Once upon a time"));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], 32);
  EXPECT_EQ(j["object"], "text_completion");
}

TEST_F(ServerTest, PrefixCacheIsReportedOnRepeat) {
  json body = {{"prompt", "Lily and Ben went to the park. They saw a"}, {"temperature", 0}, {"max_tokens", 4}};
  ASSERT_EQ(post("/v1/completions", body).status, 200);
  body["max_tokens"] = 5;  // a different request (not a response-cache hit) with the same prompt
  auto r = post("/v1/completions", body);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.count("x-cache"), 0u);
  auto u = json::parse(r.body)["usage"];
  EXPECT_GT(u["prompt_cache_hit_tokens"].get<int>(), 5) << u.dump();
  EXPECT_EQ(u["prompt_cache_hit_tokens"].get<int>() + u["prompt_cache_miss_tokens"].get<int>(),
            u["prompt_tokens"].get<int>());
}

TEST_F(ServerTest, ChatCompletionNonStreaming) {
  auto r = post("/v1/chat/completions",
                {{"model", "deepseek-chat"},
                 {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                 {"temperature", 0}, {"max_tokens", 8}, {"seed", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "deepseek-chat");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(j["choices"][0]["message"]["content"].is_string());
  EXPECT_EQ(j["usage"]["completion_tokens"], 8);
}

TEST_F(ServerTest, ChatCompletionStreamsSseWithUsage) {
  auto r = post("/v1/chat/completions",
                {{"messages", {{{"role", "user"}, {"content", "The sun was"}}}},
                 {"stream", true}, {"stream_options", {{"include_usage", true}}},
                 {"temperature", 0}, {"max_tokens", 6}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  std::vector<json> events;
  size_t pos = 0;
  bool done = false;
  while ((pos = r.body.find("data: ", pos)) != std::string::npos) {
    size_t end = r.body.find("\n\n", pos);
    std::string data = r.body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    events.push_back(json::parse(data));
  }
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(events.back()["choices"].size(), 0u);
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], 6);
  EXPECT_EQ(events[events.size() - 2]["choices"][0]["finish_reason"], "length");
}

TEST_F(ServerTest, SimpleChatApi) {
  auto r = post("/v1/chat", {{"prompt", "Once upon a time"}, {"temperature", 0.7}, {"max_tokens", 10}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_TRUE(j["choices"][0]["text"].is_string());
  EXPECT_EQ(j["usage"]["completion_tokens"].get<int>() <= 10, true);
  auto too_long = post("/v1/chat", {{"prompt", std::string(300, 'a')}});
  EXPECT_EQ(too_long.status, 400);
  EXPECT_NE(too_long.body.find("300"), std::string::npos) << too_long.body;
  EXPECT_NE(too_long.body.find("200"), std::string::npos) << too_long.body;
  EXPECT_EQ(post("/v1/chat", {{"prompt", "hi"}, {"temperature", 1.5}}).status, 400);
  // logit_bias ids are checked against the vocabulary on every route (Scheduler::submit).
  auto bias = post("/v1/chat", {{"prompt", "hi"}, {"logit_bias", {{"999999", 5}}}});
  EXPECT_EQ(bias.status, 400) << bias.body;
  EXPECT_NE(bias.body.find("999999"), std::string::npos) << bias.body;
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                          {"logit_bias", {{"512", 1}}}, {"stream", true}}).status, 400);
}

TEST_F(ServerTest, AuthIsRequired) {
  EXPECT_EQ(post("/v1/chat", {{"prompt", "hi"}}, {}).status, 401);
  EXPECT_EQ(post("/v1/chat", {{"prompt", "hi"}}, {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(post("/v1/chat", {{"prompt", "hi"}, {"max_tokens", 1}}, {{"x-api-key", "sk-test"}}).status, 200);
  EXPECT_EQ(get("/v1/models", {}).status, 401);
  EXPECT_EQ(get("/metrics", {}).status, 401);
}

TEST_F(ServerTest, MalformedRequestsGetClearErrors) {
  auto bad_json = http_request(server_->port(), "POST", "/v1/chat/completions", "{not json", kAuth);
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_NE(json::parse(bad_json.body)["error"]["message"].get<std::string>().find("malformed JSON"), std::string::npos);
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", "hi"}}).status, 400);
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", {{{"role", "wizard"}, {"content", "x"}}}}}).status, 400);
  EXPECT_EQ(post("/v1/chat/completions", {{"model", "gpt-9"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}}).status, 404);
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"top_p", "high"}}).status, 400);
  EXPECT_EQ(post("/v1/completions", {{"prompt", {1, 99999}}}).status, 400);
  EXPECT_EQ(get("/v1/nothing").status, 404);
  EXPECT_EQ(get("/v1/chat/completions").status, 405);
}

TEST_F(ServerTest, PromptBeyondContextIs400WithBothNumbers) {
  std::string prompt;
  for (int i = 0; i < 100; ++i) prompt += "Lily and Ben went to the park. ";
  auto r = post("/v1/completions", {{"prompt", prompt}, {"max_tokens", 4}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("512"), std::string::npos) << r.body;
}

TEST_F(ServerTest, ModelsListAliases) {
  auto r = get("/v1/models");
  ASSERT_EQ(r.status, 200);
  auto j = json::parse(r.body);
  std::vector<std::string> ids;
  for (const auto& m : j["data"]) ids.push_back(m["id"]);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "deepseek-chat"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "tiny-bert-F16"), ids.end());
}

TEST_F(ServerTest, EmbeddingsFloatAndBase64) {
  auto r = post("/v1/embeddings", {{"input", {"What is the capital of France?", "库"}}, {"model", "tiny-bert-F16"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["data"].size(), 2u);
  auto v = j["data"][0]["embedding"].get<std::vector<float>>();
  EXPECT_EQ(v.size(), 128u);
  double norm = 0;
  for (float x : v) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-4);
  auto b = post("/v1/embeddings", {{"input", "hello"}, {"encoding_format", "base64"}});
  ASSERT_EQ(b.status, 200);
  // 128 floats = 512 bytes → 4 * ceil(512 / 3) base64 characters.
  EXPECT_EQ(json::parse(b.body)["data"][0]["embedding"].get<std::string>().size(), 684u);
  EXPECT_EQ(post("/v1/embeddings", {{"input", 5}}).status, 400);
}

TEST_F(ServerTest, OllamaGenerateAndChat) {
  auto g = post("/api/generate", {{"model", "stories260K"}, {"prompt", "Once upon a time"}, {"raw", true},
                                  {"stream", false}, {"options", {{"temperature", 0}, {"num_predict", 32}}}});
  ASSERT_EQ(g.status, 200) << g.body;
  auto gj = json::parse(g.body);
  EXPECT_EQ(gj["response"], greedy_reference("Once upon a time"));
  EXPECT_EQ(gj["done"], true);
  EXPECT_EQ(gj["eval_count"], 32);
  auto c = post("/api/chat", {{"model", "stories260K:latest"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                              {"options", {{"num_predict", 5}}}});
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(c.headers["content-type"], "application/x-ndjson");
  std::vector<json> lines;
  size_t start = 0, nl;
  while ((nl = c.body.find('\n', start)) != std::string::npos) {
    lines.push_back(json::parse(c.body.substr(start, nl - start)));
    start = nl + 1;
  }
  ASSERT_GE(lines.size(), 1u);
  EXPECT_EQ(lines.back()["done"], true);
  EXPECT_EQ(lines.back()["eval_count"].get<int>() <= 5, true);
  auto tags = get("/api/tags");
  ASSERT_EQ(tags.status, 200);
  EXPECT_EQ(json::parse(tags.body)["models"].size(), 2u);
  auto missing = post("/api/chat", {{"model", "nope"}, {"messages", json::array()}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(json::parse(missing.body)["error"].is_string());
}

TEST_F(ServerTest, MetricsExposePrometheusText) {
  ASSERT_EQ(post("/v1/completions", {{"prompt", "The sun was"}, {"max_tokens", 3}}).status, 200);
  auto r = get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("deepkb_requests_total{route=\"/v1/completions\",status=\"200\"}"), std::string::npos);
  EXPECT_NE(r.body.find("deepkb_time_to_first_token_seconds_bucket"), std::string::npos);
  EXPECT_NE(r.body.find("deepkb_kv_cache_usage_ratio{model=\"stories260K\"}"), std::string::npos);
  // --ctx-size 512 in pages of 16; nothing running between requests.
  EXPECT_NE(r.body.find("deepkb_kv_cache_pages_capacity{model=\"stories260K\"} 32\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("deepkb_kv_cache_pages_used{model=\"stories260K\"} 0\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("# TYPE deepkb_prefix_cache_hits_total counter"), std::string::npos);
  EXPECT_NE(r.body.find("deepkb_prefix_cache_hits_total{model=\"stories260K\"}"), std::string::npos);
}

TEST(ServerLifecycle, QueueFullIs503AndSigtermExitsZero) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  ServerProcess s(DKB_BINARY, {"-m", fixture_path("models/stories260K.gguf"), "--max-queue", "0",
                               "--no-warmup"});
  ASSERT_TRUE(s.ready()) << s.output();
  auto r = http_request(s.port(), "POST", "/v1/completions", R"({"prompt":"hi"})");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_EQ(s.terminate(), 0);
}

}  // namespace
}  // namespace dkb::test

namespace dkb::test {
namespace {

TEST_F(ServerTest, KnowledgeBaseIngestAndSearch) {
  auto created = post("/v1/kb", {{"name", "notes"}, {"metadata", {{"team", "infra"}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["dimension"], 128);
  EXPECT_EQ(post("/v1/kb", {{"name", "notes"}}).status, 409);
  json docs = {{"documents",
                {{{"id", "zh"}, {"text", "本地部署大模型。知识库可以检索文档。"}, {"metadata", {{"lang", "zh"}}}},
                 {{"id", "en"}, {"text", "# Setup\n\nThe Model runs on CPU with GGUF weights."},
                  {"format", "markdown"}, {"metadata", {{"lang", "en"}}}},
                 {{"id", "bad"}, {"text", "x"}, {"format", "pdfx"}}}}};
  auto added = post("/v1/kb/notes/documents", docs);
  ASSERT_EQ(added.status, 200) << added.body;
  auto results = json::parse(added.body)["results"];
  EXPECT_EQ(results[0]["status"], "inserted");
  EXPECT_EQ(results[2]["status"], "error");
  EXPECT_NE(results[2]["error"].get<std::string>().find("pdfx"), std::string::npos);
  // Re-adding unchanged content is a no-op.
  auto again = post("/v1/kb/notes/documents", {{"documents", {docs["documents"][0]}}});
  EXPECT_EQ(json::parse(again.body)["results"][0]["status"], "unchanged");

  // A two-character Chinese term and a one-character one, by BM25.
  auto s1 = post("/v1/kb/notes/search", {{"query", "模型"}, {"mode", "bm25"}});
  ASSERT_EQ(s1.status, 200) << s1.body;
  auto h1 = json::parse(s1.body)["hits"];
  ASSERT_GE(h1.size(), 1u);
  EXPECT_EQ(h1[0]["document"], "zh");
  auto s2 = post("/v1/kb/notes/search", {{"query", "库"}, {"mode", "bm25"}});
  EXPECT_EQ(json::parse(s2.body)["hits"][0]["document"], "zh");
  // English with case folding, hybrid (vectors from the embedding model), a metadata filter.
  auto s3 = post("/v1/kb/notes/search", {{"query", "model gguf"}, {"where", {{"lang", "en"}}}});
  ASSERT_EQ(s3.status, 200) << s3.body;
  auto j3 = json::parse(s3.body);
  EXPECT_TRUE(j3["vector_used"].get<bool>());
  for (const auto& h : j3["hits"]) EXPECT_EQ(h["document"], "en");
  EXPECT_EQ(j3["hits"][0]["heading"][0], "Setup");

  EXPECT_EQ(post("/v1/kb/notes/search", {{"query", ""}}).status, 400);
  EXPECT_EQ(post("/v1/kb/notes/search", {{"query", "x"}, {"where", {{"lang", {{"$bogus", 1}}}}}}).status, 400);
  EXPECT_EQ(post("/v1/kb/missing/search", {{"query", "x"}}).status, 404);
  EXPECT_EQ(http_request(server_->port(), "DELETE", "/v1/kb/notes/documents/zh", "", kAuth).status, 200);
  auto s4 = post("/v1/kb/notes/search", {{"query", "模型"}, {"mode", "bm25"}});
  for (const auto& h : json::parse(s4.body)["hits"]) EXPECT_NE(h["document"], "zh");
  EXPECT_EQ(get("/v1/kb/notes/documents").status, 200);
  EXPECT_EQ(http_request(server_->port(), "DELETE", "/v1/kb/notes", "", kAuth).status, 200);
  EXPECT_EQ(get("/v1/kb/notes").status, 404);
  EXPECT_EQ(get("/v1/kb", {}).status, 401);
}

TEST(ServerLifecycle, SecondServerOnSameDataDirFailsAtOnce) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  ServerProcess first(DKB_BINARY, {"-m", fixture_path("models/stories260K.gguf"), "--no-warmup"});
  ASSERT_TRUE(first.ready()) << first.output();
  ServerProcess second(DKB_BINARY, {"-m", fixture_path("models/stories260K.gguf"), "--no-warmup",
                                    "--data", first.data_dir()});
  EXPECT_FALSE(second.ready());
  EXPECT_EQ(second.terminate(), 1);
}

}  // namespace
}  // namespace dkb::test

namespace dkb::test {
namespace {

TEST_F(ServerTest, AskAnswersFromTheKnowledgeBaseWithCitations) {
  ASSERT_EQ(post("/v1/kb", {{"name", "stories"}}).status, 201);
  json docs = {{"documents",
                {{{"id", "lily"}, {"title", "Lily"}, {"text", "Lily loved to play outside in the park."}},
                 {{"id", "ben"}, {"title", "Ben"}, {"text", "Ben had a big red ball."}}}}};
  ASSERT_EQ(post("/v1/kb/stories/documents", docs).status, 200);
  auto r = post("/v1/kb/stories/ask", {{"question", "Where did Lily play?"}, {"search", "bm25"}, {"top_k", 1},
                                       {"temperature", 0}, {"max_tokens", 16}, {"return_prompt", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["sources_dropped"], 0) << j.dump();
  ASSERT_EQ(j["sources"].size(), 1u);
  EXPECT_EQ(j["sources"][0]["document"], "lily");
  EXPECT_EQ(j["sources"][0]["n"], 1);
  EXPECT_EQ(j["sources_used"], 1);
  const std::string prompt = j["prompt"];
  EXPECT_NE(prompt.find("[1] Lily\nLily loved to play outside in the park."), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<|im_start|>user\nWhere did Lily play?<|im_end|>"), std::string::npos);
  EXPECT_TRUE(j["answer"].is_string());
  EXPECT_EQ(j["usage"]["completion_tokens"].get<int>() <= 16, true);
  for (const auto& c : j["citations"]) EXPECT_EQ(c["n"], 1);

  auto streamed = post("/v1/kb/stories/ask", {{"question", "Where did Lily play?"}, {"search", "bm25"},
                                              {"stream", true}, {"max_tokens", 4}});
  ASSERT_EQ(streamed.status, 200);
  EXPECT_EQ(streamed.body.rfind("data: {\"sources\":", 0), 0u) << streamed.body.substr(0, 80);
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos);

  auto none = post("/v1/kb/stories/ask", {{"question", "zebra quantum"}, {"search", "bm25"}});
  ASSERT_EQ(none.status, 200);
  EXPECT_NE(json::parse(none.body)["answer"].get<std::string>().find("does not contain"), std::string::npos);
  EXPECT_EQ(post("/v1/kb/nope/ask", {{"question", "x"}}).status, 404);
  EXPECT_EQ(post("/v1/kb/stories/ask", {{"question", "  "}}).status, 400);
  EXPECT_EQ(post("/v1/kb/stories/ask", {{"question", "x"}, {"filter", {{"a", {{"$nope", 1}}}}}}).status, 400);
  EXPECT_EQ(post("/v1/kb/stories/ask", {{"question", "x"}, {"search", "magic"}}).status, 400);
}

}  // namespace
}  // namespace dkb::test

namespace dkb::test {
namespace {

TEST_F(ServerTest, ChatCompletionsWithKnowledgeBase) {
  ASSERT_EQ(post("/v1/kb", {{"name", "park"}}).status, 201);
  json docs = {{"documents", {{{"id", "p1"}, {"title", "Park"}, {"text", "Lily and Ben played in the park with a ball."}}}}};
  ASSERT_EQ(post("/v1/kb/park/documents", docs).status, 200);
  json kbf = {{"name", "park"}, {"top_k", 3}, {"search", "bm25"}};
  auto r = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Who played in the park?"}}}},
                                         {"knowledge_base", kbf}, {"temperature", 0}, {"max_tokens", 8}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["sources"].size(), 1u);
  EXPECT_EQ(j["sources"][0]["document"], "p1");
  EXPECT_TRUE(j["citations"].is_array());
  // Multi-turn: the question is rewritten into a standalone query before retrieval.
  auto multi = post("/v1/chat/completions",
                    {{"messages", {{{"role", "user"}, {"content", "Tell me about Lily."}},
                                   {{"role", "assistant"}, {"content", "Lily is a girl."}},
                                   {{"role", "user"}, {"content", "Where did she play with Ben?"}}}},
                     {"knowledge_base", kbf}, {"max_tokens", 4}, {"stream", true}});
  ASSERT_EQ(multi.status, 200) << multi.body;
  EXPECT_NE(multi.body.find("\"sources\":[{"), std::string::npos) << multi.body.substr(0, 300);
  EXPECT_NE(multi.body.find("\"citations\":"), std::string::npos);
  auto none = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "zebra quantum"}}}},
                                            {"knowledge_base", kbf}});
  ASSERT_EQ(none.status, 200);
  EXPECT_NE(json::parse(none.body)["choices"][0]["message"]["content"].get<std::string>().find("does not contain"),
            std::string::npos);
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "x"}}}},
                                          {"knowledge_base", {{"name", "nope"}}}}).status, 404);
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "x"}}}},
                                          {"knowledge_base", "park"}}).status, 400);
}

}  // namespace
}  // namespace dkb::test

namespace dkb::test {
namespace {

TEST_F(ServerTest, LogprobsForChatAndCompletions) {
  auto r = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                                         {"temperature", 0}, {"max_tokens", 5}, {"logprobs", true},
                                         {"top_logprobs", 3}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  auto content = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), j["usage"]["completion_tokens"].get<size_t>());
  for (const auto& t : content) {
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);
    EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["top_logprobs"][1]["logprob"].get<double>());
  }
  auto c = post("/v1/completions", {{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 4}, {"logprobs", 2}});
  ASSERT_EQ(c.status, 200) << c.body;
  auto lp = json::parse(c.body)["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"].size(), 4u);
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  std::string joined;
  for (const auto& t : lp["tokens"]) joined += t.get<std::string>();
  EXPECT_EQ(joined, json::parse(c.body)["choices"][0]["text"]);
  auto s = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "The sun was"}}}},
                                         {"max_tokens", 3}, {"logprobs", true}, {"stream", true}});
  EXPECT_NE(s.body.find("\"logprobs\":{\"content\":[{"), std::string::npos) << s.body.substr(0, 400);
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "x"}}}},
                                          {"top_logprobs", 30}, {"logprobs", true}}).status, 400);
}

}  // namespace
}  // namespace dkb::test

namespace dkb::test {
namespace {

TEST_F(ServerTest, SeveralChoicesWithN) {
  auto r = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                                         {"n", 3}, {"temperature", 1.0}, {"seed", 7}, {"max_tokens", 6}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["choices"].size(), 3u);
  int total = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(j["choices"][i]["index"], i);
    EXPECT_TRUE(j["choices"][i]["message"]["content"].is_string());
  }
  total = j["usage"]["completion_tokens"];
  EXPECT_GE(total, 3);
  EXPECT_LE(total, 18);
  // The same seed gives the same choices again.
  auto again = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                                             {"n", 3}, {"temperature", 1.0}, {"seed", 7}, {"max_tokens", 6}});
  EXPECT_EQ(json::parse(again.body)["choices"], j["choices"]);
  auto c = post("/v1/completions", {{"prompt", "The sun was"}, {"n", 2}, {"max_tokens", 3}});
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(json::parse(c.body)["choices"].size(), 2u);
  // Streamed choices are allowed (tests/clients/sdk.test.mjs checks them with the openai SDK);
  // streamed logprobs of several choices are not.
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"n", 2}, {"stream", true}, {"logprobs", 1}}).status, 400);
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"n", 0}}).status, 400);
}

}  // namespace
}  // namespace dkb::test

#include <thread>

namespace dkb::test {
namespace {

TEST_F(ServerTest, TokenizeDetokenizeApplyTemplate) {
  auto t = post("/tokenize", {{"content", "Once upon a time"}, {"add_special", true}});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(json::parse(t.body)["tokens"], json({1, 403, 407, 261, 378}));
  auto p = post("/tokenize", {{"content", "Once"}, {"with_pieces", true}});
  EXPECT_TRUE(json::parse(p.body)["tokens"][0].contains("piece"));
  auto d = post("/detokenize", {{"tokens", {403, 407, 261, 378}}});
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(json::parse(d.body)["content"], "Once upon a time");  // llama_detokenize drops the leading space
  EXPECT_EQ(post("/detokenize", {{"tokens", {-1}}}).status, 400);
  auto a = post("/apply-template", {{"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(json::parse(a.body)["prompt"], "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(post("/tokenize", {{"content", 5}}).status, 400);
}

// 16 simultaneous streaming requests of different lengths all complete, and at temperature 0
// each equals the same request run alone.
TEST_F(ServerTest, SixteenConcurrentStreamsEqualSoloRuns) {
  const char* prompts[] = {"Once upon a time", "Lily and Ben went to the park.", "The sun was", "A big red ball"};
  auto request = [&](int i) {
    json body = {{"prompt", prompts[i % 4]}, {"temperature", 0}, {"max_tokens", 4 + 3 * (i % 5)},
                 {"stream", true}};
    auto r = post("/v1/completions", body);
    std::string text;
    size_t pos = 0;
    while ((pos = r.body.find("data: ", pos)) != std::string::npos) {
      size_t end = r.body.find("\n\n", pos);
      std::string data = r.body.substr(pos + 6, end - pos - 6);
      pos = end;
      if (data == "[DONE]") break;
      auto j = json::parse(data);
      if (!j["choices"].empty()) text += j["choices"][0]["text"].get<std::string>();
    }
    return std::make_pair(r.status, text);
  };
  std::vector<std::pair<int, std::string>> concurrent(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) threads.emplace_back([&, i] { concurrent[i] = request(i); });
  for (auto& th : threads) th.join();
  for (int i = 0; i < 16; ++i) {
    auto solo = request(i);
    EXPECT_EQ(concurrent[i].first, 200);
    EXPECT_EQ(concurrent[i].second, solo.second) << "request " << i;
  }
}

TEST_F(ServerTest, HostileInputsLeaveTheServerUnharmed) {
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"max_tokens", -5}}).status, 400);
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"temperature", 9}}).status, 400);
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"stop", {1, 2}}}).status, 400);
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"100000", 1}}}}).status, 400);
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"5", "high"}}}}).status, 400);
  auto bad_utf8 = http_request(server_->port(), "POST", "/v1/completions",
                               std::string("{\"prompt\":\"\xff\xfe\",\"max_tokens\":2}"), kAuth);
  EXPECT_EQ(bad_utf8.status, 400) << bad_utf8.body;
  auto huge = http_request(server_->port(), "POST", "/v1/completions", std::string(40u << 20, 'a'), kAuth);
  EXPECT_TRUE(huge.status == 413 || huge.status == 0) << huge.status;
  // Still serving.
  EXPECT_EQ(post("/v1/completions", {{"prompt", "The sun was"}, {"max_tokens", 2}}).status, 200);
}

}  // namespace
}  // namespace dkb::test

namespace dkb::test {
namespace {

// The value of an unlabelled /metrics line, or -1 when absent.
double metric_value(const std::string& body, const std::string& name) {
  const size_t at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1.0 : std::stod(body.substr(at + name.size() + 2));
}

TEST_F(ServerTest, DeterministicResponsesAreCached) {
  // The suite shares one server: other tests' requests may already have hit the cache, so this
  // test counts its own hits.
  const double hits_before = metric_value(get("/metrics").body, "deepkb_response_cache_hits");
  ASSERT_GE(hits_before, 0.0);
  json body = {{"messages", {{{"role", "user"}, {"content", "The sun was"}}}}, {"temperature", 0}, {"max_tokens", 6}};
  auto first = post("/v1/chat/completions", body);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.headers.count("x-cache"), 0u);
  auto second = post("/v1/chat/completions", body);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.headers["x-cache"], "hit");
  EXPECT_EQ(second.body, first.body);
  // Sampled without a seed, or streamed: never cached.
  json sampled = body;
  sampled["temperature"] = 0.8;
  post("/v1/chat/completions", sampled);
  EXPECT_EQ(post("/v1/chat/completions", sampled).headers.count("x-cache"), 0u);
  json seeded = sampled;
  seeded["seed"] = 11;
  post("/v1/chat/completions", seeded);
  EXPECT_EQ(post("/v1/chat/completions", seeded).headers["x-cache"], "hit");
  EXPECT_EQ(metric_value(get("/metrics").body, "deepkb_response_cache_hits"), hits_before + 2);
}

}  // namespace
}  // namespace dkb::test
