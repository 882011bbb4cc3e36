#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "base/thread_pool.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/scheduler.h"
#include "event_collector.h"
#include "support/fixtures.h"

namespace dkb::engine {
namespace {

using test_support::Collector;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/tiny-qwen2-Q8_0.gguf");
    auto m = Model::load(test::fixture_path("models/tiny-qwen2-Q8_0.gguf"));
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    model_ = *m;
  }
  std::vector<int32_t> tokens(const std::string& s) {
    return model_->tokenizer().encode(s, {.add_special = true});
  }
  std::string solo(const std::string& prompt, int n, bool kv_f16 = false) {
    Context ctx(model_, pool_, {.n_ctx = 128, .kv_f16 = kv_f16});
    GenerateParams gp;
    gp.max_tokens = n;
    gp.sampling.temperature = 0;
    gp.ignore_eos = true;
    auto r = generate(ctx, tokens(prompt), gp);
    EXPECT_TRUE(r.is_ok());
    return r->text;
  }
  std::shared_ptr<const Model> model_;
  ThreadPool pool_{2};
};

// Batched steps over the shared paged pool give each sequence what it gives alone, with the f32
// cache and with the f16 one (--cache-type f16: the pool's rows and the solo run's both f16).
TEST_F(SchedulerTest, ConcurrentSequencesEqualSoloRuns) {
  for (bool f16 : {false, true}) {
    const std::vector<std::string> prompts = {"Once upon a time", "Lily and Ben went to the park.",
                                              "The sun was", "A big red ball"};
    Scheduler sched(model_, pool_,
                    {.n_parallel = 4, .n_ctx = 128, .max_queue = 8, .n_batch = 6, .kv_f16 = f16});
    std::vector<std::unique_ptr<Collector>> cs;
    for (const auto& p : prompts) {
      cs.push_back(std::make_unique<Collector>());
      GenerationRequest r;
      r.prompt = tokens(p);
      r.params.max_tokens = 12;
      r.params.sampling.temperature = 0;
      r.params.ignore_eos = true;
      Collector* c = cs.back().get();
      r.on_event = [c](GenerationEvent&& ev) { c->on_event(std::move(ev)); };
      ASSERT_TRUE(sched.submit(std::move(r)).is_ok());
    }
    for (size_t i = 0; i < prompts.size(); ++i) {
      cs[i]->wait();
      ASSERT_EQ(cs[i]->final_event.kind, GenerationEvent::Kind::kDone);
      EXPECT_EQ(cs[i]->final_event.result.n_generated, 12);
      EXPECT_EQ(cs[i]->text, solo(prompts[i], 12, f16)) << prompts[i] << " f16 " << f16;
    }
  }
}

TEST_F(SchedulerTest, PrefixIsReusedAndRejectionsAreClear) {
  Scheduler sched(model_, pool_, {.n_parallel = 1, .n_ctx = 32, .max_queue = 4, .n_batch = 64});
  auto run = [&](const std::string& p) {
    Collector c;
    GenerationRequest r;
    r.prompt = tokens(p);
    r.params.max_tokens = 3;
    r.params.sampling.temperature = 0;
    r.on_event = [&c](GenerationEvent&& ev) { c.on_event(std::move(ev)); };
    EXPECT_TRUE(sched.submit(std::move(r)).is_ok());
    c.wait();
    return c.final_event.n_cached;
  };
  EXPECT_EQ(run("Once upon a time there"), 0);
  EXPECT_GT(run("Once upon a time there was"), 3);
  GenerationRequest big;
  big.prompt.assign(40, 5);
  Status s = sched.submit(std::move(big));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("40"), std::string::npos);
  EXPECT_NE(s.message().find("32"), std::string::npos);
}

}  // namespace
}  // namespace dkb::engine
