// The register-blocked GEMM path of matmul (>= 2 tokens at the AVX2 level) against the scalar
// reference dot product, over random shapes with odd row and token tails, several panel splits
// and thread counts. Under DKB_FORCE_SCALAR=1 (the *_force_scalar CTest run) the active level
// is scalar and the same comparisons check the scalar matmul path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "test_util.h"

namespace dkb::kernels {
namespace {

using test::random_floats;
using test::random_row;

const TensorType kGemmTypes[] = {TensorType::kQ4_0, TensorType::kQ5_0, TensorType::kQ8_0,
                                 TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K,
                                 TensorType::kQ4_1, TensorType::kQ2_K, TensorType::kQ3_K};

struct Result {
  std::vector<float> y, ref, mag;  // mag: sum |w * x| per output, for the tolerance
};

Result run_case(ThreadPool& pool, MatmulScratch& scratch, TensorType t, int64_t n_in, int64_t n_out,
                int64_t n_tokens, uint32_t seed) {
  const size_t w_row = tensor_row_size(t, n_in);
  std::vector<uint8_t> w;
  for (int64_t o = 0; o < n_out; ++o) {
    const auto row = random_row(t, n_in, seed + static_cast<uint32_t>(o));
    w.insert(w.end(), row.begin(), row.end());
  }
  const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), seed ^ 0x5a5a, -2.0f, 2.0f);
  Result r;
  r.y.assign(static_cast<size_t>(n_out * n_tokens), NAN);
  matmul(pool, scratch, t, w.data(), n_in, n_out, x.data(), n_tokens, r.y.data());
  const TensorType vt = vec_dot_type(t);
  for (int64_t tok = 0; tok < n_tokens; ++tok) {
    const auto xq = test::quantized(vt, x.data() + tok * n_in, n_in);
    const auto xd = test::dequantized(vt, xq.data(), n_in);
    for (int64_t o = 0; o < n_out; ++o) {
      r.ref.push_back(vec_dot_with(Isa::kScalar, t, n_in, w.data() + o * w_row, xq.data()));
      const auto wd = test::dequantized(t, w.data() + o * w_row, n_in);
      double m = 0;
      for (int64_t i = 0; i < n_in; ++i) m += std::fabs(static_cast<double>(wd[i]) * xd[i]);
      r.mag.push_back(static_cast<float>(m));
    }
  }
  return r;
}

TEST(Gemm, MatchesScalarReferenceOnOddShapes) {
  struct Shape {
    int64_t blocks, n_out, n_tokens;
  };
  // Row counts not multiples of the micro-tile (4 or 2 rows) or of a panel; token counts not
  // multiples of the tile width (2 or 4); odd block counts.
  const Shape shapes[] = {{1, 1, 2},   {3, 5, 3},  {7, 13, 5}, {5, 67, 9},
                          {9, 130, 2}, {2, 3, 17}, {35, 9, 7}, {11, 257, 4}};
  uint32_t seed = 1234;
  for (int n_threads : {1, 2, 3}) {
    ThreadPool pool(n_threads);
    MatmulScratch scratch;
    for (TensorType t : kGemmTypes) {
      const int64_t bs = tensor_type_traits(t)->block_size;
      for (const Shape& s : shapes) {
        const int64_t n_in = s.blocks * bs;
        const Result r = run_case(pool, scratch, t, n_in, s.n_out, s.n_tokens, seed);
        seed += 101;
        ASSERT_EQ(r.y.size(), r.ref.size());
        for (int64_t tok = 0; tok < s.n_tokens; ++tok) {
          for (int64_t o = 0; o < s.n_out; ++o) {
            const size_t yi = static_cast<size_t>(tok * s.n_out + o);
            const size_t ri = static_cast<size_t>(tok * s.n_out + o);
            // Same integer sums; only float accumulation order differs from the scalar code.
            EXPECT_NEAR(r.y[yi], r.ref[ri], 1e-5 * r.mag[ri] + 1e-6)
                << tensor_type_name(t) << " n_in=" << n_in << " n_out=" << s.n_out
                << " n_tokens=" << s.n_tokens << " threads=" << n_threads << " tok=" << tok
                << " o=" << o;
          }
        }
      }
    }
  }
}

// Runs matmul at the active level on n_out rows (w) and n_tokens activation rows (x) and
// checks every output bitwise against that level's vec_dot (so -0.0f vs 0.0f or a NaN would
// also fail). Returns the number of outputs checked.
int64_t expect_bit_identical_to_level(ThreadPool& pool, MatmulScratch& scratch, TensorType t,
                                      int64_t n_in, int64_t n_out, int64_t n_tokens,
                                      const std::vector<uint8_t>& w, const std::vector<float>& x) {
  const size_t row = tensor_row_size(t, n_in);
  std::vector<float> y(static_cast<size_t>(n_out * n_tokens), NAN);
  matmul(pool, scratch, t, w.data(), n_in, n_out, x.data(), n_tokens, y.data());
  int64_t checked = 0;
  for (int64_t tok = 0; tok < n_tokens; ++tok) {
    const auto xq = test::quantized(vec_dot_type(t), x.data() + tok * n_in, n_in);
    for (int64_t o = 0; o < n_out; ++o) {
      const float ref = vec_dot_with(active_isa(), t, n_in, w.data() + o * row, xq.data());
      const float got = y[static_cast<size_t>(tok * n_out + o)];
      EXPECT_EQ(std::memcmp(&got, &ref, sizeof(float)), 0)
          << tensor_type_name(t) << " n_in=" << n_in << " n_out=" << n_out
          << " n_tokens=" << n_tokens << " threads=" << pool.n_threads() << " tok=" << tok
          << " o=" << o << " got=" << got << " ref=" << ref;
      ++checked;
    }
  }
  return checked;
}

