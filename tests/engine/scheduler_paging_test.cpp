// The scheduler on its shared paged KV pool: prefix reuse across requests (also after they
// ended), eviction under memory pressure, waiting and preemption when the pool is exhausted,
// rejection of prompts no sequence could hold. Every generated text must equal the same
// request run alone (temperature 0).
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

class SchedulerPagingTest : public ::testing::Test {
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
  std::string solo(const std::vector<int32_t>& prompt, int n) {
    Context ctx(model_, pool_, {.n_ctx = 200, .page_size = 0});
    GenerateParams gp;
    gp.max_tokens = n;
    gp.sampling.temperature = 0;
    gp.ignore_eos = true;
    auto r = generate(ctx, prompt, gp);
    EXPECT_TRUE(r.is_ok());
    return r->text;
  }
  std::unique_ptr<Collector> submit(Scheduler& s, const std::vector<int32_t>& prompt, int n,
                                    bool cancelled = false) {
    auto c = std::make_unique<Collector>();
    GenerationRequest r;
    r.prompt = prompt;
    r.params.max_tokens = n;
    r.params.sampling.temperature = 0;
    r.params.ignore_eos = true;
    if (cancelled) r.cancel = std::make_shared<std::atomic<bool>>(true);
    Collector* p = c.get();
    r.on_event = [p](GenerationEvent&& ev) { p->on_event(std::move(ev)); };
    Status st = s.submit(std::move(r));
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return c;
  }
  std::shared_ptr<const Model> model_;
  ThreadPool pool_{2};
};

const char* kSystem =
    "Lily and Ben went to the park. They saw a big red ball and a little dog. The dog was "
    "happy and ran to them. ";

TEST_F(SchedulerPagingTest, PrefixPagesAreReusedAfterTheirSequenceEnded) {
  Scheduler sched(model_, pool_, {.n_parallel = 2, .n_ctx = 256, .max_queue = 8, .n_batch = 32});
  const auto a = tokens(std::string(kSystem) + "Lily said");
  const auto b = tokens(std::string(kSystem) + "Ben threw the ball");
  size_t common = 0;
  while (a[common] == b[common]) ++common;
  ASSERT_GE(common, 32u) << "the shared prefix must span two pages";
  auto ca = submit(sched, a, 6);
  ca->wait();
  EXPECT_EQ(ca->final_event.n_cached, 0);
  EXPECT_EQ(ca->text, solo(a, 6));
  auto cb = submit(sched, b, 6);
  cb->wait();
  ASSERT_EQ(cb->final_event.kind, GenerationEvent::Kind::kDone);
  // Full pages are shared; the third (partly common) page's common rows are copied.
  EXPECT_EQ(cb->final_event.n_cached, static_cast<int64_t>(common));
  EXPECT_EQ(cb->text, solo(b, 6));
  const SchedulerStats st = sched.stats();
  EXPECT_EQ(st.prefix_cache_hits, 1);
  EXPECT_EQ(st.prefix_cache_misses, 1);
  EXPECT_EQ(st.cached_tokens_total, static_cast<int64_t>(common));
  EXPECT_EQ(st.kv_page_size, 16);
  EXPECT_EQ(st.kv_pages_total, 16);
}

TEST_F(SchedulerPagingTest, ConcurrentRequestsWithOnePrefixMatchSoloRuns) {
  Scheduler sched(model_, pool_, {.n_parallel = 4, .n_ctx = 512, .max_queue = 8, .n_batch = 16});
  const std::vector<std::string> tails = {"Lily said", "Ben threw the ball", "The sun was", "Mom"};
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::unique_ptr<Collector>> cs;
  for (const auto& t : tails) {
    prompts.push_back(tokens(std::string(kSystem) + t));
    cs.push_back(submit(sched, prompts.back(), 10));
  }
  for (size_t i = 0; i < cs.size(); ++i) {
    cs[i]->wait();
    ASSERT_EQ(cs[i]->final_event.kind, GenerationEvent::Kind::kDone);
    EXPECT_EQ(cs[i]->text, solo(prompts[i], 10)) << tails[i];
  }
  EXPECT_EQ(sched.stats().kv_pages_used, 0);
}

TEST_F(SchedulerPagingTest, EvictionUnderPressureKeepsResultsExact) {
  // 64 positions = 4 pages: every request's pages evict earlier cached ones.
  Scheduler sched(model_, pool_, {.n_parallel = 1, .n_ctx = 64, .max_queue = 8, .n_batch = 64});
  const std::vector<std::string> prompts = {std::string(kSystem), "Once upon a time there was a girl",
                                            std::string(kSystem) + "Lily"};
  for (const auto& p : prompts) {
    auto c = submit(sched, tokens(p), 12);
    c->wait();
    ASSERT_EQ(c->final_event.kind, GenerationEvent::Kind::kDone);
    EXPECT_EQ(c->text, solo(tokens(p), 12)) << p;
  }
  const SchedulerStats st = sched.stats();
  EXPECT_GT(st.kv_evictions, 0);
  EXPECT_GT(st.kv_pages_cached, 0);
  EXPECT_EQ(st.kv_pages_used, 0);
}

TEST_F(SchedulerPagingTest, ExhaustedPoolPreemptsTheYoungestAndEveryoneFinishesExactly) {
  // 6 pages of 16 for 4 sequences that each grow to 4-5 pages: requests wait for pages, and
  // decoding sequences that run out preempt the youngest, which resumes later.
  Scheduler sched(model_, pool_, {.n_parallel = 4, .n_ctx = 96, .max_queue = 8, .n_batch = 32});
  EXPECT_EQ(sched.n_ctx(), 96);
  const std::vector<std::string> texts = {"Once upon a time there was a little girl named Lily",
                                          "Ben and his dog went to the big green park",
                                          "The sun was hot and the birds were singing",
                                          "Mom made a cake for the party at home"};
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::unique_ptr<Collector>> cs;
  for (const auto& t : texts) {
    prompts.push_back(tokens(t));
    cs.push_back(submit(sched, prompts.back(), 50));
  }
  for (size_t i = 0; i < cs.size(); ++i) {
    cs[i]->wait();
    ASSERT_EQ(cs[i]->final_event.kind, GenerationEvent::Kind::kDone) << cs[i]->final_event.error.to_string();
    EXPECT_EQ(cs[i]->final_event.result.n_generated, 50);
    EXPECT_EQ(cs[i]->text, solo(prompts[i], 50)) << texts[i];
  }
  const SchedulerStats st = sched.stats();
  EXPECT_GT(st.preemptions, 0);
  EXPECT_EQ(st.requests_total, 4);
  EXPECT_EQ(st.kv_pages_used, 0);
}

TEST_F(SchedulerPagingTest, PromptsNoSequenceCanHoldAreRejectedAndCancelledWaitersEnd) {
  Scheduler sched(model_, pool_, {.n_parallel = 2, .n_ctx = 64, .max_queue = 8, .n_batch = 32});
  EXPECT_EQ(sched.kv_positions(), 64);
  GenerationRequest big;
  big.prompt.assign(70, 5);
  Status s = sched.submit(std::move(big));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("70"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("64"), std::string::npos) << s.message();
  // A request whose client left before it was admitted ends as cancelled, without running.
  auto c = submit(sched, tokens("Once upon a time"), 5, /*cancelled=*/true);
  c->wait();
  EXPECT_EQ(c->final_event.kind, GenerationEvent::Kind::kDone);
  EXPECT_EQ(c->final_event.result.finish, FinishReason::kCancelled);
  EXPECT_EQ(c->final_event.result.n_generated, 0);
}

}  // namespace
}  // namespace dkb::engine
