#include <gtest/gtest.h>

#include "engine/model.h"
#include "rag/prompt.h"
#include "support/fixtures.h"
#include "tokenizer/chat_template.h"

namespace dkb::rag {
namespace {

class RagPromptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
    auto m = engine::Model::load(test::fixture_path("models/stories260K.gguf"));
    ASSERT_TRUE(m.is_ok());
    model_ = *m;
    auto t = tokenizer::ChatTemplate::parse(tokenizer::kChatMlTemplate);
    ASSERT_TRUE(t.is_ok());
    tmpl_ = std::make_unique<tokenizer::ChatTemplate>(std::move(t).value());
  }
  Source source(const std::string& doc, const std::string& text, std::vector<std::string> heading = {}) {
    Source s;
    s.hit.document_id = doc;
    s.hit.text = text;
    s.hit.heading_path = std::move(heading);
    s.title = doc + " title";
    return s;
  }
  std::shared_ptr<const engine::Model> model_;
  std::unique_ptr<tokenizer::ChatTemplate> tmpl_;
};

TEST_F(RagPromptTest, AssemblesNumberedSourcesExactly) {
  nlohmann::json conv = {{{"role", "user"}, {"content", "Who is Lily?"}}};
  std::vector<Source> c = {source("a", "Lily is a girl.", {"People"}), source("b", "Ben has a dog.")};
  auto p = build_prompt(conv, c, model_->tokenizer(), *tmpl_, {.n_ctx = 2048, .max_tokens = 64});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->used.size(), 2u);
  EXPECT_EQ(p->dropped.size(), 0u);
  const std::string want = std::string("<|im_start|>system\n") + kInstruction +
                           "\n\nSources:\n\n[1] a title > People\nLily is a girl.\n\n[2] b title\nBen has a dog."
                           "<|im_end|>\n<|im_start|>user\nWho is Lily?<|im_end|>\n<|im_start|>assistant\n";
  EXPECT_EQ(p->rendered, want);
  EXPECT_EQ(p->used[1].n, 2);
}

TEST_F(RagPromptTest, TrimsToBudgetWithoutSplittingChunks) {
  nlohmann::json conv = {{{"role", "user"}, {"content", "What happened in the park?"}}};
  std::vector<Source> c;
  for (int i = 0; i < 30; ++i) {
    std::string text;
    for (int k = 0; k < 20; ++k) text += "Lily and Ben went to the park 公园. ";
    c.push_back(source("d" + std::to_string(i), text));
  }
  c.push_back(source("short", "Tiny."));
  const int64_t n_ctx = 1200, max_tokens = 100;
  auto p = build_prompt(conv, c, model_->tokenizer(), *tmpl_, {.n_ctx = n_ctx, .max_tokens = max_tokens});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_GT(p->used.size(), 0u);
  EXPECT_GT(p->dropped.size(), 0u);
  EXPECT_EQ(p->used.size() + p->dropped.size(), c.size());
  EXPECT_LE(static_cast<int64_t>(p->tokens.size()), n_ctx - max_tokens);
  // The short source after the big ones still fits; every used source appears whole.
  EXPECT_EQ(p->used.back().hit.document_id, "short");
  for (const auto& s : p->used) EXPECT_NE(p->rendered.find(s.hit.text), std::string::npos);
}

TEST_F(RagPromptTest, RejectsAQuestionThatCannotFit) {
  nlohmann::json conv = {{{"role", "user"}, {"content", std::string(3000, 'x')}}};
  auto p = build_prompt(conv, {}, model_->tokenizer(), *tmpl_, {.n_ctx = 256, .max_tokens = 64});
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("192"), std::string::npos) << p.status().message();
  EXPECT_FALSE(build_prompt(nlohmann::json::array(), {}, model_->tokenizer(), *tmpl_, {.n_ctx = 256}).is_ok());
}

TEST(RagCitations, OnlyGivenSourcesInFirstUseOrder) {
  EXPECT_EQ(cited_numbers("See [2] and [1][2], not [7] or [0] or [x].", 3), (std::vector<int>{2, 1}));
  EXPECT_TRUE(cited_numbers("no citations", 3).empty());
  EXPECT_TRUE(cited_numbers("[", 3).empty());
  EXPECT_TRUE(cited_numbers("[12345678901]", 3).empty());
}

}  // namespace
}  // namespace dkb::rag
