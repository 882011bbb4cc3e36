// AVX2 quantized GEMM for many activation rows (prefill, batched decode): weight rows are first
// unpacked ("packed") once per panel into plain int8/uint8 blocks, then a register-blocked
// micro-kernel computes a tile of RM weight rows x RN tokens, reusing every unpacked weight
// vector for RN tokens and every activation vector for RM rows. Packing: gemm_pack_avx2.cpp,
// formats: gemm_packed.h. Same rules as vec_dot_avx2.cpp: no inline function or std header shared with
// baseline translation units (templates here live in an anonymous namespace).
//
// Integer sums per block are the same as vec_dot_*_avx2's; float accumulation differs: Q5_0/
// Q8_0 scale 8 blocks at once after an hadd reduction, Q4_0 multiplies unsigned nibbles and
// applies its -8 offset through the activation block sums, K-quants apply the min/offset term
// with one int16 dot over the Q8_K bsums. Results equal vec_dot up to float summation order.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_packed.h"
#include "kernels/blocks.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

static float hsum_ps(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

static __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// ---- micro-kernels -------------------------------------------------------------------------

// Legacy tile (Q5_0, Q8_0): RM packed rows x RN Q8_0 activation rows. The integer sums of 8
// consecutive blocks are reduced with hadd into one vector (lane = block) before a single
// convert + scale + fma, instead of one per block; xd holds the activation scales as floats.
static __m256i pair_dot(__m256i aq, __m256i q, __m256i xv) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(xv, q)),
                           _mm256_set1_epi16(1));
}

template <int RM, int RN>
void tile_legacy(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
                 const float* xd, float* y, int64_t ldy) {
  __m256 acc[RM][RN];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  const float* wd[RM];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) wd[r] = reinterpret_cast<const float*>(w + r * w_row + nb * 64);
  const BlockQ8_0* xb[RN];
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) xb[c] = reinterpret_cast<const BlockQ8_0*>(x + c * x_row);
  int64_t g = 0;
  for (; g + 8 <= nb; g += 8) {
    __m256i h4[2][RM][RN];
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      __m256i h2[2][RM][RN];
#pragma GCC unroll 2
      for (int pr = 0; pr < 2; ++pr) {
        const int64_t b = g + 4 * half + 2 * pr;
        __m256i x0[RN], x1[RN];
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) x0[c] = load256(xb[c][b].qs), x1[c] = load256(xb[c][b + 1].qs);
#pragma GCC unroll 8
        for (int r = 0; r < RM; ++r) {
          const uint8_t* wb = w + r * w_row + 64 * b;
          const __m256i q0 = load256(wb), a0 = load256(wb + 32);
          const __m256i q1 = load256(wb + 64), a1 = load256(wb + 96);
#pragma GCC unroll 8
          for (int c = 0; c < RN; ++c) {
            h2[pr][r][c] = _mm256_hadd_epi32(pair_dot(a0, q0, x0[c]), pair_dot(a1, q1, x1[c]));
          }
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) h4[half][r][c] = _mm256_hadd_epi32(h2[0][r][c], h2[1][r][c]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const __m256 dw = _mm256_loadu_ps(wd[r] + g);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m256i lo = _mm256_permute2x128_si256(h4[0][r][c], h4[1][r][c], 0x20);
        const __m256i hi = _mm256_permute2x128_si256(h4[0][r][c], h4[1][r][c], 0x31);
        const __m256 d = _mm256_mul_ps(dw, _mm256_loadu_ps(xd + c * nb + g));
        acc[r][c] =
            _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_add_epi32(lo, hi)), acc[r][c]);
      }
    }
  }
  for (; g < nb; ++g) {
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const uint8_t* wb = w + r * w_row + 64 * g;
      const __m256i q = load256(wb), aq = load256(wb + 32);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m256 d = _mm256_set1_ps(wd[r][g] * xd[c * nb + g]);
        acc[r][c] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(pair_dot(aq, q, load256(xb[c][g].qs))),
                                    acc[r][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]);
}

// Q4_0 tile: unsigned nibbles times Q8_0 activations; the -8 offset is added at the end as
// sum_b d_w[b] * cx[b] with cx[b] = -8 * d_x[b] * sum(x_q[b]) (gemm_prepare_x_avx2).
template <int RM, int RN>
void tile_q4_0(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
               const float* cx, float* y, int64_t ldy) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[RM][RN];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  const float* wd[RM];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) wd[r] = reinterpret_cast<const float*>(w + r * w_row + nb * 32);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i xv[RN];
    __m256 dx[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const auto* blk = reinterpret_cast<const BlockQ8_0*>(x + c * x_row) + b;
      xv[c] = load256(blk->qs);
      dx[c] = _mm256_set1_ps(_cvtsh_ss(blk->d));
    }
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const __m256i q = load256(w + r * w_row + 32 * b);
      const __m256 dw = _mm256_broadcast_ss(wd[r] + b);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv[c]), ones);
        acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx[c]), _mm256_cvtepi32_ps(p), acc[r][c]);
      }
    }
  }
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const __m256 cv = _mm256_loadu_ps(cx + c * nb + b);
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        acc[r][c] = _mm256_fmadd_ps(_mm256_loadu_ps(wd[r] + b), cv, acc[r][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) {
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      float tail = 0.0f;
      for (int64_t bb = b; bb < nb; ++bb) tail += wd[r][bb] * cx[c * nb + bb];
      y[c * ldy + r] = hsum_ps(acc[r][c]) + tail;
    }
  }
}

