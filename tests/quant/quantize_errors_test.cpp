// Bad inputs to the quantizer get clear errors and leave no output behind; odd shapes fall
// back like llama.cpp; the plan's use_more_bits rule on a deeper (synthetic) model.
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <random>

#include "engine/quant_plan.h"
#include "engine/quantize.h"
#include "kernels/kernels.h"
#include "quant_test_util.h"
#include "support/fixtures.h"

namespace dkb {
namespace {

using quant_test::TempDir;

// A small llama-shaped GGUF with F32 weights: tensors given as (name, ne).
std::string write_model(const TempDir& dir, const std::string& name,
                        const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                        int n_layer = 1, TensorType type = TensorType::kF32) {
  gguf::Writer w;
  w.set_u32("general.file_type", 0);  // first, as convert_hf_to_gguf.py writes it early
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", static_cast<uint32_t>(n_layer));
  w.set_u32("llama.attention.head_count", 4);
  w.set_u32("llama.attention.head_count_kv", 4);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  for (const auto& [tname, ne] : tensors) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::vector<float> f(static_cast<size_t>(n));
    for (auto& v : f) v = dist(rng);
    std::vector<uint8_t> bytes(tensor_row_size(type, ne[0]) * static_cast<size_t>(n / ne[0]));
    kernels::quantize_row(type, f.data(), bytes.data(), n);
    EXPECT_TRUE(w.add_tensor(tname, type, ne, bytes.data(), bytes.size()).is_ok());
  }
  const std::string path = dir.file(name);
  EXPECT_TRUE(w.write(path).is_ok());
  return path;
}

engine::QuantizeOptions opts_for(engine::FileType t) {
  engine::QuantizeOptions o;
  o.ftype = t;
  o.threads = 2;
  return o;
}

TEST(QuantizeErrors, MissingInput) {
  TempDir dir;
  auto r = engine::quantize_model_file(dir.file("nope.gguf"), dir.file("out.gguf"),
                                       opts_for(engine::FileType::kQ4_0));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound) << r.status().to_string();
  EXPECT_NE(r.status().message().find("nope.gguf"), std::string::npos);
  EXPECT_EQ(dir.n_entries(), 0u);
}

TEST(QuantizeErrors, CorruptInput) {
  TempDir dir;
  {
    std::ofstream f(dir.file("bad.gguf"), std::ios::binary);
    const char bytes[] = "GGUF\x03\0\0\0\xff\xff\xff\xff\xff\xff\xff\x7fgarbage";
    f.write(bytes, sizeof bytes - 1);  // v3, then an absurd tensor count
  }
  auto r = engine::quantize_model_file(dir.file("bad.gguf"), dir.file("out.gguf"),
                                       opts_for(engine::FileType::kQ8_0));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorruption) << r.status().to_string();
  EXPECT_EQ(dir.n_entries(), 1u);  // only the input
}

TEST(QuantizeErrors, UnknownTypeNames) {
  EXPECT_FALSE(engine::file_type_from_name("q3").has_value());
  EXPECT_FALSE(engine::file_type_from_name("IQ2_XXS").has_value());
  EXPECT_FALSE(engine::file_type_from_name("").has_value());
  EXPECT_EQ(engine::file_type_from_name("q4_k_m"), engine::FileType::kQ4_K_M);
  EXPECT_EQ(engine::file_type_from_name("Q8_0"), engine::FileType::kQ8_0);
  EXPECT_EQ(static_cast<uint32_t>(*engine::file_type_from_name("Q5_K_M")), 17u);  // LLAMA_FTYPE
  EXPECT_NE(engine::supported_file_type_names().find("Q4_K_M"), std::string::npos);
}

TEST(QuantizeErrors, OutputIsInput) {
  TempDir dir;
  const std::string in = write_model(dir, "m.gguf", {{"blk.0.attn_q.weight", {64, 64}}});
  auto r = engine::quantize_model_file(in, in, opts_for(engine::FileType::kQ8_0));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
}

TEST(QuantizeErrors, UnwritableOutputLeavesNothing) {
  TempDir dir;
  const std::string in = write_model(dir, "m.gguf", {{"blk.0.attn_q.weight", {64, 64}}});
  auto r = engine::quantize_model_file(in, dir.file("no/such/dir/out.gguf"),
                                       opts_for(engine::FileType::kQ8_0));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kIOError) << r.status().to_string();
  EXPECT_EQ(dir.n_entries(), 1u);
}

