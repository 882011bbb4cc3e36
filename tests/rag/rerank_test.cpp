#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "rag/rerank.h"

namespace dkb::rag {
namespace {

// A deterministic embedder for the rerank logic: counts of three keywords. (kb::Embedder's
// real implementation, the engine's BERT model, is exercised by the server's RAG tests.)
class KeywordEmbedder : public kb::Embedder {
 public:
  size_t dimension() const override { return 3; }
  size_t max_batch() const override { return 2; }  // forces several batches
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) override {
    if (texts.size() > max_batch()) return invalid_argument("batch too large");
    ++calls;
    std::vector<std::vector<float>> out;
    for (const auto& t : texts) {
      if (t == "fail") return io_error("embedding failed");
      std::vector<float> v(3, 0.f);
      const char* words[] = {"cat", "dog", "park"};
      for (int w = 0; w < 3; ++w) {
        for (size_t p = t.find(words[w]); p != std::string::npos; p = t.find(words[w], p + 1)) v[w] += 1;
      }
      out.push_back(v);
    }
    return out;
  }
  int calls = 0;
};

Source src(const std::string& id, const std::string& text, double score) {
  Source s;
  s.hit.document_id = id;
  s.hit.text = text;
  s.hit.score = score;
  return s;
}

TEST(Rerank, OrdersByEmbeddingCosineAndKeepsTopK) {
  KeywordEmbedder emb;
  EmbeddingReranker rr(emb);
  std::vector<Source> c = {src("a", "a dog in the park", 0.9), src("b", "the cat", 0.8),
                           src("c", "cat and cat and dog", 0.7), src("d", "nothing here", 0.6),
                           src("e", "a cat in the park", 0.5)};
  auto r = rerank(rr, "cat", c, 3);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 3u);
  // cos("cat", "the cat") = 1; cat,cat,dog → 2/sqrt(5) ≈ 0.894; cat,park → 1/sqrt(2) ≈ 0.707.
  EXPECT_EQ((*r)[0].hit.document_id, "b");
  EXPECT_EQ((*r)[1].hit.document_id, "c");
  EXPECT_EQ((*r)[2].hit.document_id, "e");
  EXPECT_NEAR((*r)[0].hit.score, 1.0, 1e-9);
  EXPECT_NEAR((*r)[1].hit.score, 2.0 / std::sqrt(5.0), 1e-6);
  EXPECT_TRUE((*r)[0].reranked);
  EXPECT_DOUBLE_EQ((*r)[0].retrieval_score, 0.8);
  EXPECT_EQ(emb.calls, 1 + 3);  // the query, then 5 texts in batches of 2
}

TEST(Rerank, TiesKeepRetrievalOrder) {
  KeywordEmbedder emb;
  EmbeddingReranker rr(emb);
  std::vector<Source> c = {src("x", "dog", 3), src("y", "dog dog", 2), src("z", "park", 1)};
  auto r = rerank(rr, "dog", c, 10);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].hit.document_id, "x");  // both x and y have cosine 1
  EXPECT_EQ((*r)[1].hit.document_id, "y");
  EXPECT_EQ((*r)[2].hit.document_id, "z");
}

TEST(Rerank, EmbedderFailureFailsTheWholeCall) {
  KeywordEmbedder emb;
  EmbeddingReranker rr(emb);
  auto r = rerank(rr, "cat", {src("a", "cat", 1), src("b", "fail", 1)}, 2);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kIOError);
}

TEST(Rerank, EmptyCandidatesGiveNothing) {
  KeywordEmbedder emb;
  EmbeddingReranker rr(emb);
  auto r = rerank(rr, "cat", {}, 5);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace dkb::rag