// K tile: RM packed rows x RN Q8_K activation rows.
template <int RM, int RN>
void tile_k(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row, float* y,
            int64_t ldy) {
  __m256 acc[RM][RN];
  #pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K* xb[RN];
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) xb[c] = reinterpret_cast<const BlockQ8_K*>(x + c * x_row) + i;
    const PackedK* pw[RM];
    #pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) pw[r] = reinterpret_cast<const PackedK*>(w + r * w_row) + i;
    __m256i sumi[RM][RN];
    #pragma GCC unroll 8
    for (int r = 0; r < RM; ++r)
      #pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) sumi[r][c] = _mm256_setzero_si256();
    #pragma GCC unroll 1
    for (int k = 0; k < 8; ++k) {
      __m256i xv[RN];
      #pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) xv[c] = load256(xb[c]->qs + 32 * k);
      #pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256i q = load256(pw[r]->q + 32 * k);
        const __m256i s = load256(pw[r]->sc[k]);
        #pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          sumi[r][c] = _mm256_add_epi32(
              sumi[r][c], _mm256_madd_epi16(s, _mm256_maddubs_epi16(q, xv[c])));
        }
      }
    }
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const __m256i bs = load256(xb[c]->bsums);
      const __m256 dx = _mm256_set1_ps(xb[c]->d);
      #pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256i corr = _mm256_madd_epi16(load256(pw[r]->m), bs);
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(pw[r]->d), dx);
        const __m256 dm = _mm256_mul_ps(_mm256_set1_ps(pw[r]->dm), dx);
        acc[r][c] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi[r][c]), acc[r][c]);
        acc[r][c] = _mm256_fmadd_ps(dm, _mm256_cvtepi32_ps(corr), acc[r][c]);
      }
    }
  }
  #pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
    #pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]);
}

using TileFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*, int64_t);
using Q40TileFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, const float*,
                           float*, int64_t);

// Tile tables [rows-1][cols-1].
constexpr int kQ40RM = 4, kQ40RN = 2;
constexpr int kKRM = 2, kKRN = 4;
constexpr int kL8RM = 2, kL8RN = 4;

static Q40TileFn legacy_tile(int rm, int rn) {
  static const Q40TileFn table[kL8RM][kL8RN] = {
      {tile_legacy<1, 1>, tile_legacy<1, 2>, tile_legacy<1, 3>, tile_legacy<1, 4>},
      {tile_legacy<2, 1>, tile_legacy<2, 2>, tile_legacy<2, 3>, tile_legacy<2, 4>},
  };
  return table[rm - 1][rn - 1];
}

static Q40TileFn q4_0_tile(int rm, int rn) {
  static const Q40TileFn table[kQ40RM][kQ40RN] = {
      {tile_q4_0<1, 1>, tile_q4_0<1, 2>},
      {tile_q4_0<2, 1>, tile_q4_0<2, 2>},
      {tile_q4_0<3, 1>, tile_q4_0<3, 2>},
      {tile_q4_0<4, 1>, tile_q4_0<4, 2>},
  };
  return table[rm - 1][rn - 1];
}

static TileFn k_tile(int rm, int rn) {
  static const TileFn table[kKRM][kKRN] = {
      {tile_k<1, 1>, tile_k<1, 2>, tile_k<1, 3>, tile_k<1, 4>},
      {tile_k<2, 1>, tile_k<2, 2>, tile_k<2, 3>, tile_k<2, 4>},
  };
  return table[rm - 1][rn - 1];
}

static bool is_legacy(GemmKind k) {
  return k == GemmKind::kQ4_0 || k == GemmKind::kQ5_0 || k == GemmKind::kQ8_0;
}

}  // namespace

int gemm_tile_rows(GemmKind k) {
  return k == GemmKind::kQ4_0 ? kQ40RM : is_legacy(k) ? kL8RM : kKRM;
}

void gemm_packed_avx2(GemmKind k, int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x,
                      size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const bool legacy = is_legacy(k);
  const size_t w_row = gemm_packed_row_bytes(k, n);
  const int64_t nb = legacy ? n / 32 : n / kQK_K;
  const int RM = k == GemmKind::kQ4_0 ? kQ40RM : legacy ? kL8RM : kKRM;
  const int RN = k == GemmKind::kQ4_0 ? kQ40RN : legacy ? kL8RN : kKRN;
  for (int64_t c0 = 0; c0 < nc; c0 += RN) {
    const int rn = static_cast<int>(nc - c0 < RN ? nc - c0 : RN);
    for (int64_t r0 = 0; r0 < nr; r0 += RM) {
      const int rm = static_cast<int>(nr - r0 < RM ? nr - r0 : RM);
      if (k == GemmKind::kQ4_0) {
        q4_0_tile(rm, rn)(nb, packed + r0 * w_row, w_row, x + c0 * x_row, x_row, x_extra + c0 * nb,
                          y + c0 * ldy + r0, ldy);
        continue;
      }
      if (legacy) {
        legacy_tile(rm, rn)(nb, packed + r0 * w_row, w_row, x + c0 * x_row, x_row,
                            x_extra + c0 * nb, y + c0 * ldy + r0, ldy);
        continue;
      }
      k_tile(rm, rn)(nb, packed + r0 * w_row, w_row, x + c0 * x_row, x_row, y + c0 * ldy + r0, ldy);
    }
  }
}

}  // namespace dkb::kernels::detail
