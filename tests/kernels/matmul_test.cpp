#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_util.h"

namespace dkb::kernels {
namespace {

using test::kWeightTypes;
using test::random_floats;
using test::random_row;

// Naive reference: the same dot kernel, one (token, row) at a time.
std::vector<float> naive(TensorType t, const std::vector<uint8_t>& w, int64_t n_in, int64_t n_out,
                         const std::vector<float>& x, int64_t n_tokens) {
  const TensorType vt = vec_dot_type(t);
  const size_t w_row = tensor_row_size(t, n_in);
  std::vector<float> y(static_cast<size_t>(n_tokens * n_out));
  for (int64_t tok = 0; tok < n_tokens; ++tok) {
    const auto xq = test::quantized(vt, x.data() + tok * n_in, n_in);
    for (int64_t o = 0; o < n_out; ++o) {
      y[tok * n_out + o] = vec_dot(t, n_in, w.data() + o * w_row, xq.data());
    }
  }
  return y;
}

std::vector<uint8_t> random_matrix(TensorType t, int64_t n_in, int64_t n_out, uint32_t seed) {
  std::vector<uint8_t> w;
  for (int64_t o = 0; o < n_out; ++o) {
    const auto row = random_row(t, n_in, seed + static_cast<uint32_t>(o));
    w.insert(w.end(), row.begin(), row.end());
  }
  return w;
}

TEST(Matmul, MatchesNaiveLoopForAllTypesAndThreadCounts) {
  struct Shape {
    int64_t n_out, n_tokens;
  };
  const Shape shapes[] = {{1, 1}, {37, 1}, {5, 7}, {53, 3}, {3, 9}};
  for (Isa isa : test::kAllIsas) {
    if (!isa_available(isa)) continue;
    test::IsaGuard guard;
    set_active_isa(isa);
    for (int n_threads = 1; n_threads <= 7; n_threads += (isa != Isa::kScalar ? 1 : 3)) {
      ThreadPool pool(n_threads);
      MatmulScratch scratch;
      uint32_t seed = 11;
      for (TensorType t : kWeightTypes) {
        const int64_t n_in = tensor_type_traits(t)->block_size == 256 ? 512 : 96;
        for (const Shape& s : shapes) {
          const auto w = random_matrix(t, n_in, s.n_out, seed);
          const auto x = random_floats(static_cast<size_t>(n_in * s.n_tokens), seed + 999);
          seed += 7;
          std::vector<float> y(static_cast<size_t>(s.n_out * s.n_tokens), NAN);
          matmul(pool, scratch, t, w.data(), n_in, s.n_out, x.data(), s.n_tokens, y.data());
          EXPECT_EQ(y, naive(t, w, n_in, s.n_out, x, s.n_tokens))
              << tensor_type_name(t) << " threads=" << n_threads << " n_out=" << s.n_out
              << " n_tokens=" << s.n_tokens;
        }
      }
    }
  }
}

TEST(Matmul, CloseToFloatMatmul) {
  ThreadPool pool(3);
  MatmulScratch scratch;
  const int64_t n_in = 256, n_out = 19, n_tokens = 5;
  for (TensorType t : kWeightTypes) {
    const auto w = random_matrix(t, n_in, n_out, 77);
    const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), 78);
    std::vector<float> y(static_cast<size_t>(n_out * n_tokens));
    matmul(pool, scratch, t, w.data(), n_in, n_out, x.data(), n_tokens, y.data());
    const size_t w_row = tensor_row_size(t, n_in);
    for (int64_t tok = 0; tok < n_tokens; ++tok) {
      for (int64_t o = 0; o < n_out; ++o) {
        const auto wd = test::dequantized(t, w.data() + o * w_row, n_in);
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < n_in; ++i) {
          ref += static_cast<double>(wd[i]) * x[tok * n_in + i];
          mag += std::fabs(static_cast<double>(wd[i]) * x[tok * n_in + i]);
        }
        // Activation quantization (8-bit) dominates the error.
        EXPECT_NEAR(y[tok * n_out + o], ref, 0.02 * mag + 1e-6) << tensor_type_name(t);
      }
    }
  }
}

TEST(Matmul, ScratchIsReusedWithoutGrowing) {
  ThreadPool pool(2);
  MatmulScratch scratch;
  const int64_t n_in = 256, n_out = 8, n_tokens = 4;
  const auto w = random_matrix(TensorType::kQ4_K, n_in, n_out, 5);
  const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), 6);
  std::vector<float> y(static_cast<size_t>(n_out * n_tokens));
  matmul(pool, scratch, TensorType::kQ4_K, w.data(), n_in, n_out, x.data(), n_tokens, y.data());
  const auto* data = scratch.buf.data();
  const size_t cap = scratch.buf.capacity();
  matmul(pool, scratch, TensorType::kQ4_K, w.data(), n_in, n_out, x.data(), 1, y.data());
  EXPECT_EQ(scratch.buf.data(), data);
  EXPECT_EQ(scratch.buf.capacity(), cap);
}

}  // namespace
}  // namespace dkb::kernels
