// Load-time quantization (engine::LoadOptions::quantize): the same weights, hence the same
// logits, as loading the file `deepkb quantize` writes, with the quantized footprint.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/huge_page_buffer.h"
#include "engine/quantize.h"
#include "kernels/kernels.h"
#include "quant_test_util.h"
#include "support/fixtures.h"

namespace dkb {
namespace {

using quant_test::TempDir;

std::vector<int32_t> first_reference_sequence(const std::string& ref_rel) {
  const auto ref = nlohmann::json::parse(test::read_file(test::fixture_path(ref_rel)));
  const auto& c = ref["cases"][0];
  auto tokens = c["prompt_tokens"].get<std::vector<int32_t>>();
  const auto greedy = c["greedy_tokens"].get<std::vector<int32_t>>();
  tokens.insert(tokens.end(), greedy.begin(), greedy.end());
  return tokens;
}

class LoadTimeQuant : public ::testing::TestWithParam<engine::FileType> {};

// Bit-identical logits: load-time quantization runs the same plan and quantizers as the file
// quantizer, so every weight byte, and so every float op of the forward pass, is the same.
TEST_P(LoadTimeQuant, SameLogitsAsQuantizedFile) {
  const engine::FileType ftype = GetParam();
  for (const std::string name : {"tiny-llama-F16", "tiny-qwen2-BF16"}) {
    const std::string model_rel = "models/" + name + ".gguf";
    DKB_REQUIRE_FIXTURE(model_rel);
    DKB_REQUIRE_FIXTURE("reference/" + name + ".json");
    TempDir dir;
    engine::QuantizeOptions opts;
    opts.ftype = ftype;
    ASSERT_TRUE(engine::quantize_model_file(test::fixture_path(model_rel), dir.file("q.gguf"), opts)
                    .is_ok());
    // The file's bytes as they are (mapped); loaded by default, the matrices may be reordered
    // in place for the kernels (WeightLayout::kInterleaved16 where it pays), with the same
    // logits.
    engine::LoadOptions mapped;
    mapped.mmap = true;
    auto file_rows = engine::Model::load(dir.file("q.gguf"), mapped);
    ASSERT_TRUE(file_rows.is_ok()) << file_rows.status().to_string();
    auto from_file = engine::Model::load(dir.file("q.gguf"));
    ASSERT_TRUE(from_file.is_ok()) << from_file.status().to_string();
    engine::LoadOptions lo;
    lo.quantize = ftype;
    lo.threads = 2;
    auto in_memory = engine::Model::load(test::fixture_path(model_rel), lo);
    ASSERT_TRUE(in_memory.is_ok()) << in_memory.status().to_string();

    // Same tensor types and bytes. Where the kernels take the interleaved layout (at AVX-512,
    // the types interleave.cpp lists), a load reorders the matrices (only those) in the bytes it owns: the huge-page
    // copy (from_file, when the kernel offers huge pages) and the load-time quantized buffers
    // (in_memory); the rows come back with deinterleave_rows.
    const bool copy = (*from_file)->file().backing() == MappedFile::Backing::kHugePageCopy;
    int reordered = 0;
    for (const auto& t : (*file_rows)->file().tensors()) {
      const gguf::TensorInfo* m = (*in_memory)->file().find_tensor(t.name);
      const gguf::TensorInfo* d = (*from_file)->file().find_tensor(t.name);
      ASSERT_NE(m, nullptr) << t.name;
      ASSERT_NE(d, nullptr) << t.name;
      EXPECT_EQ(m->type, t.type) << t.name;
      ASSERT_EQ(m->n_bytes, t.n_bytes) << t.name;
      const bool matrix = t.name.find("embd") == std::string::npos && t.ne.size() >= 2 &&
                          kernels::interleave_pays(t.type, t.ne[0], t.ne[1]);
      auto rows_of = [&](const gguf::TensorInfo& x, bool reordered_here) {
        std::vector<uint8_t> v(x.data, x.data + x.n_bytes);
        if (!reordered_here) return v;
        // One 2-D slice at a time, as the loader rewrites them.
        const size_t slice = tensor_row_size(x.type, x.ne[0]) * static_cast<size_t>(x.ne[1]);
        for (size_t o = 0; o < x.n_bytes; o += slice) {
          kernels::deinterleave_rows(x.type, x.ne[0], x.ne[1], v.data() + o);
        }
        return v;
      };
      const std::vector<uint8_t> rows(t.data, t.data + t.n_bytes);
      EXPECT_EQ(rows_of(*m, matrix), rows) << t.name;
      EXPECT_EQ(rows_of(*d, matrix && copy), rows) << t.name;
      EXPECT_EQ(std::memcmp(d->data, t.data, t.n_bytes) != 0, matrix && copy) << t.name;
      reordered += matrix;
    }
    if ((ftype == engine::FileType::kQ4_0 || ftype == engine::FileType::kQ8_0) &&
        kernels::active_isa() == kernels::Isa::kAvx512) {
      EXPECT_GT(reordered, 0) << name;
    }
    const auto tokens = first_reference_sequence("reference/" + name + ".json");
    const auto a = quant_test::logits_of(*from_file, tokens);
    const auto b = quant_test::logits_of(*in_memory, tokens);
    const auto c = quant_test::logits_of(*file_rows, tokens);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(a.size(), c.size());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i], b[i]) << name << " position " << i;
      ASSERT_EQ(a[i], c[i]) << name << " position " << i << " (mapped)";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, LoadTimeQuant,
                         ::testing::Values(engine::FileType::kQ8_0, engine::FileType::kQ4_0,
                                           engine::FileType::kQ4_K_M),
                         [](const ::testing::TestParamInfo<engine::FileType>& p) {
                           return std::string(engine::file_type_name(p.param));
                         });

TEST(LoadTimeQuantFootprint, OwnsTheQuantizedWeights) {
  DKB_REQUIRE_FIXTURE("models/tiny-llama-F16.gguf");
  const std::string path = test::fixture_path("models/tiny-llama-F16.gguf");
  auto plain = engine::Model::load(path);
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ((*plain)->quantized_bytes(), 0u);
  engine::LoadOptions lo;
  lo.quantize = engine::FileType::kQ4_0;
  auto q = engine::Model::load(path, lo);
  ASSERT_TRUE(q.is_ok());
  size_t f16_matmul_bytes = 0;
  for (const auto& t : (*plain)->file().tensors()) {
    if (t.type == TensorType::kF16) f16_matmul_bytes += t.n_bytes;
  }
  // Q4_0 is 4.5 bits per weight (18 bytes per 32), output.weight Q6_K 6.56: between 28% and
  // 32% of F16 for this model's shapes; every F16 tensor now points at the Model's buffers.
  const double ratio =
      static_cast<double>((*q)->quantized_bytes()) / static_cast<double>(f16_matmul_bytes);
  EXPECT_GT(ratio, 0.28);
  EXPECT_LT(ratio, 0.32);
  for (const auto& t : (*q)->file().tensors()) EXPECT_NE(t.type, TensorType::kF16) << t.name;
}

TEST(LoadTimeQuantErrors, AlreadyQuantizedModelIsRefused) {
  DKB_REQUIRE_FIXTURE("models/tiny-llama-Q8_0.gguf");
  engine::LoadOptions lo;
  lo.quantize = engine::FileType::kQ4_0;
  auto m = engine::Model::load(test::fixture_path("models/tiny-llama-Q8_0.gguf"), lo);
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(m.status().message().find("F16/BF16/F32"), std::string::npos) << m.status().message();
  // Asking for the type the file already has changes nothing and is fine.
  lo.quantize = engine::FileType::kQ8_0;
  auto same = engine::Model::load(test::fixture_path("models/tiny-llama-Q8_0.gguf"), lo);
  ASSERT_TRUE(same.is_ok()) << same.status().to_string();
  EXPECT_EQ((*same)->quantized_bytes(), 0u);
}

}  // namespace
}  // namespace dkb
