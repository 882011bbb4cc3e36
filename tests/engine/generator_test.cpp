#include <gtest/gtest.h>

#include <string>

#include "base/thread_pool.h"
#include "base/utf8.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "support/fixtures.h"

namespace dkb::engine {
namespace {

class StoriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
    auto m = Model::load(test::fixture_path("models/stories260K.gguf"));
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    model_ = *m;
  }
  std::vector<int32_t> prompt(const std::string& text) {
    return model_->tokenizer().encode(text, {.add_special = true, .parse_special = false});
  }
  std::shared_ptr<const Model> model_;
  ThreadPool pool_{2};
};

TEST_F(StoriesTest, StopStringEndsGenerationAndIsNotEmitted) {
  Context ctx(model_, pool_, {});
  GenerateParams gp;
  gp.max_tokens = 32;
  gp.sampling.temperature = 0;
  gp.stop = {"Lily"};
  std::string streamed;
  auto res = generate(ctx, prompt("Once upon a time"), gp, [&](const std::string& s) {
    streamed += s;
    return true;
  });
  ASSERT_TRUE(res.is_ok());
  EXPECT_EQ(res->text, ", there was a little girl named ");
  EXPECT_EQ(streamed, res->text);
  EXPECT_EQ(res->finish, FinishReason::kStop);
}

TEST_F(StoriesTest, MaxTokensAndSeedDeterminism) {
  GenerateParams gp;
  gp.max_tokens = 12;
  gp.sampling.temperature = 0.9f;
  gp.sampling.seed = 42;
  Context c1(model_, pool_, {}), c2(model_, pool_, {});
  auto a = generate(c1, prompt("The sun was"), gp);
  auto b = generate(c2, prompt("The sun was"), gp);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(a->tokens, b->tokens);
  EXPECT_EQ(a->n_generated, 12);
  EXPECT_EQ(a->finish, FinishReason::kLength);
}

TEST_F(StoriesTest, ContextOverflowIsResourceExhausted) {
  Context ctx(model_, pool_, {.n_ctx = 8});
  std::vector<int32_t> ids(9, 1);
  Status s = ctx.eval(ids);
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(s.message().find("n_ctx 8"), std::string::npos) << s.message();
  EXPECT_EQ(ctx.n_past(), 0);
  std::vector<int32_t> bad = {1, 100000};
  EXPECT_EQ(ctx.eval(bad).code(), ErrorCode::kInvalidArgument);
}

TEST_F(StoriesTest, CancelStopsGeneration) {
  Context ctx(model_, pool_, {});
  GenerateParams gp;
  gp.max_tokens = 32;
  gp.sampling.temperature = 0;
  int calls = 0;
  auto res = generate(ctx, prompt("Once upon a time"), gp, [&](const std::string&) {
    return ++calls < 3;
  });
  ASSERT_TRUE(res.is_ok());
  EXPECT_EQ(res->finish, FinishReason::kCancelled);
  EXPECT_LT(res->n_generated, 32);
}

TEST_F(StoriesTest, IncrementalEvalEqualsBatchEval) {
  auto ids = prompt("Lily and Ben went to the park");
  Context batch(model_, pool_, {});
  ASSERT_TRUE(batch.eval(ids, true).is_ok());
  Context step(model_, pool_, {});
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(step.eval(std::span<const int32_t>(&ids[i], 1)).is_ok());
    for (int64_t v = 0; v < step.n_vocab(); ++v) {
      ASSERT_NEAR(step.last_logits()[v], batch.logits(static_cast<int64_t>(i))[v], 1e-3);
    }
  }
}

}  // namespace
}  // namespace dkb::engine
