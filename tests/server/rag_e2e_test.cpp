// RAG end to end on the real trained model (stories260K) with tiny-bert embeddings: a small
// ingested corpus flows through retrieval, prompt assembly, generation and citation mapping,
// and each stage's output is asserted exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/http_client.h"

namespace dkb::test {
namespace {

using nlohmann::json;

const char* kInstructionText =
    "Answer the question using only the numbered sources below. Cite the sources you use as "
    "[n], for example [1] or [2][3]. If the sources do not contain the answer, say that the "
    "knowledge base does not contain it; do not make an answer up.";

class RagE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fixture_exists("models/stories260K.gguf") || !fixture_exists("models/tiny-bert-F16.gguf")) return;
    server_ = new ServerProcess(DKB_BINARY, {"-m", fixture_path("models/stories260K.gguf"),
                                             "--embed-model", fixture_path("models/tiny-bert-F16.gguf"),
                                             "--ctx-size", "512", "--threads", "2", "--no-warmup"});
    if (!server_->ready()) return;
    auto post = [](const std::string& path, const json& body) {
      return http_request(server_->port(), "POST", path, body.dump(), {});
    };
    post("/v1/kb", {{"name", "stories"}});
    json docs = {{"documents",
                  {{{"id", "lily"}, {"title", "Lily"}, {"text", "Lily loved to play outside in the park."}},
                   {{"id", "ben"}, {"title", "Ben"}, {"text", "Ben had a big red ball. He kicked it every day."}},
                   {{"id", "cat"}, {"title", "Cat"}, {"text", "The cat slept in the sun all day."}},
                   {{"id", "tom"}, {"title", "Tom"}, {"text", "Tom and Lily went to the park to fly a kite."}}}}};
    ingest_status_ = post("/v1/kb/stories/documents", docs).status;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
    DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
    ASSERT_TRUE(server_ && server_->ready()) << (server_ ? server_->output() : "");
    ASSERT_EQ(ingest_status_, 200);
  }
  HttpResult post(const std::string& path, const json& body) {
    return http_request(server_->port(), "POST", path, body.dump(), {});
  }
  static ServerProcess* server_;
  static int ingest_status_;
};
ServerProcess* RagE2eTest::server_ = nullptr;
int RagE2eTest::ingest_status_ = 0;

