// End-to-end: `deepkb quantize` and `--quantize` as a user runs them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "support/fixtures.h"
#include "support/run_cli.h"

namespace {

using Output = dkb::test::CliOutput;
Output run_both(const std::string& args) { return dkb::test::run_deepkb(args, dkb::test::Stderr::kMerge); }

std::string q(const std::string& s) { return dkb::test::shell_quote(s); }

class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("dkb_quantize_cli_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string file(const char* name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(QuantizeCli, WritesFileAndPrintsSizes) {
  DKB_REQUIRE_FIXTURE("models/tiny-llama-F16.gguf");
  const std::string in = dkb::test::fixture_path("models/tiny-llama-F16.gguf");
  Output o = run_both("quantize " + q(in) + " " + q(file("q4km.gguf")) + " Q4_K_M --threads 2");
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("blk.2.attn_v.weight"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("f16 -> q6_K"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("model size:"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("6838624 B"), std::string::npos) << o.out;  // input file size
  EXPECT_EQ(std::filesystem::file_size(file("q4km.gguf")),
            std::filesystem::file_size(dkb::test::fixture_path("models/tiny-llama-Q4_K_M.gguf")));
  // The written file runs.
  o = run_both("run -m " + q(file("q4km.gguf")) + " -p hello -n 4 --temp 0");
  EXPECT_EQ(o.status, 0) << o.out;
}

TEST_F(QuantizeCli, BadInputsGiveClearErrors) {
  DKB_REQUIRE_FIXTURE("models/tiny-llama-F16.gguf");
  const std::string in = dkb::test::fixture_path("models/tiny-llama-F16.gguf");
  Output o = run_both("quantize " + q(in) + " " + q(file("x.gguf")) + " Q3_XL");
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.out.find("unknown quantization type 'Q3_XL'"), std::string::npos) << o.out;
  o = run_both("quantize " + q(file("missing.gguf")) + " " + q(file("x.gguf")) + " Q8_0");
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.out.find("not_found"), std::string::npos) << o.out;
  o = run_both("quantize " + q(dkb::test::fixture_path("models/tiny-llama-Q8_0.gguf")) + " " +
               q(file("x.gguf")) + " Q4_0");
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.out.find("--allow-requantize"), std::string::npos) << o.out;
  EXPECT_FALSE(std::filesystem::exists(file("x.gguf")));
  o = run_both("quantize -q --allow-requantize " +
               q(dkb::test::fixture_path("models/tiny-llama-Q8_0.gguf")) + " " + q(file("x.gguf")) +
               " Q4_0");
  EXPECT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("re-quantizing"), std::string::npos) << o.out;
  o = run_both("run -m " + q(in) + " --quantize q7 -p hi -n 1");
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.out.find("unknown --quantize type 'q7'"), std::string::npos) << o.out;
}

TEST_F(QuantizeCli, LoadTimeQuantizationMatchesQuantizedFile) {
  DKB_REQUIRE_FIXTURE("models/tiny-llama-F16.gguf");
  const std::string in = dkb::test::fixture_path("models/tiny-llama-F16.gguf");
  ASSERT_EQ(run_both("quantize -q " + q(in) + " " + q(file("q8.gguf")) + " q8_0").status, 0);
  Output a = run_both("logits -m " + q(file("q8.gguf")) + " -p 'Once upon a time'");
  Output b = run_both("logits -m " + q(in) + " --quantize q8_0 -p 'Once upon a time'");
  ASSERT_EQ(a.status, 0) << a.out;
  ASSERT_EQ(b.status, 0) << b.out;
  EXPECT_EQ(a.out, b.out);
}

}  // namespace
