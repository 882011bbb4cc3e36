// Conformance: teacher-forced logits and greedy decoding against llama.cpp's outputs on the
// same GGUF files (../shared/fixtures/reference, llama.cpp build 4748, f32 KV cache).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "support/fixtures.h"

namespace dkb {
namespace {

struct Case {
  std::string model;
  // Largest allowed |ours - ref| relative to the row's largest |ref| logit.
  double rel_tol;
  // DKB_MLA while the model loads (deepseek2: "absorb" forces the absorbed attention that
  // decode takes past ~35 positions, these prompts being shorter); empty: unset.
  const char* mla = "";
};

// Tolerances (largest |ours - ref| over a row, relative to the row's largest |ref| logit).
//
// What was measured: every position agrees with llama.cpp to ~1e-6 relative until, at some
// position, one activation lands within float rounding of a quantization boundary (BF16
// rounding, or the Q8_0/Q8_K quantization of activations before a quantized matmul) and rounds
// the other way, because ggml (AVX-512 build) and we sum in a different order. That one-step
// flip then reaches later positions through the KV cache. Its size is bounded by the step:
//  - F32/F16 weights: no activation rounding that coarse; the 1e-3 holds.
//  - BF16: a flip moves one activation by 2^-8 relative; measured worst 4.1e-3 → 5e-3.
//  - Q8_0 activations (Q4_0, Q8_0 weights): a flip moves one activation by amax/127 of its
//    block of 32; measured worst 3.4e-3 → 5e-3.
//  - Q8_K activations (K-quants) and MoE routing (deepseek2, where a flip can change the
//    selected expert): measured worst 1.9e-2 → 2.5e-2.
// Systematic errors are still caught: wherever the bound exceeds 1e-3, the first position of
// every case (no cache, no flip history) must agree to 1e-4, and the argmax must agree wherever the top-1 margin is clear.
const Case kCases[] = {
    {"stories260K", 1e-3},        {"stories260K-F16", 1e-3},     {"tiny-llama-F16", 1e-3},
    {"tiny-llama-Q8_0", 5e-3},    {"tiny-llama-Q4_0", 5e-3},     {"tiny-llama-Q4_K_M", 2.5e-2},
    {"tiny-qwen2-BF16", 5e-3},    {"tiny-qwen2-Q8_0", 5e-3},     {"tiny-qwen2-Q4_K_M", 2.5e-2},
    {"tiny-qwen2-Q5_K_M", 2.5e-2}, {"tiny-qwen2-Q6_K", 2.5e-2},
    {"tiny-deepseek2-F16", 1e-3}, {"tiny-deepseek2-Q8_0", 2.5e-2}, {"tiny-deepseek2-Q4_K_M", 2.5e-2},
    {"tiny-deepseek2-F16", 1e-3, "absorb"}, {"tiny-deepseek2-Q8_0", 2.5e-2, "absorb"},
    {"tiny-deepseek2-Q4_K_M", 2.5e-2, "absorb"},
};

// The model of a case, loaded with its DKB_MLA setting.
Result<std::shared_ptr<const engine::Model>> load_case(const Case& c, const std::string& rel) {
  if (*c.mla != '\0') setenv("DKB_MLA", c.mla, 1);
  auto m = engine::Model::load(test::fixture_path(rel));
  unsetenv("DKB_MLA");
  return m;
}

class LogitsConformance : public ::testing::TestWithParam<Case> {};

TEST_P(LogitsConformance, TeacherForcedLogitsMatchLlamaCpp) {
  const Case& c = GetParam();
  const std::string model_rel = "models/" + c.model + ".gguf";
  const std::string ref_rel = "reference/" + c.model + ".json";
  DKB_REQUIRE_FIXTURE(model_rel);
  DKB_REQUIRE_FIXTURE(ref_rel);
  auto model = load_case(c, model_rel);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto ref = nlohmann::json::parse(test::read_file(test::fixture_path(ref_rel)));
  ThreadPool pool(2);
  const int64_t n_vocab = ref["n_vocab"].get<int64_t>();
  for (const auto& rc : ref["cases"]) {
    std::vector<int32_t> tokens = rc["prompt_tokens"].get<std::vector<int32_t>>();
    auto greedy = rc["greedy_tokens"].get<std::vector<int32_t>>();
    tokens.insert(tokens.end(), greedy.begin(), greedy.end() - 1);
    const auto& logits = rc["logits"];
    ASSERT_EQ(logits.size(), tokens.size());
    engine::Context ctx(*model, pool, {});
    ASSERT_EQ(ctx.n_vocab(), n_vocab);
    ASSERT_TRUE(ctx.eval(tokens, true).is_ok());
    double worst = 0;
    int argmax_mismatch_clear = 0;
    for (size_t pos = 0; pos < tokens.size(); ++pos) {
      std::vector<float> want = logits[pos].get<std::vector<float>>();
      const float* got = ctx.logits(static_cast<int64_t>(pos));
      double scale = 0, diff = 0;
      for (int64_t i = 0; i < n_vocab; ++i) {
        scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
        diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - want[i]));
      }
      worst = std::max(worst, diff / std::max(scale, 1e-6));
      if (pos == 0 && c.rel_tol > 1e-3) {
        EXPECT_LE(diff / std::max(scale, 1e-6), 1e-4) << c.model << ": first position must be exact";
      }
      // Same argmax wherever the reference's top-1 margin is clear (> 1% of the scale).
      std::vector<float> sorted = want;
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
      int64_t ref_top = std::max_element(want.begin(), want.end()) - want.begin();
      int64_t our_top = std::max_element(got, got + n_vocab) - got;
      if (sorted[0] - sorted[1] > 0.01 * scale && ref_top != our_top) ++argmax_mismatch_clear;
    }
    EXPECT_LE(worst, c.rel_tol) << c.model << " prompt '" << rc["prompt"].get<std::string>() << "'";
    EXPECT_EQ(argmax_mismatch_clear, 0) << c.model;
  }
}