// [n] markers in the answer that name one of n_sources, in order of first use.
std::vector<int> markers(const std::string& answer, int n_sources) {
  std::vector<int> out;
  std::regex re("\\[([0-9]{1,4})\\]");
  for (std::sregex_iterator it(answer.begin(), answer.end(), re), end; it != end; ++it) {
    int n = std::stoi((*it)[1]);
    if (n >= 1 && n <= n_sources && std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

TEST_F(RagE2eTest, RetrievalPromptGenerationAndCitationsExactly) {
  auto r = post("/v1/kb/stories/ask", {{"question", "Where did Lily play?"}, {"search", "bm25"}, {"top_k", 2},
                                       {"temperature", 0}, {"max_tokens", 24}, {"return_prompt", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  // Retrieval: "Lily" and "play" both occur only in lily; tom has "Lily"; nothing else matches.
  ASSERT_EQ(j["sources"].size(), 2u) << j.dump(1);
  EXPECT_EQ(j["sources"][0]["n"], 1);
  EXPECT_EQ(j["sources"][0]["document"], "lily");
  EXPECT_EQ(j["sources"][0]["title"], "Lily");
  EXPECT_EQ(j["sources"][0]["chunk"], 0);
  EXPECT_EQ(j["sources"][0]["text"], "Lily loved to play outside in the park.");
  EXPECT_EQ(j["sources"][1]["n"], 2);
  EXPECT_EQ(j["sources"][1]["document"], "tom");
  EXPECT_EQ(j["sources"][1]["text"], "Tom and Lily went to the park to fly a kite.");
  EXPECT_GT(j["sources"][0]["score"].get<double>(), j["sources"][1]["score"].get<double>());
  EXPECT_EQ(j["sources_used"], 2);
  EXPECT_EQ(j["sources_dropped"], 0);

  // Prompt assembly: instruction, numbered sources in relevance order, the model's template.
  const std::string want_prompt =
      std::string("<|im_start|>system\n") + kInstructionText +
      "\n\nSources:\n\n[1] Lily\nLily loved to play outside in the park."
      "\n\n[2] Tom\nTom and Lily went to the park to fly a kite.<|im_end|>\n"
      "<|im_start|>user\nWhere did Lily play?<|im_end|>\n<|im_start|>assistant\n";
  EXPECT_EQ(j["prompt"], want_prompt);

  // Generation: exactly what the model produces for that prompt on its own.
  auto c = post("/v1/completions", {{"prompt", want_prompt}, {"temperature", 0}, {"max_tokens", 24}});
  ASSERT_EQ(c.status, 200) << c.body;
  auto cj = json::parse(c.body);
  EXPECT_EQ(j["answer"], cj["choices"][0]["text"]);
  EXPECT_EQ(j["usage"]["prompt_tokens"], cj["usage"]["prompt_tokens"]);
  EXPECT_EQ(j["usage"]["completion_tokens"], cj["usage"]["completion_tokens"]);

  // Citation mapping: every [n] in the answer that names a given source, mapped to its chunk.
  const auto want = markers(j["answer"], 2);
  ASSERT_EQ(j["citations"].size(), want.size()) << j["answer"];
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(j["citations"][i]["n"], want[i]);
    EXPECT_EQ(j["citations"][i]["document"], j["sources"][want[i] - 1]["document"]);
  }
}

TEST_F(RagE2eTest, StreamingSendsTheSameSourcesThenTheSameAnswer) {
  json req = {{"question", "Where did Lily play?"}, {"search", "bm25"}, {"top_k", 2},
              {"temperature", 0}, {"max_tokens", 16}};
  auto whole = json::parse(post("/v1/kb/stories/ask", req).body);
  req["stream"] = true;
  auto s = post("/v1/kb/stories/ask", req);
  ASSERT_EQ(s.status, 200);
  std::vector<json> events;
  size_t pos = 0;
  while ((pos = s.body.find("data: ", pos)) != std::string::npos) {
    size_t end = s.body.find("\n\n", pos);
    std::string d = s.body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (d != "[DONE]") events.push_back(json::parse(d));
  }
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front()["sources"], whole["sources"]);
  std::string answer;
  for (const auto& e : events) {
    if (e.contains("delta")) answer += e["delta"].value("answer", "");
  }
  EXPECT_EQ(answer, whole["answer"]);
  EXPECT_EQ(events.back()["citations"], whole["citations"]);
  // Token counts agree; the cache-hit split differs (the second request reuses the first's KV).
  EXPECT_EQ(events.back()["usage"]["prompt_tokens"], whole["usage"]["prompt_tokens"]);
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], whole["usage"]["completion_tokens"]);
}

double cosine(const json& a, const json& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i].get<double>() * b[i].get<double>();
    na += a[i].get<double>() * a[i].get<double>();
    nb += b[i].get<double>() * b[i].get<double>();
  }
  return dot / std::sqrt(na * nb);
}

