// Decode allocates nothing per token (issue #4: no per-token allocation): once a context has
// met a length (its scratch grown, every thread's buffers met), one-token steps up to that length
// make no call to operator new, on any thread, for each architecture's decode path, alone or
// batched. Global operator new
// is replaced in this binary only, to count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "engine/context.h"
#include "engine/model.h"
#include "support/fixtures.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_news{0};

// A place to break in a debugger (break on_counted_new) to see who allocates.
[[gnu::noinline]] void on_counted_new() { g_news.fetch_add(1, std::memory_order_relaxed); }

void* counted(std::size_t n, std::size_t align) {
  if (g_counting.load(std::memory_order_relaxed)) on_counted_new();
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t)
                ? std::aligned_alloc(align, (n + align - 1) / align * align)
                : std::malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted(n, 0); }
void* operator new[](std::size_t n) { return counted(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try { return counted(n, 0); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try { return counted(n, 0); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace dkb::engine {
namespace {

class DecodeAlloc : public ::testing::TestWithParam<const char*> {};

// operator new calls during 56 steps step(100), step(101), ... (-1 if a step fails).
template <class Step>
long news_in_steps(const Step& step) {
  g_news = 0;
  g_counting = true;
  bool ok = true;
  for (int i = 0; i < 56 && ok; ++i) ok = step(100 + i).is_ok();
  g_counting = false;
  return ok ? g_news.load() : -1;
}

TEST_P(DecodeAlloc, OneTokenStepsAllocateNothingOnceWarm) {
  const std::string model = std::string("models/") + GetParam() + ".gguf";
  DKB_REQUIRE_FIXTURE(model);
  auto m = Model::load(test::fixture_path(model));
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ThreadPool pool(2);
  // One page holding the whole context: growing the cache is not a decode step's work.
  Context ctx(*m, pool, {.n_ctx = 96, .n_batch = 32, .page_size = 0});
  const int64_t nv = ctx.n_vocab();
  std::vector<int32_t> prompt(8);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 31 + 5) % nv);
  auto step = [&](int i) {
    const int32_t t = static_cast<int32_t>((i * 17 + 3) % nv);
    return ctx.eval(std::span<const int32_t>(&t, 1));
  };
  // Warm-up: a prompt and 56 steps (both MLA forms; scratch that grows with the context, such as
  // the attention's scores, meets its widest). Then the same lengths again, counted.
  ASSERT_TRUE(ctx.eval(prompt).is_ok());
  for (int i = 0; i < 56; ++i) ASSERT_TRUE(step(i).is_ok());
  ctx.reset();
  ASSERT_TRUE(ctx.eval(prompt).is_ok());
  EXPECT_EQ(news_in_steps(step), 0) << "operator new calls in 56 decode steps of " << GetParam();
}

// The same for sequences stepping together (the server's continuous batching: eval_batch).
TEST_P(DecodeAlloc, BatchedStepsAllocateNothingOnceWarm) {
  const std::string model = std::string("models/") + GetParam() + ".gguf";
  DKB_REQUIRE_FIXTURE(model);
  auto m = Model::load(test::fixture_path(model));
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ThreadPool pool(2);
  std::vector<std::unique_ptr<Context>> owned;
  std::vector<Context*> ctxs;
  for (int i = 0; i < 3; ++i) {
    owned.push_back(std::make_unique<Context>(*m, pool, ContextParams{.n_ctx = 96, .n_batch = 8, .page_size = 0}));
    ctxs.push_back(owned.back().get());
  }
  const int64_t nv = ctxs[0]->n_vocab();
  BatchScratch scratch;
  std::vector<int32_t> toks(ctxs.size());
  std::vector<std::span<const int32_t>> spans;
  for (size_t k = 0; k < toks.size(); ++k) spans.emplace_back(&toks[k], 1);
  auto step = [&](int i) {
    for (size_t k = 0; k < toks.size(); ++k) toks[k] = static_cast<int32_t>((i * 13 + k * 7 + 1) % nv);
    return Context::eval_batch(ctxs, spans, pool, scratch);
  };
  for (int i = 0; i < 56; ++i) ASSERT_TRUE(step(i).is_ok());
  for (Context* c : ctxs) c->reset();
  EXPECT_EQ(news_in_steps(step), 0) << "operator new calls in 56 batched steps of " << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Models, DecodeAlloc,
                         ::testing::Values("tiny-llama-Q4_0", "tiny-qwen2-Q4_K_M", "tiny-qwen2-Q8_0",
                                           "tiny-deepseek2-Q8_0", "tiny-deepseek2-Q4_K_M"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace dkb::engine