// Re-quantizing is refused by default (and says how to override), allowed with a warning.
TEST(QuantizeErrors, RequantizeNeedsExplicitPermission) {
  DKB_REQUIRE_FIXTURE("models/tiny-llama-Q8_0.gguf");
  TempDir dir;
  const std::string in = test::fixture_path("models/tiny-llama-Q8_0.gguf");
  auto r = engine::quantize_model_file(in, dir.file("out.gguf"), opts_for(engine::FileType::kQ4_0));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("--allow-requantize"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(dir.n_entries(), 0u);

  auto o = opts_for(engine::FileType::kQ4_0);
  o.allow_requantize = true;
  auto ok = engine::quantize_model_file(in, dir.file("out.gguf"), o);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->n_requantized, 30);  // every 2-D weight (output.weight: Q8_0 → Q6_K)
  auto m = engine::Model::load(dir.file("out.gguf"));
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
}

// Integer tensors cannot be converted: a clear error naming the tensor.
TEST(QuantizeErrors, IntegerWeightTensor) {
  TempDir dir;
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  std::vector<int32_t> v(64 * 4, 1);
  ASSERT_TRUE(w.add_tensor("blk.0.attn_q.weight", TensorType::kI32, {64, 4}, v.data(),
                           v.size() * sizeof(int32_t))
                  .is_ok());
  ASSERT_TRUE(w.write(dir.file("i.gguf")).is_ok());
  auto r = engine::quantize_model_file(dir.file("i.gguf"), dir.file("out.gguf"),
                                       opts_for(engine::FileType::kQ8_0));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("blk.0.attn_q.weight"), std::string::npos);
}

