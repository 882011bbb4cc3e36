// Attention's row loops at the AVX-512 level (kernels_internal.h simd_attention_rows), bit for bit
// the AVX2 ones this level's F32 dot product and axpy are: the same float operations per (row,
// head) and per element, with more of them in flight.
// - dot_rows: blocks of 2 query heads x 4 K rows, each row and query loaded once per 32-float
//   step; every head's sum exactly vec_dot_f32_avx2's: its 4 accumulators (here the halves of two
//   zmm registers) over 32-float steps, an 8-float tail into the first, the same horizontal sum,
//   then the scalar tail.
// - weighted_heads: up to 4 heads' outputs 64 floats at a time in zmm registers, each V row
//   loaded once for them, then the rest per head (128, 16, 8 floats); each element taking
//   fma(s_j, v_j, y) in row order, as axpy_f32_avx2 gives every element below n rounded down to
//   8; the rest a multiply and an add.
// - Both prefetch the rows pf points at (kernels_internal.h) with the first block of heads: the
//   64-byte lines of each row's 32-element step in dot_rows (two of floats, one of halves), of
//   its 64 elements in weighted_heads (four, two), so the requests are spread over the block's
//   work.
// - The f16 versions (an f16 KV cache) are the same loops over rows of IEEE halves, each loaded
//   16 at a time and widened (exactly) in registers: the f32 versions' results on the widened
//   values, bit for bit.
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
// Shared helpers only from avx512_util.h (internal linkage; see kernels_internal.h).
#include <immintrin.h>

#include <cstdint>

#include "avx512_util.h"
#include "kernels_internal.h"

// GCC 12's AVX-512 intrinsics pass an undefined vector through _mm512_extractf64x4_pd and
// _mm512_shuffle_f32x4 (as in activation_avx512.cpp); the lanes read are always defined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dkb::kernels::detail {
namespace {

// 16 elements of a row as floats, and the masked low 8 (the rest zero); one as a float.
inline __m512 load16(const float* p) {
  return _mm512_loadu_ps(p);
}
inline __m512 load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_low8(const float* p) {
  return _mm512_maskz_loadu_ps(0x00FF, p);
}
inline __m512 load_low8(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(0x00FF, p));
}
inline __m256 load8(const float* p) {
  return _mm256_loadu_ps(p);
}
inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline float to_float(float x) {
  return x;
}
inline float to_float(uint16_t h) {
  return _cvtsh_ss(h);
}
// 64-byte lines of n elements of type T (n a multiple of 16).
template <class T>
constexpr int lines_of(int n) {
  return n * static_cast<int>(sizeof(T)) / 64;
}

// s[h][j0 + r] for H heads and R rows: a block of H x R dot products with each K row and each
// query loaded once per 32-float step. Per (head, row) the float operations are
// vec_dot_f32_avx2's: its accumulators acc0..acc3 are the halves of two zmm registers (lanes
// 0-7 / 8-15 of a01: acc0 / acc1; of a23: acc2 / acc3), the 8-float tail goes into acc0 (the low
// half, masked), then its horizontal sum and scalar tail.
// pf: rows to prefetch (row j0 + r at pf + (j0 + r) * k_stride, one 32-float step at a time), or
// nullptr.
template <int H, int R, class T>
static void dot_block(int64_t n, const T* k, int64_t k_stride, int64_t j0, const float* const* q,
                      float* const* s, const T* pf) {
  __m512 a01[H][R], a23[H][R];
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) a01[h][r] = a23[h][r] = _mm512_setzero_ps();
  const T* row[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) row[r] = k + (j0 + r) * k_stride;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    if (pf != nullptr) {
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const char* p = reinterpret_cast<const char*>(pf + (j0 + r) * k_stride + i);
#pragma GCC unroll 2
        for (int l = 0; l < lines_of<T>(32); ++l) _mm_prefetch(p + 64 * l, _MM_HINT_T0);
      }
    }
    __m512 k0[R], k1[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      k0[r] = load16(row[r] + i);
      k1[r] = load16(row[r] + i + 16);
    }
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 q0 = _mm512_loadu_ps(q[h] + i), q1 = _mm512_loadu_ps(q[h] + i + 16);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        a01[h][r] = _mm512_fmadd_ps(k0[r], q0, a01[h][r]);
        a23[h][r] = _mm512_fmadd_ps(k1[r], q1, a23[h][r]);
      }
    }
  }
  for (; i + 8 <= n; i += 8) {
    constexpr __mmask16 kLow = 0x00FF;
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 qv = _mm512_maskz_loadu_ps(kLow, q[h] + i);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        a01[h][r] = _mm512_mask3_fmadd_ps(load_low8(row[r] + i), qv, a01[h][r], kLow);
      }
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      float sum = hsum_acc_pairs(a01[h][r], a23[h][r]);
      for (int64_t t = i; t < n; ++t) sum += to_float(row[r][t]) * q[h][t];
      s[h][j0 + r] = sum;
    }
}

