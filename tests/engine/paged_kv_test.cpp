// Paged KV against the contiguous cache on real model files (llama, qwen2, deepseek2 MLA), with
// f32 and f16 caches (--cache-type): the same tokens give the same logits whatever the page size,
// across page boundaries, in prefill chunks and one token at a time; a prefix reused from the
// cache gives what recomputing it gives.
#include <gtest/gtest.h>

#include <cmath>

#include "base/huge_page_buffer.h"
#include "base/thread_pool.h"
#include "engine/context.h"
#include "engine/kv_pool.h"
#include "engine/model.h"
#include "support/fixtures.h"

namespace dkb::engine {
namespace {

std::vector<int32_t> test_tokens(int n, int64_t n_vocab) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 37 + 11) % n_vocab);
  t[0] = 1;  // BOS
  return t;
}

// A model file and the cache type (f16: ContextParams::kv_f16).
struct PagedKvCase {
  const char* model;
  bool f16;
};

class PagedKvTest : public ::testing::TestWithParam<PagedKvCase> {
 protected:
  void SetUp() override {
    const std::string f = std::string("models/") + GetParam().model;
    DKB_REQUIRE_FIXTURE(f);
    auto m = Model::load(test::fixture_path(f));
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    model_ = *m;
  }
  // Evaluates tokens in the given chunk sizes (the last chunk repeats), returning the logits of
  // every position.
  std::vector<float> run(Context& ctx, const std::vector<int32_t>& toks, std::vector<int> chunks) {
    std::vector<float> out;
    size_t off = 0, ci = 0;
    const int64_t nv = ctx.n_vocab();
    while (off < toks.size()) {
      const size_t n = std::min<size_t>(static_cast<size_t>(chunks[std::min(ci++, chunks.size() - 1)]),
                                        toks.size() - off);
      Status s = ctx.eval(std::span<const int32_t>(toks.data() + off, n), true);
      EXPECT_TRUE(s.is_ok()) << s.to_string();
      if (!s.is_ok()) return out;
      out.insert(out.end(), ctx.logits(0), ctx.logits(0) + static_cast<int64_t>(n) * nv);
      off += n;
    }
    return out;
  }
  bool f16() const { return GetParam().f16; }
  KvShape shape() const { return model_->arch().kv_shape().with_f16(f16()); }
  std::shared_ptr<const Model> model_;
  ThreadPool pool_{2};
};

TEST_P(PagedKvTest, LogitsEqualTheContiguousCacheAcrossPageBoundaries) {
  const auto toks = test_tokens(45, model_->hparams().n_vocab);
  // Chunks 5, 1, 11, 7, then one token at a time: chunk edges and page edges (4, 16) fall on
  // different positions; 45 positions leave the last page partly filled.
  const std::vector<int> chunks = {5, 1, 11, 7, 1};
  Context flat(model_, pool_, {.n_ctx = 64, .n_batch = 16, .page_size = 0, .kv_f16 = f16()});
  const auto ref = run(flat, toks, chunks);
  ASSERT_EQ(ref.size(), toks.size() * static_cast<size_t>(flat.n_vocab()));
  for (int64_t page : {1, 4, 16}) {
    Context paged(model_, pool_, {.n_ctx = 64, .n_batch = 16, .page_size = page, .kv_f16 = f16()});
    EXPECT_EQ(paged.kv().n_pages(), 0);
    const auto got = run(paged, toks, chunks);
    EXPECT_EQ(paged.kv().n_pages(), (45 + page - 1) / page);
    EXPECT_TRUE(got == ref) << GetParam().model << " page_size " << page;
  }
}

// The weights copied into huge pages (the default) and the file mapped (--mmap) are the same
// bytes: the same logits, bit for bit.
TEST_P(PagedKvTest, MappedAndHugePageCopiedWeightsGiveTheSameLogits) {
  LoadOptions map_it;
  map_it.mmap = true;
  auto mapped = Model::load(test::fixture_path(std::string("models/") + GetParam().model), map_it);
  ASSERT_TRUE(mapped.is_ok()) << mapped.status().to_string();
  EXPECT_EQ((*mapped)->file().backing(), MappedFile::Backing::kFileMap);
  if (HugePageBuffer::available()) {
    EXPECT_EQ(model_->file().backing(), MappedFile::Backing::kHugePageCopy);
  }
  const auto toks = test_tokens(20, model_->hparams().n_vocab);
  Context a(model_, pool_, {.n_ctx = 32, .n_batch = 16, .kv_f16 = f16()});
  Context b(*mapped, pool_, {.n_ctx = 32, .n_batch = 16, .kv_f16 = f16()});
  const auto ra = run(a, toks, {7, 1});
  const auto rb = run(b, toks, {7, 1});
  ASSERT_FALSE(ra.empty());
  EXPECT_TRUE(ra == rb) << GetParam().model;
}

