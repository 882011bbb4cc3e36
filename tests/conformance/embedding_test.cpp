// Conformance: pooled embeddings of the bert fixtures against llama.cpp's.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "engine/context.h"
#include "engine/model.h"
#include "support/fixtures.h"

namespace dkb {
namespace {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

struct EmbCase {
  const char* model;
  // F16: the bound. Q8_0: weights carry ~0.4% relative error per block and
  // activations are re-quantized to Q8_0 at every matmul, on both sides identically, so the
  // same bound holds; it is kept equal rather than loosened.
  double min_cosine;
};

class EmbeddingConformance : public ::testing::TestWithParam<EmbCase> {};

TEST_P(EmbeddingConformance, PooledEmbeddingMatchesLlamaCpp) {
  const EmbCase& c = GetParam();
  std::string model_rel = std::string("models/") + c.model + ".gguf";
  std::string ref_rel = std::string("reference/") + c.model + ".json";
  DKB_REQUIRE_FIXTURE(model_rel);
  auto model = engine::Model::load(test::fixture_path(model_rel));
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto ref = nlohmann::json::parse(test::read_file(test::fixture_path(ref_rel)));
  ThreadPool pool(2);
  engine::Context ctx(*model, pool, {});
  for (const auto& rc : ref["cases"]) {
    auto ids = rc["prompt_tokens"].get<std::vector<int32_t>>();
    auto want = rc["embedding"].get<std::vector<float>>();
    auto got = ctx.embed(ids, /*normalize=*/false);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    ASSERT_EQ(got->size(), want.size());
    EXPECT_GE(cosine(*got, want), c.min_cosine) << rc["prompt"].get<std::string>();
    // Tokenizer: WordPiece must produce llama.cpp's ids (CLS ... SEP).
    auto enc = (*model)->tokenizer().encode(rc["prompt"].get<std::string>(),
                                             {.add_special = true, .parse_special = false});
    EXPECT_EQ(enc, ids) << rc["prompt"].get<std::string>();
  }
}

TEST_P(EmbeddingConformance, BatchedInputsMatchOneByOne) {
  const EmbCase& c = GetParam();
  std::string model_rel = std::string("models/") + c.model + ".gguf";
  std::string ref_rel = std::string("reference/") + c.model + ".json";
  DKB_REQUIRE_FIXTURE(model_rel);
  auto model = engine::Model::load(test::fixture_path(model_rel));
  ASSERT_TRUE(model.is_ok());
  auto ref = nlohmann::json::parse(test::read_file(test::fixture_path(ref_rel)));
  ThreadPool pool(2);
  engine::Context ctx(*model, pool, {});
  std::vector<std::vector<int32_t>> inputs;
  std::vector<std::vector<float>> want;
  for (const auto& rc : ref["cases"]) {
    inputs.push_back(rc["prompt_tokens"].get<std::vector<int32_t>>());
    want.push_back(rc["embedding"].get<std::vector<float>>());
  }
  auto got = ctx.embed_batch(inputs, false);  // all inputs in one forward pass
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_GE(cosine((*got)[i], want[i]), c.min_cosine) << i;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EmbeddingConformance,
                         ::testing::Values(EmbCase{"tiny-bert-F16", 0.9999},
                                           EmbCase{"tiny-bert-Q8_0", 0.9999}),
                         [](const auto& param_info) {
                           std::string n = param_info.param.model;
                           for (char& ch : n) if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace dkb