// NaN/Inf weights are rejected with the tensor and row named (llama.cpp: "quantized data
// validation failed"), both by the file quantizer and at load time.
TEST(QuantizeErrors, NonFiniteWeights) {
  TempDir dir;
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  std::vector<float> v(64 * 4, 0.25f);
  v[64 * 2 + 5] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(w.add_tensor("blk.0.attn_q.weight", TensorType::kF32, {64, 4}, v.data(), v.size() * 4)
                  .is_ok());
  ASSERT_TRUE(w.write(dir.file("nan.gguf")).is_ok());
  auto r = engine::quantize_model_file(dir.file("nan.gguf"), dir.file("out.gguf"),
                                       opts_for(engine::FileType::kQ8_0));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("tensor 'blk.0.attn_q.weight'"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("row 2 contains NaN"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(dir.n_entries(), 1u);
  auto f = gguf::File::open(dir.file("nan.gguf"));
  ASSERT_TRUE(f.is_ok());
  std::vector<std::vector<uint8_t>> buffers;
  auto m = engine::quantize_in_memory(*f, engine::FileType::kQ4_0, 1, buffers);
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("row 2 contains NaN"), std::string::npos)
      << m.status().message();
}

// Rows that do not fit the block size fall back as llama.cpp does: Q4_K → Q5_0, Q6_K → Q8_0,
// then F16; legacy targets (llama.cpp refuses) go to F16. Norms and 1-D tensors stay F32.
TEST(QuantizePlan, FallbacksAndCopies) {
  TempDir dir;
  const std::string in = write_model(dir, "m.gguf",
                                     {{"output.weight", {96, 16}},  // Q6_K: 96 % 256
                                      {"token_embd.weight", {96, 16}},
                                      {"output_norm.weight", {96}},
                                      {"blk.0.attn_q.weight", {96, 32}},  // Q4_K → Q5_0
                                      {"blk.0.attn_k.weight", {48, 32}},  // → F16 (48 % 32)
                                      {"blk.0.attn_norm.weight", {96}},
                                      {"blk.0.ffn_gate_inp.weight", {96, 4}}});
  auto r =
      engine::quantize_model_file(in, dir.file("out.gguf"), opts_for(engine::FileType::kQ4_K_M));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto f = gguf::File::open(dir.file("out.gguf"));
  ASSERT_TRUE(f.is_ok());
  auto type_of = [&](const char* n) { return f->find_tensor(n)->type; };
  EXPECT_EQ(type_of("output.weight"), TensorType::kQ8_0);  // non-256 rows: Q8_0 directly
  EXPECT_EQ(type_of("token_embd.weight"), TensorType::kQ5_0);
  EXPECT_EQ(type_of("output_norm.weight"), TensorType::kF32);
  EXPECT_EQ(type_of("blk.0.attn_q.weight"), TensorType::kQ5_0);
  EXPECT_EQ(type_of("blk.0.attn_k.weight"), TensorType::kF16);
  EXPECT_EQ(type_of("blk.0.attn_norm.weight"), TensorType::kF32);
  EXPECT_EQ(type_of("blk.0.ffn_gate_inp.weight"), TensorType::kF32);
  EXPECT_EQ(r->n_fallback, 3);
  // general.file_type moved to the end after quantization_version, as llama.cpp does.
  const auto& kv = f->metadata();
  ASSERT_GE(kv.size(), 2u);
  EXPECT_EQ(kv[kv.size() - 2].first, "general.quantization_version");
  EXPECT_EQ(kv.back().first, "general.file_type");
  EXPECT_EQ(f->get_uint("general.file_type"), 15u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  // Legacy target, row not a multiple of 32.
  auto r2 =
      engine::quantize_model_file(in, dir.file("out2.gguf"), opts_for(engine::FileType::kQ4_0));
  ASSERT_TRUE(r2.is_ok()) << r2.status().to_string();
  auto f2 = gguf::File::open(dir.file("out2.gguf"));
  EXPECT_EQ(f2->find_tensor("blk.0.attn_k.weight")->type, TensorType::kF16);
  EXPECT_EQ(f2->find_tensor("blk.0.attn_q.weight")->type, TensorType::kQ4_0);
  EXPECT_EQ(f2->find_tensor("output.weight")->type, TensorType::kQ8_0);
}

// use_more_bits on 32 layers: attn_v and ffn_down get Q6_K in layers 0-3, 28-31 and every
// third in between (6, 9, ..., 27), Q4_K elsewhere (Q4_K_M); Q4_K_S: attn_v Q5_K in the first
// four layers, ffn_down Q5_K in the first eighth.
TEST(QuantizePlan, UseMoreBitsOnDeepModel) {
  TempDir dir;
  std::vector<std::pair<std::string, std::vector<int64_t>>> ts;
  const int n_layer = 32;
  for (int i = 0; i < n_layer; ++i) {
    ts.push_back({"blk." + std::to_string(i) + ".attn_v.weight", {256, 2}});
    ts.push_back({"blk." + std::to_string(i) + ".ffn_down.weight", {256, 2}});
  }
  ts.push_back({"output.weight", {256, 2}});
  const std::string in = write_model(dir, "deep.gguf", ts, n_layer);
  auto f = gguf::File::open(in);
  ASSERT_TRUE(f.is_ok());
  auto more = [](int i) { return i < 4 || i >= 28 || (i - 4) % 3 == 2; };
  for (auto ft :
       {engine::FileType::kQ4_K_M, engine::FileType::kQ5_K_M, engine::FileType::kQ4_K_S}) {
    engine::QuantPlanner planner(ft, *f);
    for (size_t idx : engine::llama_tensor_order(*f)) {
      const auto& t = f->tensors()[idx];
      const auto d = planner.decide(t);
      if (t.name == "output.weight") {
        EXPECT_EQ(d.type, TensorType::kQ6_K);
        continue;
      }
      const int layer = std::stoi(t.name.substr(4));
      const bool is_v = t.name.find("attn_v") != std::string::npos;
      TensorType want;
      if (ft == engine::FileType::kQ4_K_S) {
        want = (is_v ? layer < 4 : layer < n_layer / 8) ? TensorType::kQ5_K : TensorType::kQ4_K;
      } else {
        const TensorType base =
            ft == engine::FileType::kQ4_K_M ? TensorType::kQ4_K : TensorType::kQ5_K;
        want = more(layer) ? TensorType::kQ6_K : base;
      }
      EXPECT_EQ(d.type, want) << engine::file_type_name(ft) << " " << t.name;
    }
  }
}

TEST(QuantizePlan, TiedEmbeddingsGetOutputType) {
  TempDir dir;
  const std::string in = write_model(
      dir, "tied.gguf", {{"token_embd.weight", {256, 8}}, {"blk.0.attn_q.weight", {256, 256}}});
  auto f = gguf::File::open(in);
  ASSERT_TRUE(f.is_ok());
  engine::QuantPlanner planner(engine::FileType::kQ4_0, *f);
  for (size_t idx : engine::llama_tensor_order(*f)) {
    const auto& t = f->tensors()[idx];
    const auto d = planner.decide(t);
    EXPECT_EQ(d.type, t.name == "token_embd.weight" ? TensorType::kQ6_K : TensorType::kQ4_0);
  }
}

}  // namespace
}  // namespace dkb
