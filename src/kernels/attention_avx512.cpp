// Attention's row loops at the AVX-512 level (kernels_internal.h simd_attention_rows), bit for bit
// the AVX2 ones this level's F32 dot product and axpy are: the same float operations per (row,
// head) and per element, with more of them in flight.
// - dot_rows: up to 6 query heads per pass over a K row (4 ymm accumulators each, of the 32 the
//   AVX-512 register file holds), every head's sum exactly vec_dot_f32_avx2's: the same 4
//   accumulators over 32-float steps, an 8-float tail into the first, the same horizontal sum,
//   then the scalar tail.
// - weighted_rows: a head's output in zmm registers 128 floats at a time (AVX2: 64), each element
//   taking fma(s_j, v_j, y) in row order, as axpy_f32_avx2 gives every element below n rounded
//   down to 8; the rest a multiply and an add.
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
// No inline function is shared with other ISA files (kernels_internal.h): local static helpers.
#include <immintrin.h>

#include <cstdint>

#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

// avx2_util.h's hsum_ps, restated (see above).
static float hsum8(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

template <int G>
static void dot_heads(int64_t n, const float* row, const float* const* q, float* const* s,
                      int64_t j) {
  __m256 acc[G][4];
#pragma GCC unroll 6
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
    for (int m = 0; m < 4; ++m) acc[g][m] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 r[4];
#pragma GCC unroll 4
    for (int m = 0; m < 4; ++m) r[m] = _mm256_loadu_ps(row + i + 8 * m);
#pragma GCC unroll 6
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
      for (int m = 0; m < 4; ++m) {
        acc[g][m] = _mm256_fmadd_ps(r[m], _mm256_loadu_ps(q[g] + i + 8 * m), acc[g][m]);
      }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 r0 = _mm256_loadu_ps(row + i);
#pragma GCC unroll 6
    for (int g = 0; g < G; ++g) {
      acc[g][0] = _mm256_fmadd_ps(r0, _mm256_loadu_ps(q[g] + i), acc[g][0]);
    }
  }
#pragma GCC unroll 6
  for (int g = 0; g < G; ++g) {
    float sum = hsum8(_mm256_add_ps(_mm256_add_ps(acc[g][0], acc[g][1]),
                                    _mm256_add_ps(acc[g][2], acc[g][3])));
    for (int64_t t = i; t < n; ++t) sum += row[t] * q[g][t];
    s[g][j] = sum;
  }
}

// kVec zmm vectors of out from element d take every row's term in row order.
template <int kVec>
static void weighted_chunk(int64_t d, const float* s, int64_t n_rows, const float* v,
                           int64_t v_stride, float* out) {
  __m512 acc[kVec];
#pragma GCC unroll 8
  for (int i = 0; i < kVec; ++i) acc[i] = _mm512_loadu_ps(out + d + 16 * i);
  for (int64_t j = 0; j < n_rows; ++j) {
    const __m512 sj = _mm512_set1_ps(s[j]);
    const float* vj = v + j * v_stride + d;
#pragma GCC unroll 8
    for (int i = 0; i < kVec; ++i) {
      acc[i] = _mm512_fmadd_ps(sj, _mm512_loadu_ps(vj + 16 * i), acc[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kVec; ++i) _mm512_storeu_ps(out + d + 16 * i, acc[i]);
}

}  // namespace

void dot_rows_f32_avx512(int64_t n, const float* k, int64_t k_stride, int64_t n_rows,
                         const float* const* q, int nq, float* const* s) {
  for (int64_t j = 0; j < n_rows; ++j) {
    const float* row = k + j * k_stride;
    int g = 0;
    for (; g + 6 <= nq; g += 6) dot_heads<6>(n, row, q + g, s + g, j);
    switch (nq - g) {
      case 5: dot_heads<5>(n, row, q + g, s + g, j); break;
      case 4: dot_heads<4>(n, row, q + g, s + g, j); break;
      case 3: dot_heads<3>(n, row, q + g, s + g, j); break;
      case 2: dot_heads<2>(n, row, q + g, s + g, j); break;
      case 1: dot_heads<1>(n, row, q + g, s + g, j); break;
      default: break;
    }
  }
}

void weighted_rows_f32_avx512(int64_t n, const float* s, int64_t n_rows, const float* v,
                              int64_t v_stride, float* out) {
  int64_t d = 0;
  for (; d + 128 <= n; d += 128) weighted_chunk<8>(d, s, n_rows, v, v_stride, out);
  for (; d + 16 <= n; d += 16) weighted_chunk<1>(d, s, n_rows, v, v_stride, out);
  if (d + 8 <= n) {  // one 8-float vector, still with FMAs (axpy_f32_avx2's)
    __m256 acc = _mm256_loadu_ps(out + d);
    for (int64_t j = 0; j < n_rows; ++j) {
      acc = _mm256_fmadd_ps(_mm256_set1_ps(s[j]), _mm256_loadu_ps(v + j * v_stride + d), acc);
    }
    _mm256_storeu_ps(out + d, acc);
    d += 8;
  }
  for (; d < n; ++d) {
    float y = out[d];
    for (int64_t j = 0; j < n_rows; ++j) y += s[j] * v[j * v_stride + d];
    out[d] = y;
  }
}

}  // namespace dkb::kernels::detail