TEST_P(LogitsConformance, GreedyTokensMatchWhereMarginIsClear) {
  const Case& c = GetParam();
  const std::string model_rel = "models/" + c.model + ".gguf";
  const std::string ref_rel = "reference/" + c.model + ".json";
  DKB_REQUIRE_FIXTURE(model_rel);
  DKB_REQUIRE_FIXTURE(ref_rel);
  auto model = load_case(c, model_rel);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto ref = nlohmann::json::parse(test::read_file(test::fixture_path(ref_rel)));
  ThreadPool pool(2);
  for (const auto& rc : ref["cases"]) {
    auto prompt = rc["prompt_tokens"].get<std::vector<int32_t>>();
    auto want = rc["greedy_tokens"].get<std::vector<int32_t>>();
    const auto& logits = rc["logits"];
    // Compare up to the first step whose reference top-1 margin is not clear.
    size_t n_clear = 0;
    for (; n_clear < want.size(); ++n_clear) {
      std::vector<float> row = logits[prompt.size() - 1 + n_clear].get<std::vector<float>>();
      std::partial_sort(row.begin(), row.begin() + 2, row.end(), std::greater<>());
      double scale = std::max(std::fabs(row[0]), std::fabs(row.back()));
      if (row[0] - row[1] <= 0.01 * scale) break;
    }
    engine::Context ctx(*model, pool, {});
    engine::GenerateParams gp;
    gp.max_tokens = static_cast<int32_t>(want.size());
    gp.sampling.temperature = 0;
    gp.ignore_eos = true;
    auto res = engine::generate(ctx, prompt, gp);
    ASSERT_TRUE(res.is_ok()) << res.status().to_string();
    ASSERT_GE(res->tokens.size(), n_clear);
    for (size_t i = 0; i < n_clear; ++i) {
      ASSERT_EQ(res->tokens[i], want[i]) << c.model << " step " << i;
    }
    if (c.model.rfind("stories260K", 0) == 0) {
      // The trained model: the whole greedy continuation and its text match exactly.
      EXPECT_EQ(res->tokens, want);
      EXPECT_EQ(res->text, rc["greedy_text"].get<std::string>());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LogitsConformance, ::testing::ValuesIn(kCases),
                         [](const auto& param_info) {
                           std::string n = param_info.param.model;
                           std::replace(n.begin(), n.end(), '-', '_');
                           if (*param_info.param.mla != '\0') n += std::string("_mla_") + param_info.param.mla;
                           return n;
                         });

}  // namespace
}  // namespace dkb