TEST_P(PagedKvTest, PrefixFromTheCacheEqualsRecompute) {
  const int64_t nv = model_->hparams().n_vocab;
  const auto first = test_tokens(40, nv);
  auto second = first;
  second.resize(37);  // shares 37 tokens: two full pages of 16 and 5 rows of the third
  for (int i = 0; i < 6; ++i) second.push_back(static_cast<int32_t>((i * 5 + 3) % nv));
  KvPool kv(shape(), 8, 16);
  {
    Context a(model_, pool_, {.n_ctx = 128, .n_batch = 64}, kv);
    ASSERT_TRUE(a.eval(first).is_ok());
    a.kv().publish(first, true);
  }  // a ended: its pages are only in the prefix cache now
  EXPECT_EQ(kv.stats().used, 0);
  EXPECT_EQ(kv.stats().cached, 3);
  Context b(model_, pool_, {.n_ctx = 128, .n_batch = 64}, kv);
  EXPECT_EQ(b.start_from_prefix(second, static_cast<int64_t>(second.size()) - 1), 37);
  ASSERT_TRUE(b.eval(std::span<const int32_t>(second.data() + 37, second.size() - 37), true).is_ok());

  Context fresh(model_, pool_, {.n_ctx = 128, .n_batch = 64, .page_size = 0, .kv_f16 = f16()});
  ASSERT_TRUE(fresh.eval(second, true).is_ok());
  for (int t = 0; t < 6; ++t) {
    const float* want = fresh.logits(37 + t);
    const float* got = b.logits(t);
    int64_t best_w = 0, best_g = 0;
    for (int64_t i = 0; i < nv; ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-3f + 1e-4f * std::fabs(want[i]))
          << GetParam().model << " t " << t << " i " << i;
      if (want[i] > want[best_w]) best_w = i;
      if (got[i] > got[best_g]) best_g = i;
    }
    EXPECT_EQ(best_g, best_w);
  }
}

TEST_P(PagedKvTest, SharedPoolExhaustionIsAnErrorThatChangesNothing) {
  KvPool kv(shape(), 2, 8);
  Context a(model_, pool_, {.n_ctx = 64}, kv);
  Context b(model_, pool_, {.n_ctx = 64}, kv);
  const auto toks = test_tokens(12, model_->hparams().n_vocab);
  ASSERT_TRUE(a.eval(toks).is_ok());  // two pages: the whole pool
  Status s = b.eval(std::span<const int32_t>(toks.data(), 3));
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted) << s.to_string();
  EXPECT_EQ(b.n_past(), 0);
  a.reset();
  EXPECT_TRUE(b.eval(std::span<const int32_t>(toks.data(), 3)).is_ok());
}

// f16 rows on request (llama, qwen2 and deepseek2's latent rows), in half the memory.
TEST_P(PagedKvTest, F16RowsOnRequestInHalfTheMemory) {
  const KvPool f32(model_->arch().kv_shape(), 4, 16), kv(shape(), 4, 16);
  EXPECT_EQ(kv.shape().f16, f16());
  EXPECT_EQ(kv.bytes() * (f16() ? 2 : 1), f32.bytes());
}

INSTANTIATE_TEST_SUITE_P(Models, PagedKvTest,
                         ::testing::Values(PagedKvCase{"tiny-llama-Q8_0.gguf", false},
                                           PagedKvCase{"tiny-qwen2-Q8_0.gguf", false},
                                           PagedKvCase{"tiny-deepseek2-Q8_0.gguf", false},
                                           PagedKvCase{"tiny-llama-Q8_0.gguf", true},
                                           PagedKvCase{"tiny-qwen2-Q8_0.gguf", true},
                                           PagedKvCase{"tiny-deepseek2-Q8_0.gguf", true}),
                         [](const auto& p) {
                           std::string n = p.param.model;
                           n = n.substr(5, n.find('-', 5) - 5);
                           return n + (p.param.f16 ? "_f16" : "");
                         });

// The real trained model with an f16 cache (llama.cpp's default cache type) tells the same
// story greedily as with the f32 one the references were made with, and its logits stay close.
TEST(F16KvCache, RealModelGreedyTokensAsWithF32) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  auto m = Model::load(test::fixture_path("models/stories260K.gguf"));
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ThreadPool pool(2);
  std::vector<int32_t> greedy[2];
  double worst = 0;
  Context f32(*m, pool, {.n_ctx = 128});
  Context f16(*m, pool, {.n_ctx = 128, .kv_f16 = true});
  const std::vector<int32_t> toks =
      (*m)->tokenizer().encode("Once upon a time", {.add_special = true, .parse_special = false});
  for (int i = 0; i < 48; ++i) {
    int32_t next[2];
    for (int c = 0; c < 2; ++c) {
      Context& ctx = c == 0 ? f32 : f16;
      const auto in =
          i == 0 ? std::span<const int32_t>(toks) : std::span<const int32_t>(&greedy[c].back(), 1);
      ASSERT_TRUE(ctx.eval(in).is_ok());
      const float* l = ctx.logits();
      next[c] = static_cast<int32_t>(std::max_element(l, l + ctx.n_vocab()) - l);
      greedy[c].push_back(next[c]);
    }
    const float* a = f32.logits();
    const float* b = f16.logits();
    double scale = 0, diff = 0;
    for (int64_t v = 0; v < f32.n_vocab(); ++v) {
      scale = std::max(scale, std::fabs(static_cast<double>(a[v])));
      diff = std::max(diff, std::fabs(static_cast<double>(a[v]) - b[v]));
    }
    worst = std::max(worst, diff / scale);
  }
  EXPECT_EQ(greedy[0], greedy[1]);
  EXPECT_LT(worst, 1e-2);
  EXPECT_GT(worst, 0.0);  // the f16 rows really are rounded
}

}  // namespace
}  // namespace dkb::engine
