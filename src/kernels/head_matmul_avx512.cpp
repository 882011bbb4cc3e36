// head_matmul's row loops over Q4_0, Q8_0 and Q4_K weights at the AVX-512 level (kernels_internal.h
// simd_head_rows): each 32-weight block dequantized in registers to the floats dequantize_row
// gives (float(q) times the block's scale, one exact product), then used as this level's f32
// kernels use a dequantized row, so the results are bit for bit those of the generic path:
// - xw: y[c] = fma(x[d], w[d][c], y[c]) for d = 0 .. rows-1 from y = 0 (axpy_f32_avx2 per row:
//   an FMA per element), with 256 columns of y held in registers across all rows;
// - wx: y[e] = vec_dot_f32_avx2(row e, x): its 4 accumulators over 32-float steps (here the
//   halves of two zmm registers, each step one block) and its horizontal sum.
// cols must be a multiple of the type's block (32; Q4_K 256).
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
// Shared helpers only from avx512_util.h (internal linkage; see kernels_internal.h).
#include <immintrin.h>

#include <cstdint>

#include "kernels/blocks.h"
#include "avx512_util.h"
#include "kernels_internal.h"

// See gemm_avx512.cpp: GCC 12's _mm512_cvtepi32_ps trips -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dkb::kernels::detail {
namespace {

// A unit of kElems elements (one block, or a Q4_K super-block) in kParts parts of kPartVecs
// vectors of 16 floats each, element order: load_part(p, j, out) dequantizes part j.
struct Q4_0Block {
  static constexpr int64_t kElems = 32, kBytes = sizeof(BlockQ4_0);
  static constexpr int kParts = 1, kPartVecs = 2;
  static void load_part(const uint8_t* p, int, __m512* out) {
    const auto* b = reinterpret_cast<const BlockQ4_0*>(p);
    const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->qs)));
    // float(nibble - 8) * d for each nibble value: the products dequantize_row takes.
    const __m512 scaled = _mm512_mul_ps(table, _mm512_set1_ps(_cvtsh_ss(b->d)));
    out[0] = _mm512_permutexvar_ps(_mm512_and_si512(v, _mm512_set1_epi32(0x0F)), scaled);
    out[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), scaled);
  }
};

struct Q8_0Block {
  static constexpr int64_t kElems = 32, kBytes = sizeof(BlockQ8_0);
  static constexpr int kParts = 1, kPartVecs = 2;
  static void load_part(const uint8_t* p, int, __m512* out) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(p);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
    const auto* q = reinterpret_cast<const __m128i*>(b->qs);
    out[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q))), d);
    out[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1))), d);
  }
};

// get_scale_min_k4 (a call into dequantize_k.cpp), restated so that it inlines here.
static void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// Q4_K: per 32-element sub-block, d1 * float(nibble) - m1 with d1 = d * scale and m1 = dmin * min
// (dequantize_q4_k's products and difference), looked up per nibble in a 16-entry table built
// with the same two operations. Part j: 64 elements, sub-blocks 2j (low nibbles) and 2j + 1.
struct Q4_KBlock {
  static constexpr int64_t kElems = 256, kBytes = sizeof(BlockQ4_K);
  static constexpr int kParts = 4, kPartVecs = 4;
  static void load_part(const uint8_t* p, int j, __m512* out) {
    const auto* b = reinterpret_cast<const BlockQ4_K*>(p);
    const float d = _cvtsh_ss(b->d), dmin = _cvtsh_ss(b->dmin);
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i m4 = _mm512_set1_epi32(0x0F);
    uint8_t sc, m;
    scale_min_k4(2 * j, b->scales, &sc, &m);
    const __m512 t_lo = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(d * sc), iota),
                                      _mm512_set1_ps(dmin * m));
    scale_min_k4(2 * j + 1, b->scales, &sc, &m);
    const __m512 t_hi = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(d * sc), iota),
                                      _mm512_set1_ps(dmin * m));
    const auto* q = reinterpret_cast<const __m128i*>(b->qs + 32 * j);
    const __m512i v0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(q));
    const __m512i v1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(q + 1));
    out[0] = _mm512_permutexvar_ps(_mm512_and_si512(v0, m4), t_lo);
    out[1] = _mm512_permutexvar_ps(_mm512_and_si512(v1, m4), t_lo);
    out[2] = _mm512_permutexvar_ps(_mm512_srli_epi32(v0, 4), t_hi);
    out[3] = _mm512_permutexvar_ps(_mm512_srli_epi32(v1, 4), t_hi);
  }
};

