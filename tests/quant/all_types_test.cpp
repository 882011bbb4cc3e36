// Every file type `deepkb quantize` accepts writes a file that loads and runs, with logits whose
// distance from the F16 reference grows as the bits shrink.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/quantize.h"
#include "quant_test_util.h"
#include "support/fixtures.h"

namespace dkb {
namespace {

using quant_test::TempDir;

struct TypeBound {
  engine::FileType ftype;
  double max_rel;  // worst relative logit error vs llama.cpp's F16 logits (prompt positions)
};

// Bounds: measured on tiny-llama (random weights, which amplify weight error far more than a
// trained model: llama.cpp's own Q8_0 file is 0.033 from F16 here, its Q4_K_M 0.25, its Q4_0
// 0.36) times about 1.5, the same slack as quantize_file_test.cpp's comparison with llama.cpp.
const TypeBound kBounds[] = {
    {engine::FileType::kAllF32, 1e-3},     {engine::FileType::kMostlyF16, 1e-3},
    {engine::FileType::kMostlyBF16, 0.05}, {engine::FileType::kQ8_0, 0.05},
    {engine::FileType::kQ6_K, 0.15},       {engine::FileType::kQ5_K_M, 0.25},
    {engine::FileType::kQ5_K_S, 0.25},     {engine::FileType::kQ5_1, 0.35},
    {engine::FileType::kQ5_0, 0.35},       {engine::FileType::kQ4_K_M, 0.40},
    {engine::FileType::kQ4_K_S, 0.45},     {engine::FileType::kQ4_1, 0.6},
    {engine::FileType::kQ4_0, 0.6},        {engine::FileType::kQ3_K_L, 0.8},
    {engine::FileType::kQ3_K_M, 0.8},      {engine::FileType::kQ3_K_S, 1.0},
    {engine::FileType::kQ2_K, 1.5},
};

TEST(QuantizeAllTypes, LoadAndRunWithBoundedError) {
  DKB_REQUIRE_FIXTURE("models/tiny-llama-F16.gguf");
  DKB_REQUIRE_FIXTURE("reference/tiny-llama-F16.json");
  const auto ref =
      nlohmann::json::parse(test::read_file(test::fixture_path("reference/tiny-llama-F16.json")));
  for (const auto& b : kBounds) {
    TempDir dir;
    engine::QuantizeOptions opts;
    opts.ftype = b.ftype;
    auto rep = engine::quantize_model_file(test::fixture_path("models/tiny-llama-F16.gguf"),
                                           dir.file("q.gguf"), opts);
    ASSERT_TRUE(rep.is_ok()) << engine::file_type_name(b.ftype) << ": " << rep.status().to_string();
    auto model = engine::Model::load(dir.file("q.gguf"));
    ASSERT_TRUE(model.is_ok()) << engine::file_type_name(b.ftype) << ": "
                               << model.status().to_string();
    EXPECT_EQ((*model)->file().get_uint("general.file_type"), static_cast<uint64_t>(b.ftype));
    double worst = 0;
    for (const auto& c : ref["cases"]) {
      const auto prompt = c["prompt_tokens"].get<std::vector<int32_t>>();
      std::vector<std::vector<float>> want;
      for (size_t p = 0; p < prompt.size(); ++p) {
        want.push_back(c["logits"][p].get<std::vector<float>>());
      }
      worst =
          std::max(worst, quant_test::worst_rel_diff(quant_test::logits_of(*model, prompt), want));
    }
    std::printf("%-7s %8.3f MiB  worst relative logit error vs F16 %.4f\n",
                std::string(engine::file_type_name(b.ftype)).c_str(),
                static_cast<double>(rep->tensor_bytes_out) / 1048576.0, worst);
    EXPECT_LE(worst, b.max_rel) << engine::file_type_name(b.ftype);
  }
}

}  // namespace
}  // namespace dkb
