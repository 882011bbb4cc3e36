// The unpack-on-the-fly tile path of matmul (decode: one token; small batches) at the AVX2 and
// AVX-512 levels: every output must equal the per-row AVX2 vec_dot bit for bit (the tiles
// perform its float operations in the same order; the AVX-512 tiles form the same integer lanes
// with VNNI), over random shapes with odd row counts (not multiples of the 4-row tile or of the
// thread split), block counts around the 8-block scale groups, token counts around the tile
// widths and the GEMM crossover, 1-3 threads, and extreme quants.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "test_util.h"

namespace dkb::kernels {
namespace {

using test::random_floats;
using test::random_row;

// The types with tiles, plus two that keep the per-row path (they must not be routed wrongly).
const TensorType kTypes[] = {TensorType::kQ4_0, TensorType::kQ5_0, TensorType::kQ8_0,
                             TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K,
                             TensorType::kQ4_1, TensorType::kQ3_K};

// matmul(w, x) against the active level's vec_dot bitwise (AVX2 and the AVX-512 level's K-quants:
// vec_dot_*_avx2; the AVX-512 level's Q4_0/Q5_0/Q8_0: its block order, kernels_internal.h);
// returns the number of outputs checked.
int64_t check_bitwise(ThreadPool& pool, MatmulScratch& scratch, TensorType t, int64_t n_in,
                      int64_t n_out, const std::vector<uint8_t>& w, const std::vector<float>& x,
                      int64_t n_tokens) {
  const size_t row = tensor_row_size(t, n_in);
  std::vector<float> y(static_cast<size_t>(n_out * n_tokens), NAN);
  matmul(pool, scratch, t, w.data(), n_in, n_out, x.data(), n_tokens, y.data());
  const TensorType vt = vec_dot_type(t);
  int64_t checked = 0;
  for (int64_t tok = 0; tok < n_tokens; ++tok) {
    const auto xq = test::quantized(vt, x.data() + tok * n_in, n_in);
    for (int64_t o = 0; o < n_out; ++o) {
      const float ref = vec_dot_with(active_isa(), t, n_in, w.data() + o * row, xq.data());
      const float got = y[static_cast<size_t>(tok * n_out + o)];
      // Bitwise, so that -0.0f vs 0.0f or a NaN would also fail.
      EXPECT_EQ(std::memcmp(&got, &ref, sizeof(float)), 0)
          << tensor_type_name(t) << " n_in=" << n_in << " n_out=" << n_out
          << " n_tokens=" << n_tokens << " threads=" << pool.n_threads()
          << " isa=" << static_cast<int>(active_isa()) << " tok=" << tok << " o=" << o
          << " got=" << got << " ref=" << ref;
      ++checked;
    }
  }
  return checked;
}

// The SIMD levels this CPU has (skips the test when none).
std::vector<Isa> simd_levels() {
  std::vector<Isa> v;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (isa_available(isa)) v.push_back(isa);
  }
  return v;
}

TEST(Tile, BitIdenticalToTheLevelsVecDot) {
  if (!isa_available(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C";
  test::IsaGuard guard;
  struct Shape {
    int64_t blocks, n_out;
  };
  // {240, 9}: Q4_0/Q5_0/Q8_0 tiles of 4 rows > 16 KiB (the L2 prefetch); {35, 130} (8960
  // inputs, ffn_down's width) does the same for the K-quants, whose one-token tiles at the
  // AVX-512 level are the 256-bit VNNI ones (17 blocks: short Q4_K/Q5_K/Q6_K tiles).
  const Shape shapes[] = {{1, 1},  {1, 7},   {3, 5},    {7, 13},  {8, 9},   {9, 67},
                          {16, 3}, {17, 66}, {35, 130}, {2, 257}, {5, 129}, {240, 9}};
  const int64_t token_counts[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65};
  int64_t checked = 0;
  for (Isa isa : simd_levels()) {
    set_active_isa(isa);
    uint32_t seed = 4242;
    for (int n_threads : {1, 2, 3}) {
      ThreadPool pool(n_threads);
      MatmulScratch scratch;
      for (TensorType t : kTypes) {
        const int64_t bs = tensor_type_traits(t)->block_size;
        for (const Shape& s : shapes) {
          if (bs == 256 && s.blocks > 35) continue;  // 35 blocks already make long K-quant tiles
          const int64_t n_in = s.blocks * bs;
          std::vector<uint8_t> w;
          for (int64_t o = 0; o < s.n_out; ++o) {
            const auto r = random_row(t, n_in, seed + static_cast<uint32_t>(o));
            w.insert(w.end(), r.begin(), r.end());
          }
          for (int64_t n_tokens : token_counts) {
            // One token everywhere (decode); batches on a subset to bound the run time.
            if (n_tokens > 1 && (s.blocks * s.n_out > 2000 || n_threads == 3)) continue;
            if (n_tokens > 17 && s.blocks * s.n_out > 200) continue;
            const auto x =
                random_floats(static_cast<size_t>(n_in * n_tokens), seed ^ 0x7e57, -3.0f, 3.0f);
            seed += 31;
            checked += check_bitwise(pool, scratch, t, n_in, s.n_out, w, x, n_tokens);
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
}

// Extreme quants (weights quantized from +-1, so the largest quant magnitudes; activations
// +-5 and 0, so Q8_K's -128) must not saturate the 16-bit pair sums, and still match bitwise.
TEST(Tile, ExtremeValuesBitIdentical) {
  if (!isa_available(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C";
  test::IsaGuard guard;
  ThreadPool pool(2);
  MatmulScratch scratch;
  for (Isa isa : simd_levels()) {
    set_active_isa(isa);
    for (TensorType t : kTypes) {
      const int64_t n_in = 9 * tensor_type_traits(t)->block_size, n_out = 11;
      const size_t w_row = tensor_row_size(t, n_in);
      std::vector<uint8_t> w;
      for (int64_t o = 0; o < n_out; ++o) {
        const auto f = random_floats(static_cast<size_t>(n_in), 7 + static_cast<uint32_t>(o));
        std::vector<float> big(f.size());
        for (size_t i = 0; i < f.size(); ++i) big[i] = f[i] < 0 ? -1.0f : 1.0f;
        std::vector<uint8_t> row(w_row);
        quantize_row(t, big.data(), row.data(), n_in);
        w.insert(w.end(), row.begin(), row.end());
      }
      for (int64_t n_tokens : {1, 3, 8}) {
        std::vector<float> x(static_cast<size_t>(n_in * n_tokens));
        for (size_t i = 0; i < x.size(); ++i)
          x[i] = (i % 3 == 0) ? -5.0f : (i % 7 == 0 ? 0.0f : 5.0f);
        check_bitwise(pool, scratch, t, n_in, n_out, w, x, n_tokens);
      }
    }
  }
}

}  // namespace
}  // namespace dkb::kernels