// Columns [B::kElems * u0, B::kElems * (u0 + NU)) of y over all rows (16 accumulators).
template <class B, int NU>
static void xw_tile(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t u0, const float* x,
                    float* y) {
  constexpr int kV = static_cast<int>(NU * B::kElems / 16);
  __m512 acc[kV];
#pragma GCC unroll 16
  for (int k = 0; k < kV; ++k) acc[k] = _mm512_setzero_ps();
  const uint8_t* p = w + u0 * B::kBytes;
  for (int64_t d = 0; d < rows; ++d, p += row_bytes) {
    const __m512 xd = _mm512_set1_ps(x[d]);
#pragma GCC unroll 8
    for (int k = 0; k < NU; ++k) {
#pragma GCC unroll 4
      for (int j = 0; j < B::kParts; ++j) {
        __m512 wv[B::kPartVecs];
        B::load_part(p + k * B::kBytes, j, wv);
        __m512* a = acc + (k * B::kParts + j) * B::kPartVecs;
#pragma GCC unroll 4
        for (int i = 0; i < B::kPartVecs; ++i) a[i] = _mm512_fmadd_ps(xd, wv[i], a[i]);
      }
    }
  }
#pragma GCC unroll 16
  for (int k = 0; k < kV; ++k) _mm512_storeu_ps(y + B::kElems * u0 + 16 * k, acc[k]);
}

template <class B>
static void xw_rows(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                    const float* x, float* y) {
  constexpr int kTile = static_cast<int>(256 / B::kElems);  // units per 256 columns
  const int64_t nu = cols / B::kElems;
  int64_t u = 0;
  for (; u + kTile <= nu; u += kTile) xw_tile<B, kTile>(w, row_bytes, rows, u, x, y);
  for (; u < nu; ++u) xw_tile<B, 1>(w, row_bytes, rows, u, x, y);
}

template <class B>
static void wx_rows(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                    const float* x, float* y) {
  const int64_t nu = cols / B::kElems;
  for (int64_t e = 0; e < rows; ++e) {
    const uint8_t* p = w + e * row_bytes;
    // Lanes 0-7 / 8-15 of a01 are vec_dot_f32_avx2's acc0 / acc1 over each 32-element step;
    // a23 holds acc2, acc3 (a step's elements 16-31).
    __m512 a01 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps();
    for (int64_t u = 0; u < nu; ++u) {
#pragma GCC unroll 4
      for (int j = 0; j < B::kParts; ++j) {
        __m512 wv[B::kPartVecs];
        B::load_part(p + u * B::kBytes, j, wv);
        const float* xp = x + B::kElems * u + 16 * B::kPartVecs * j;
#pragma GCC unroll 4
        for (int k = 0; k < B::kPartVecs; k += 2) {
          a01 = _mm512_fmadd_ps(wv[k], _mm512_loadu_ps(xp + 16 * k), a01);
          a23 = _mm512_fmadd_ps(wv[k + 1], _mm512_loadu_ps(xp + 16 * k + 16), a23);
        }
      }
    }
    y[e] = hsum_acc_pairs(a01, a23);
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
void head_xw_q4_k_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y) {
  xw_rows<Q4_KBlock>(w, row_bytes, rows, cols, x, y);
}
void head_wx_q4_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y) {
  wx_rows<Q4_0Block>(w, row_bytes, rows, cols, x, y);
}
void head_wx_q8_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y) {
  wx_rows<Q8_0Block>(w, row_bytes, rows, cols, x, y);
}
void head_wx_q4_k_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y) {
  wx_rows<Q4_KBlock>(w, row_bytes, rows, cols, x, y);
}

}  // namespace dkb::kernels::detail
