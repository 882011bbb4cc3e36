// head_matmul's row loops over Q4_0 and Q8_0 weights at the AVX-512 level (kernels_internal.h
// simd_head_rows): each 32-weight block dequantized in registers to the floats dequantize_row
// gives (float(q) times the block's scale, one exact product), then used as this level's f32
// kernels use a dequantized row, so the results are bit for bit those of the generic path:
// - xw: y[c] = fma(x[d], w[d][c], y[c]) for d = 0 .. rows-1 from y = 0 (axpy_f32_avx2 per row:
//   an FMA per element), with 256 columns of y held in registers across all rows;
// - wx: y[e] = vec_dot_f32_avx2(row e, x): its 4 accumulators over 32-float steps (here the
//   halves of two zmm registers, each step one block) and its horizontal sum.
// cols must be a multiple of 32.
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
// No inline function is shared with other ISA files (kernels_internal.h): local static helpers.
#include <immintrin.h>

#include <cstdint>

#include "kernels/blocks.h"
#include "kernels_internal.h"

// See gemm_avx512.cpp: GCC 12's _mm512_cvtepi32_ps trips -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dkb::kernels::detail {
namespace {

// avx2_util.h's hsum_ps, restated (see above).
static float hsum8(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

// Lanes 8-15 (AVX-512F only: no DQ extract).
static __m256 high8(__m512 v) {
  return _mm512_castps512_ps256(_mm512_shuffle_f32x4(v, v, 0xEE));
}

// One block as two vectors of 16 floats: elements 0-15 and 16-31.
struct Q4_0Block {
  static constexpr int64_t kBytes = sizeof(BlockQ4_0);
  static void load(const uint8_t* p, __m512& lo, __m512& hi) {
    const auto* b = reinterpret_cast<const BlockQ4_0*>(p);
    const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->qs)));
    // float(nibble - 8) * d for each nibble value: the products dequantize_row takes.
    const __m512 scaled = _mm512_mul_ps(table, _mm512_set1_ps(_cvtsh_ss(b->d)));
    lo = _mm512_permutexvar_ps(_mm512_and_si512(v, _mm512_set1_epi32(0x0F)), scaled);
    hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), scaled);
  }
};

struct Q8_0Block {
  static constexpr int64_t kBytes = sizeof(BlockQ8_0);
  static void load(const uint8_t* p, __m512& lo, __m512& hi) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(p);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
    const auto* q = reinterpret_cast<const __m128i*>(b->qs);
    lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q))), d);
    hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1))), d);
  }
};

// Columns [32 * b0, 32 * (b0 + NB)) of y over all rows.
template <class B, int NB>
static void xw_tile(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t b0, const float* x,
                    float* y) {
  __m512 acc[2 * NB];
#pragma GCC unroll 16
  for (int k = 0; k < 2 * NB; ++k) acc[k] = _mm512_setzero_ps();
  const uint8_t* p = w + b0 * B::kBytes;
  for (int64_t d = 0; d < rows; ++d, p += row_bytes) {
    const __m512 xd = _mm512_set1_ps(x[d]);
#pragma GCC unroll 8
    for (int k = 0; k < NB; ++k) {
      __m512 lo, hi;
      B::load(p + k * B::kBytes, lo, hi);
      acc[2 * k] = _mm512_fmadd_ps(xd, lo, acc[2 * k]);
      acc[2 * k + 1] = _mm512_fmadd_ps(xd, hi, acc[2 * k + 1]);
    }
  }
#pragma GCC unroll 16
  for (int k = 0; k < 2 * NB; ++k) _mm512_storeu_ps(y + 32 * b0 + 16 * k, acc[k]);
}

template <class B>
static void xw_rows(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                    const float* x, float* y) {
  const int64_t nb = cols / 32;
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) xw_tile<B, 8>(w, row_bytes, rows, b, x, y);
  for (; b < nb; ++b) xw_tile<B, 1>(w, row_bytes, rows, b, x, y);
}

template <class B>
static void wx_rows(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                    const float* x, float* y) {
  const int64_t nb = cols / 32;
  for (int64_t e = 0; e < rows; ++e) {
    const uint8_t* p = w + e * row_bytes;
    // Lanes 0-7 / 8-15 of a01 are vec_dot_f32_avx2's acc0 / acc1; a23 holds acc2, acc3.
    __m512 a01 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m512 lo, hi;
      B::load(p + b * B::kBytes, lo, hi);
      a01 = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x + 32 * b), a01);
      a23 = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 32 * b + 16), a23);
    }
    const __m256 acc0 = _mm512_castps512_ps256(a01), acc1 = high8(a01);
    const __m256 acc2 = _mm512_castps512_ps256(a23), acc3 = high8(a23);
    y[e] = hsum8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  }
}

}  // namespace

void head_xw_q4_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y) {
  xw_rows<Q4_0Block>(w, row_bytes, rows, cols, x, y);
}
void head_xw_q8_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y) {
  xw_rows<Q8_0Block>(w, row_bytes, rows, cols, x, y);
}
void head_wx_q4_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y) {
  wx_rows<Q4_0Block>(w, row_bytes, rows, cols, x, y);
}
void head_wx_q8_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y) {
  wx_rows<Q8_0Block>(w, row_bytes, rows, cols, x, y);
}

}  // namespace dkb::kernels::detail