// Rows [j, j + R) for all nq heads, two at a time; the first pair prefetches pf's rows.
template <int R, class T>
static void dot_rows_block(int64_t n, const T* k, int64_t k_stride, int64_t j,
                           const float* const* q, int nq, float* const* s, const T* pf) {
  int g = 0;
  for (; g + 2 <= nq; g += 2, pf = nullptr) dot_block<2, R>(n, k, k_stride, j, q + g, s + g, pf);
  if (g < nq) dot_block<1, R>(n, k, k_stride, j, q + g, s + g, pf);
}

// kVec zmm vectors of out from element d take every row's term in row order.
template <int kVec, class T>
static void weighted_chunk(int64_t d, const float* s, int64_t n_rows, const T* v, int64_t v_stride,
                           float* out) {
  __m512 acc[kVec];
#pragma GCC unroll 8
  for (int i = 0; i < kVec; ++i) acc[i] = _mm512_loadu_ps(out + d + 16 * i);
  for (int64_t j = 0; j < n_rows; ++j) {
    const __m512 sj = _mm512_set1_ps(s[j]);
    const T* vj = v + j * v_stride + d;
#pragma GCC unroll 8
    for (int i = 0; i < kVec; ++i) {
      acc[i] = _mm512_fmadd_ps(sj, load16(vj + 16 * i), acc[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kVec; ++i) _mm512_storeu_ps(out + d + 16 * i, acc[i]);
}

// Elements [d0, n) of one head's output, from row 0 on: 128 floats at a time in registers, then
// 16, then one 8-float vector (still FMAs, as axpy_f32_avx2), then a multiply and an add each.
template <class T>
static void weighted_from(int64_t d0, int64_t n, const float* s, int64_t n_rows, const T* v,
                          int64_t v_stride, float* out) {
  int64_t d = d0;
  for (; d + 128 <= n; d += 128) weighted_chunk<8>(d, s, n_rows, v, v_stride, out);
  for (; d + 16 <= n; d += 16) weighted_chunk<1>(d, s, n_rows, v, v_stride, out);
  if (d + 8 <= n) {
    __m256 acc = _mm256_loadu_ps(out + d);
    for (int64_t j = 0; j < n_rows; ++j) {
      acc = _mm256_fmadd_ps(_mm256_set1_ps(s[j]), load8(v + j * v_stride + d), acc);
    }
    _mm256_storeu_ps(out + d, acc);
    d += 8;
  }
  for (; d < n; ++d) {
    float y = out[d];
    for (int64_t j = 0; j < n_rows; ++j) y += s[j] * to_float(v[j * v_stride + d]);
    out[d] = y;
  }
}

// Elements [0, d_end) (a multiple of 64) of H heads' outputs, 64 at a time: each V row's four
// vectors are loaded once for the H heads (16 accumulators for 4 heads); the same 64 elements of
// pf's rows are prefetched (unless pf is null).
template <int H, class T>
static void weighted_heads_block(int64_t d_end, const float* const* s, int64_t n_rows, const T* v,
                                 int64_t v_stride, float* const* out, const T* pf) {
  for (int64_t d = 0; d < d_end; d += 64) {
    __m512 acc[H][4];
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h)
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) acc[h][i] = _mm512_loadu_ps(out[h] + d + 16 * i);
    for (int64_t j = 0; j < n_rows; ++j) {
      if (pf != nullptr) {
        const char* p = reinterpret_cast<const char*>(pf + j * v_stride + d);
#pragma GCC unroll 4
        for (int l = 0; l < lines_of<T>(64); ++l) _mm_prefetch(p + 64 * l, _MM_HINT_T0);
      }
      const T* vj = v + j * v_stride + d;
      __m512 vr[4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) vr[i] = load16(vj + 16 * i);
#pragma GCC unroll 4
      for (int h = 0; h < H; ++h) {
        const __m512 sj = _mm512_set1_ps(s[h][j]);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) acc[h][i] = _mm512_fmadd_ps(sj, vr[i], acc[h][i]);
      }
    }
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h)
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) _mm512_storeu_ps(out[h] + d + 16 * i, acc[h][i]);
  }
}

