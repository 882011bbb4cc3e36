// DeepSeek-V2 (MLA + MoE) decode on a real model file: the absorbed attention and the one-token
// MoE path give a token the bits the same token gets inside a prefill chunk, and the absorbed
// and decompressing attentions agree to float rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "engine/context.h"
#include "engine/model.h"
#include "support/fixtures.h"

namespace dkb::engine {
namespace {

const char* const kModel = "models/tiny-deepseek2-Q8_0.gguf";

std::shared_ptr<const Model> load(const char* mla) {
  setenv("DKB_MLA", mla, 1);
  auto m = Model::load(test::fixture_path(kModel));
  unsetenv("DKB_MLA");
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return m.is_ok() ? *m : nullptr;
}

std::vector<int32_t> tokens(int n, int64_t n_vocab) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 29 + 7) % n_vocab);
  return t;
}

// Logits of every position, the prompt in one chunk, or token by token.
std::vector<float> run(const std::shared_ptr<const Model>& m, ThreadPool& pool,
                       const std::vector<int32_t>& toks, bool one_chunk) {
  Context ctx(m, pool, {.n_ctx = 64, .n_batch = 64});
  const int64_t nv = ctx.n_vocab();
  std::vector<float> out;
  if (one_chunk) {
    EXPECT_TRUE(ctx.eval(toks, true).is_ok());
    out.assign(ctx.logits(0), ctx.logits(0) + static_cast<int64_t>(toks.size()) * nv);
    return out;
  }
  for (int32_t t : toks) {
    EXPECT_TRUE(ctx.eval(std::span<const int32_t>(&t, 1), true).is_ok());
    out.insert(out.end(), ctx.logits(0), ctx.logits(0) + nv);
  }
  return out;
}

TEST(Deepseek2Decode, OneTokenStepsEqualThePrefillChunkBitForBit) {
  DKB_REQUIRE_FIXTURE(kModel);
  ThreadPool pool(2);
  // Absorbed attention for both, so the one-token steps (moe_one_token) and the chunk (MoE
  // grouped per expert) differ only in the MoE's path.
  auto m = load("absorb");
  ASSERT_TRUE(m);
  const auto toks = tokens(21, m->hparams().n_vocab);
  const auto chunk = run(m, pool, toks, true);
  const auto steps = run(m, pool, toks, false);
  ASSERT_EQ(chunk.size(), steps.size());
  EXPECT_TRUE(chunk == steps);
}

TEST(Deepseek2Decode, AbsorbedAndDecompressedAttentionAgree) {
  DKB_REQUIRE_FIXTURE(kModel);
  ThreadPool pool(2);
  auto absorbed = load("absorb");
  auto decompressed = load("decompress");
  ASSERT_TRUE(absorbed && decompressed);
  const auto toks = tokens(21, absorbed->hparams().n_vocab);
  // An f32 cache: with an f16 one the two forms round the cached latent differently (the
  // decompressing one quantizes the halves again for attn_kv_b), and this random-weight model
  // turns those 2^-11 differences into ~1% of its logits.
  const auto a = run(absorbed, pool, toks, false);
  const auto d = run(decompressed, pool, toks, false);
  ASSERT_EQ(a.size(), d.size());
  const int64_t nv = absorbed->hparams().n_vocab;
  // Position 0 attends to itself alone: no quantization flip can have built up yet.
  double scale = 0, diff = 0;
  for (int64_t i = 0; i < nv; ++i) {
    scale = std::max(scale, std::fabs(static_cast<double>(d[i])));
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - d[i]));
  }
  EXPECT_LE(diff, 1e-4 * scale);
  // Every position picks the same top token where its margin is clear.
  for (size_t p = 0; p < toks.size(); ++p) {
    const float* ra = a.data() + p * nv;
    const float* rd = d.data() + p * nv;
    int64_t ba = 0, bd = 0, second = -1;
    for (int64_t i = 1; i < nv; ++i) {
      if (ra[i] > ra[ba]) ba = i;
      if (rd[i] > rd[bd]) bd = i;
    }
    for (int64_t i = 0; i < nv; ++i) {
      if (i != bd && (second < 0 || rd[i] > rd[second])) second = i;
    }
    if (rd[bd] - rd[second] > 0.01f * std::fabs(rd[bd])) {
      EXPECT_EQ(ba, bd) << "position " << p;
    }
  }
}

// A DKB_MLA value other than the two forms is refused when the model loads, with a message that
// names it; an empty one leaves the choice to the cost estimate.
TEST(Deepseek2Decode, UnknownMlaFormIsRefused) {
  DKB_REQUIRE_FIXTURE(kModel);
  setenv("DKB_MLA", "absorbed", 1);
  auto bad = Model::load(test::fixture_path(kModel));
  setenv("DKB_MLA", "", 1);
  auto empty = Model::load(test::fixture_path(kModel));
  unsetenv("DKB_MLA");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("DKB_MLA='absorbed'"), std::string::npos)
      << bad.status().to_string();
  EXPECT_TRUE(empty.is_ok()) << empty.status().to_string();
}

}  // namespace
}  // namespace dkb::engine