TEST_F(RagE2eTest, RerankOrdersCandidatesByEmbeddingSimilarity) {
  const std::string q = "a kite in the park";
  // The candidates: bm25's top 4 for the question.
  auto search = post("/v1/kb/stories/search", {{"query", q}, {"mode", "bm25"}, {"top_k", 4}});
  ASSERT_EQ(search.status, 200) << search.body;
  auto hits = json::parse(search.body)["hits"];
  ASSERT_GE(hits.size(), 2u) << search.body;
  json texts = json::array({q});
  for (const auto& h : hits) texts.push_back(h["text"]);
  auto e = post("/v1/embeddings", {{"input", texts}});
  ASSERT_EQ(e.status, 200) << e.body;
  auto data = json::parse(e.body)["data"];
  std::vector<std::pair<double, std::string>> want;
  for (size_t i = 0; i < hits.size(); ++i) {
    want.push_back({cosine(data[0]["embedding"], data[i + 1]["embedding"]), hits[i]["document"]});
  }
  std::stable_sort(want.begin(), want.end(), [](const auto& a, const auto& b) { return a.first > b.first; });

  auto r = post("/v1/kb/stories/ask", {{"question", q}, {"search", "bm25"}, {"top_k", 2}, {"rerank", true},
                                       {"rerank_candidates", 4}, {"max_tokens", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto src = json::parse(r.body)["sources"];
  ASSERT_EQ(src.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(src[i]["document"], want[i].second) << r.body;
    EXPECT_NEAR(src[i]["score"].get<double>(), want[i].first, 1e-4);
    EXPECT_TRUE(src[i].contains("retrieval_score"));
  }
}

TEST_F(RagE2eTest, LargeRetrievalIsTrimmedToTheContextWithoutSplitting) {
  // CJK text costs 3 byte tokens per character in stories260K's vocabulary, so 8 sources of
  // ~40 characters cannot all fit in 512 − 120 tokens (the instructions alone take ~220).
  ASSERT_EQ(post("/v1/kb", {{"name", "zh"}}).status, 201);
  json docs = json::array();
  std::vector<std::string> texts;
  for (int i = 0; i < 8; ++i) {
    std::string t = "第" + std::to_string(i) + "篇：这个模型把知识库里的文档切成小块，然后用向量和全文检索找到答案。";
    texts.push_back(t);
    docs.push_back({{"id", "d" + std::to_string(i)}, {"text", t}});
  }
  ASSERT_EQ(post("/v1/kb/zh/documents", {{"documents", docs}}).status, 200);
  auto r = post("/v1/kb/zh/ask", {{"question", "模型"}, {"search", "bm25"}, {"top_k", 8}, {"max_tokens", 120},
                                  {"temperature", 0}, {"return_prompt", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  const int used = j["sources_used"], dropped = j["sources_dropped"];
  EXPECT_EQ(used + dropped, 8);
  EXPECT_GE(dropped, 1);
  EXPECT_GE(used, 1);
  ASSERT_EQ(j["sources"].size(), static_cast<size_t>(used));
  const std::string prompt = j["prompt"];
  for (const auto& s : j["sources"]) {
    // Whole chunks only: each used source is one of the documents, complete, in the prompt.
    EXPECT_NE(std::find(texts.begin(), texts.end(), s["text"].get<std::string>()), texts.end());
    EXPECT_NE(prompt.find(s["text"].get<std::string>()), std::string::npos);
  }
  EXPECT_LE(j["usage"]["prompt_tokens"].get<int>(), 512 - 120);
}

TEST_F(RagE2eTest, BadRagRequestsGetClearErrors) {
  EXPECT_EQ(post("/v1/kb/stories/ask", {{"question", "x"}, {"rerank", "yes"}}).status, 400);
  auto few = post("/v1/kb/stories/ask", {{"question", "x"}, {"top_k", 5}, {"rerank", true}, {"rerank_candidates", 2}});
  EXPECT_EQ(few.status, 400);
  EXPECT_NE(few.body.find("rerank_candidates"), std::string::npos) << few.body;
  EXPECT_EQ(post("/v1/kb/stories/ask", {{"question", "x"}, {"search", 3}}).status, 400);
  EXPECT_EQ(post("/v1/kb/stories/ask", {{"question", "x"}, {"filter", "lily"}}).status, 400);
  EXPECT_EQ(post("/v1/kb/stories/ask", {{"question", 42}}).status, 400);
  EXPECT_EQ(post("/v1/kb/missing/ask", {{"question", "x"}}).status, 404);
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "x"}}}},
                                          {"knowledge_base", {{"name", "stories"}, {"rerank", 1}}}}).status, 400);
}

}  // namespace
}  // namespace dkb::test