template <class T>
void dot_rows(int64_t n, const T* k, int64_t k_stride, int64_t n_rows, const float* const* q,
              int nq, float* const* s, const T* pf) {
  int64_t j = 0;
  for (; j + 4 <= n_rows; j += 4) dot_rows_block<4>(n, k, k_stride, j, q, nq, s, pf);
  switch (n_rows - j) {
    case 3: dot_rows_block<3>(n, k, k_stride, j, q, nq, s, pf); break;
    case 2: dot_rows_block<2>(n, k, k_stride, j, q, nq, s, pf); break;
    case 1: dot_rows_block<1>(n, k, k_stride, j, q, nq, s, pf); break;
    default: break;
  }
}

template <class T>
void weighted_heads(int64_t n, const float* const* s, int nh, int64_t n_rows, const T* v,
                    int64_t v_stride, float* const* out, const T* pf) {
  const int64_t d_end = n / 64 * 64;
  int h = 0;  // the first block of heads prefetches pf's rows
  for (; h + 4 <= nh; h += 4, pf = nullptr) {
    weighted_heads_block<4>(d_end, s + h, n_rows, v, v_stride, out + h, pf);
  }
  switch (nh - h) {
    case 3: weighted_heads_block<3>(d_end, s + h, n_rows, v, v_stride, out + h, pf); break;
    case 2: weighted_heads_block<2>(d_end, s + h, n_rows, v, v_stride, out + h, pf); break;
    case 1: weighted_heads_block<1>(d_end, s + h, n_rows, v, v_stride, out + h, pf); break;
    default: break;
  }
  if (d_end < n) {
    for (int g = 0; g < nh; ++g) weighted_from(d_end, n, s[g], n_rows, v, v_stride, out[g]);
  }
}

}  // namespace

void dot_rows_f32_avx512(int64_t n, const float* k, int64_t k_stride, int64_t n_rows,
                         const float* const* q, int nq, float* const* s, const float* pf) {
  dot_rows(n, k, k_stride, n_rows, q, nq, s, pf);
}

void dot_rows_f16_avx512(int64_t n, const uint16_t* k, int64_t k_stride, int64_t n_rows,
                         const float* const* q, int nq, float* const* s, const uint16_t* pf) {
  dot_rows(n, k, k_stride, n_rows, q, nq, s, pf);
}

void weighted_heads_f32_avx512(int64_t n, const float* const* s, int nh, int64_t n_rows,
                               const float* v, int64_t v_stride, float* const* out,
                               const float* pf) {
  weighted_heads(n, s, nh, n_rows, v, v_stride, out, pf);
}

void weighted_heads_f16_avx512(int64_t n, const float* const* s, int nh, int64_t n_rows,
                               const uint16_t* v, int64_t v_stride, float* const* out,
                               const uint16_t* pf) {
  weighted_heads(n, s, nh, n_rows, v, v_stride, out, pf);
}

}  // namespace dkb::kernels::detail