// The GEMM computes, for every (row, token), the same float operations in the same order as
// the per-row AVX2 dot product, so its output must be bit-identical to vec_dot at the AVX2
// level (the per-row path mirrors ggml's summation order; any difference would show up as
// drift against llama.cpp's logits). Odd row/token tails, panel splits and 1-3 threads.
TEST(Gemm, BitIdenticalToAvx2VecDot) {
  if (!isa_available(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C";
  test::IsaGuard guard;
  set_active_isa(Isa::kAvx2);
  struct Shape {
    int64_t blocks, n_out, n_tokens;
  };
  const Shape shapes[] = {{1, 1, 2},  {3, 5, 3},  {7, 13, 5},   {5, 67, 9},  {9, 130, 2},
                          {2, 3, 17}, {35, 9, 7}, {11, 257, 4}, {16, 64, 8}, {1, 129, 6}};
  uint32_t seed = 777;
  int64_t checked = 0;
  for (int n_threads : {1, 2, 3}) {
    ThreadPool pool(n_threads);
    MatmulScratch scratch;
    for (TensorType t : kGemmTypes) {
      const int64_t bs = tensor_type_traits(t)->block_size;
      for (const Shape& s : shapes) {
        const int64_t n_in = s.blocks * bs;
        std::vector<uint8_t> w;
        for (int64_t o = 0; o < s.n_out; ++o) {
          const auto r = random_row(t, n_in, seed + static_cast<uint32_t>(o));
          w.insert(w.end(), r.begin(), r.end());
        }
        const auto x =
            random_floats(static_cast<size_t>(n_in * s.n_tokens), seed ^ 0x3c3c, -3.0f, 3.0f);
        seed += 53;
        checked += expect_bit_identical_to_level(pool, scratch, t, n_in, s.n_out, s.n_tokens, w, x);
      }
    }
  }
  EXPECT_GT(checked, 0);
}

// At the AVX-512 level, prompts longer than the tiles (> 24 tokens, > 48 for Q8_0) take the VNNI
// GEMM for Q4_0/Q5_0/Q8_0 (gemm_avx512.cpp), in the level's block order like its tiles and
// vec_dot (kernels_internal.h); the K-quants' VNNI tiles reproduce the AVX2 vec_dot's int32
// lanes and float operations. Either way bit-identical to the level's vec_dot. Row counts
// around the 16-row groups, token counts around the 6-token steps and 24-token chunks, 1-3
// threads, and extreme quants (all +-1 weights, +-5 activations: the largest sums).
TEST(Gemm, AvxLevelBitIdenticalToTheLevelsVecDot) {
  if (!isa_available(Isa::kAvx512)) GTEST_SKIP() << "CPU has no AVX-512 VNNI";
  test::IsaGuard guard;
  set_active_isa(Isa::kAvx512);
  struct Shape {
    int64_t blocks, n_out, n_tokens;
  };
  const Shape shapes[] = {{1, 1, 65},    {3, 15, 66},  {7, 17, 71}, {5, 33, 97}, {2, 95, 72},
                          {12, 130, 67}, {1, 16, 130}, {4, 40, 25}, {3, 18, 33}};
  uint32_t seed = 4242;
  int64_t checked = 0;
  for (int n_threads : {1, 2, 3}) {
    ThreadPool pool(n_threads);
    MatmulScratch scratch;
    for (TensorType t : {TensorType::kQ4_0, TensorType::kQ5_0, TensorType::kQ8_0, TensorType::kQ4_K,
                         TensorType::kQ5_K, TensorType::kQ6_K}) {
      const int64_t bs = tensor_type_traits(t)->block_size;
      for (bool extreme : {false, true}) {
        for (const Shape& s : shapes) {
          // K-quants: 256-element blocks; keep the rows short (the test's run time).
          const int64_t n_in = (bs == 32 ? s.blocks : 1 + s.blocks % 4) * bs;
          std::vector<uint8_t> w;
          for (int64_t o = 0; o < s.n_out; ++o) {
            auto f = random_floats(static_cast<size_t>(n_in), seed + static_cast<uint32_t>(o));
            if (extreme) {
              for (float& v : f) v = v < 0 ? -1.0f : 1.0f;
            }
            std::vector<uint8_t> r(tensor_row_size(t, n_in));
            quantize_row(t, f.data(), r.data(), n_in);
            w.insert(w.end(), r.begin(), r.end());
          }
          auto x = random_floats(static_cast<size_t>(n_in * s.n_tokens), seed ^ 0x77, -3.0f, 3.0f);
          if (extreme) {
            for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 3 == 0) ? -5.0f : 5.0f;
          }
          seed += 31;
          checked +=
              expect_bit_identical_to_level(pool, scratch, t, n_in, s.n_out, s.n_tokens, w, x);
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
}

// Extreme quants (weights quantized from +-1, activations +-5) must not saturate the 16-bit
// pair sums of the micro-kernels.
TEST(Gemm, ExtremeValuesDoNotSaturate) {
  ThreadPool pool(2);
  MatmulScratch scratch;
  for (TensorType t : kGemmTypes) {
    const int64_t n_in = 2 * tensor_type_traits(t)->block_size, n_out = 6, n_tokens = 5;
    const size_t w_row = tensor_row_size(t, n_in);
    std::vector<uint8_t> w;
    for (int64_t o = 0; o < n_out; ++o) {
      const auto f = random_floats(static_cast<size_t>(n_in), 99 + static_cast<uint32_t>(o));
      std::vector<float> big(f.size());
      for (size_t i = 0; i < f.size(); ++i) big[i] = f[i] < 0 ? -1.0f : 1.0f;
      std::vector<uint8_t> row(w_row);
      quantize_row(t, big.data(), row.data(), n_in);
      w.insert(w.end(), row.begin(), row.end());
    }
    std::vector<float> x(static_cast<size_t>(n_in * n_tokens));
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 3 == 0) ? -5.0f : 5.0f;
    std::vector<float> y(static_cast<size_t>(n_out * n_tokens));
    matmul(pool, scratch, t, w.data(), n_in, n_out, x.data(), n_tokens, y.data());
    const TensorType vt = vec_dot_type(t);
    for (int64_t tok = 0; tok < n_tokens; ++tok) {
      const auto xq = test::quantized(vt, x.data() + tok * n_in, n_in);
      const auto xd = test::dequantized(vt, xq.data(), n_in);
      for (int64_t o = 0; o < n_out; ++o) {
        const float ref = vec_dot_with(Isa::kScalar, t, n_in, w.data() + o * w_row, xq.data());
        const auto wd = test::dequantized(t, w.data() + o * w_row, n_in);
        double mag = 0;
        for (int64_t i = 0; i < n_in; ++i) mag += std::fabs(static_cast<double>(wd[i]) * xd[i]);
        // A saturated pair sum would be off by at least one quantum product (>> this bound).
        EXPECT_NEAR(y[tok * n_out + o], ref, 1e-6 * mag + 1e-6)
            << tensor_type_name(t) << " tok=" << tok << " o=" << o;
      }
    }
  }
}

// The SIMD activation quantizers (Q8_0, Q8_K; AVX2 and NEON) are bit-identical to the scalar
// references at every level, including exact .5 ties (Q8_0 rounds them away from zero, Q8_K to
// even), sign ties of the largest magnitude, and all-zero blocks.
TEST(Gemm, SimdActivationQuantizersAreBitIdentical) {
  if (test::simd_isas().empty()) GTEST_SKIP() << "CPU has no SIMD level";
  test::IsaGuard guard;
  for (Isa isa : test::simd_isas()) {
    for (TensorType t : {TensorType::kQ8_0, TensorType::kQ8_K}) {
      const int64_t n = 4 * 256;
      for (uint32_t seed = 1; seed <= 40; ++seed) {
        auto x = random_floats(static_cast<size_t>(n), seed, -4.0f, 4.0f);
        if (seed % 4 == 1) {
          // Every block's largest magnitude is 127, so the scale is exactly 1 and the other
          // values land exactly on .5 ties.
          for (size_t i = 0; i < x.size(); ++i) {
            x[i] = static_cast<float>(static_cast<int>(i % 250) - 125) + 0.5f;
            if (i % 32 == 0) x[i] = (i % 64 == 0) ? 127.0f : -127.0f;
          }
        } else if (seed % 4 == 2) {
          for (size_t i = 0; i < 256; ++i) x[i] = 0.0f;                  // an all-zero block
          x[300] = 3.5f, x[301] = -3.5f, x[700] = -9.0f, x[701] = 9.0f;  // sign ties of the max
        } else if (seed % 4 == 3) {
          for (auto& v : x) v = std::round(v * 8.0f) / 8.0f;  // many ties after scaling
        }
        std::vector<uint8_t> a(tensor_row_size(t, n)), b(tensor_row_size(t, n));
        set_active_isa(Isa::kScalar);
        quantize_row(t, x.data(), a.data(), n);
        set_active_isa(isa);
        quantize_row(t, x.data(), b.data(), n);
        EXPECT_EQ(a, b) << tensor_type_name(t) << " seed=" << seed
                        << " isa=" << static_cast<int>(isa);
      }
    }
  }
}

}  // namespace
}  // namespace dkb::kernels
