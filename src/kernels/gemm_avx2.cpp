// AVX2 quantized GEMM for many activation rows (prefill, batched decode): weight rows are first
// unpacked ("packed") once per panel into plain int8/uint8 blocks, then a register-blocked
// micro-kernel computes a tile of RM weight rows x RN tokens, reusing every unpacked weight
// vector for RN tokens and every activation vector for RM rows. Packing: gemm_pack_avx2.cpp,
// formats: gemm_packed.h. Same rules as vec_dot_avx2.cpp: no inline function or std header shared
// with baseline translation units (templates here live in an anonymous namespace).
//
// Bit-identical to the per-row path: each (row, token) result is computed with exactly the
// float operations of vec_dot_*_avx2, in the same order (see the micro-kernel comment below);
// only the integer work inside a block is rearranged.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_packed.h"
#include "kernels/blocks.h"
#include "avx2_util.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

// ---- micro-kernels -------------------------------------------------------------------------
//
// Every (weight row, token) pair gets its own 8-lane float accumulator that receives exactly
// the operations of vec_dot_*_avx2 for that type, in the same order: per block, the same int32
// lane vector (lane j = the 4 products of bytes 4j..4j+3, however the integer work is
// arranged), converted with cvtepi32_ps, times the same float scale product, fma'd in block
// order, then the same horizontal sum. The GEMM output is therefore bit-identical to the
// per-row path (tests/kernels/gemm_test.cpp checks this exactly).

// Scale products d[r][c][j] = w_d[r][g + j] * x_d[c][g + j] for up to 8 blocks: the same float
// products as vec_dot's per-block h2f(w.d) * h2f(x.d), computed 8 at a time (one mul_ps per
// (row, token) instead of one per block) and broadcast from memory in the block loop.
template <int RM, int RN>
void scale_products(const float* const* wd, const float* xd, int64_t nb, int64_t g, int64_t gn,
                    float (*dt)[RN][8]) {
  if (gn == 8) {
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c)
        _mm256_store_ps(dt[r][c], _mm256_mul_ps(_mm256_loadu_ps(wd[r] + g),
                                                _mm256_loadu_ps(xd + c * nb + g)));
    return;
  }
  for (int r = 0; r < RM; ++r)
    for (int c = 0; c < RN; ++c)
      for (int64_t j = 0; j < gn; ++j) dt[r][c][j] = wd[r][g + j] * xd[c * nb + g + j];
}

// Legacy tile (Q5_0, Q8_0): RM packed rows ([q][|q|] per block) x RN Q8_0 activation rows;
// xd holds the activation scales as floats. Per block: dot_ss8(q, x) as in vec_dot_q8_0_avx2.
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
  for (int64_t g0 = 0; g0 < nb; g0 += 8) {
    const int64_t gn = nb - g0 < 8 ? nb - g0 : 8;
    alignas(32) float dt[RM][RN][8];
    scale_products<RM, RN>(wd, xd, nb, g0, gn, dt);
    for (int64_t j = 0; j < gn; ++j) {
      const int64_t g = g0 + j;
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const uint8_t* wb = w + r * w_row + 64 * g;
        const __m256i q = load256(wb), aq = load256(wb + 32);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          acc[r][c] = _mm256_fmadd_ps(_mm256_broadcast_ss(&dt[r][c][j]),
                                      _mm256_cvtepi32_ps(pair_dot(aq, q, load256(xb[c][g].qs))),
                                      acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]);
}

// Q4_0 tile: unsigned nibbles u times Q8_0 activations x. vec_dot_q4_0_avx2's lane sums of
// (u - 8) * x are formed as maddubs(u, x) - maddubs(8, x) (exact in int16: |pair| <= 3810 and
// 2032), where maddubs(8, x) depends on the token only. xd: activation scales as floats.
template <int RM, int RN>
void tile_q4_0(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
               const float* xd, float* y, int64_t ldy) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i eights = _mm256_set1_epi8(8);
  __m256 acc[RM][RN];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  const float* wd[RM];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) wd[r] = reinterpret_cast<const float*>(w + r * w_row + nb * 32);
  for (int64_t b0 = 0; b0 < nb; b0 += 8) {
    const int64_t bn = nb - b0 < 8 ? nb - b0 : 8;
    alignas(32) float dt[RM][RN][8];
    scale_products<RM, RN>(wd, xd, nb, b0, bn, dt);
    for (int64_t j = 0; j < bn; ++j) {
      const int64_t b = b0 + j;
      __m256i xv[RN], x8[RN];
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        xv[c] = load256(reinterpret_cast<const BlockQ8_0*>(x + c * x_row)[b].qs);
        x8[c] = _mm256_maddubs_epi16(eights, xv[c]);
      }
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256i q = load256(w + r * w_row + 32 * b);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q, xv[c]), x8[c]);
          const __m256i p = _mm256_madd_epi16(p16, ones);
          acc[r][c] =
              _mm256_fmadd_ps(_mm256_broadcast_ss(&dt[r][c][j]), _mm256_cvtepi32_ps(p), acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]);
}

// K tile: RM packed rows x RN Q8_K activation rows. Per super-block the int32 lanes are those
// of vec_dot_q{4,5,6}_k_avx2 (lane j: elements with index % 32 in 4j..4j+3, times their
// scales); Q6_K (OFFSET32) subtracts maddubs(32, x) in int16 as vec_dot_q6_k_avx2 does. Q4_K/
// Q5_K (MINS) accumulate the min term separately in a 4-lane accumulator, exactly like
// vec_dot's acc_m (second loop below), and add its horizontal sum at the end.
template <int RM, int RN, bool OFFSET32, bool MINS>
void tile_k(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row, float* y,
            int64_t ldy) {
  const __m256i m32s = _mm256_set1_epi8(32);
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
      __m256i xv[RN], x32[RN];
      #pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        xv[c] = load256(xb[c]->qs + 32 * k);
        if constexpr (OFFSET32) x32[c] = _mm256_maddubs_epi16(m32s, xv[c]);
      }
      #pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256i q = load256(pw[r]->q + 32 * k);
        const __m256i s = load256(pw[r]->sc[k]);
        #pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          __m256i p16 = _mm256_maddubs_epi16(q, xv[c]);
          if constexpr (OFFSET32) p16 = _mm256_sub_epi16(p16, x32[c]);
          sumi[r][c] = _mm256_add_epi32(sumi[r][c], _mm256_madd_epi16(s, p16));
        }
      }
    }
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const __m256 dx = _mm256_set1_ps(xb[c]->d);
      #pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(pw[r]->d), dx);
        acc[r][c] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi[r][c]), acc[r][c]);
      }
    }
  }
  if constexpr (!MINS) {
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c)
      #pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]);
    return;
  }
  // Min term: per super-block, lanes t = min[2t] * sum32[2t] + min[2t+1] * sum32[2t+1] (the
  // packed m holds each min twice, once per Q8_K bsum of 16), times dm * d_x = -dmin * d_x.
  __m128 acc_m[RM][RN];
  #pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc_m[r][c] = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const auto* xb = reinterpret_cast<const BlockQ8_K*>(x + c * x_row) + i;
      const __m256i bs = load256(xb->bsums);
      const __m128 dx = _mm_set1_ps(xb->d);
      #pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const auto* pw = reinterpret_cast<const PackedK*>(w + r * w_row) + i;
        const __m256i m8 = _mm256_madd_epi16(load256(pw->m), bs);
        const __m128i m4 =
            _mm_hadd_epi32(_mm256_castsi256_si128(m8), _mm256_extracti128_si256(m8, 1));
        const __m128 dm = _mm_mul_ps(_mm_set1_ps(pw->dm), dx);
        acc_m[r][c] = _mm_fmadd_ps(dm, _mm_cvtepi32_ps(m4), acc_m[r][c]);
      }
    }
  }
  #pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
    #pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]) + hsum_ps128(acc_m[r][c]);
}

using TileFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*, int64_t);
using LegacyTileFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, const float*,
                           float*, int64_t);

// Tile tables [rows-1][cols-1].
constexpr int kQ40RM = 4, kQ40RN = 2;
constexpr int kKRM = 2, kKRN = 4;
constexpr int kL8RM = 2, kL8RN = 4;

static LegacyTileFn legacy_tile(int rm, int rn) {
  static const LegacyTileFn table[kL8RM][kL8RN] = {
      {tile_legacy<1, 1>, tile_legacy<1, 2>, tile_legacy<1, 3>, tile_legacy<1, 4>},
      {tile_legacy<2, 1>, tile_legacy<2, 2>, tile_legacy<2, 3>, tile_legacy<2, 4>},
  };
  return table[rm - 1][rn - 1];
}

static LegacyTileFn q4_0_tile(int rm, int rn) {
  static const LegacyTileFn table[kQ40RM][kQ40RN] = {
      {tile_q4_0<1, 1>, tile_q4_0<1, 2>},
      {tile_q4_0<2, 1>, tile_q4_0<2, 2>},
      {tile_q4_0<3, 1>, tile_q4_0<3, 2>},
      {tile_q4_0<4, 1>, tile_q4_0<4, 2>},
  };
  return table[rm - 1][rn - 1];
}

template <bool OFFSET32, bool MINS>
static TileFn k_tile_of(int rm, int rn) {
  static const TileFn table[kKRM][kKRN] = {
      {tile_k<1, 1, OFFSET32, MINS>, tile_k<1, 2, OFFSET32, MINS>, tile_k<1, 3, OFFSET32, MINS>,
       tile_k<1, 4, OFFSET32, MINS>},
      {tile_k<2, 1, OFFSET32, MINS>, tile_k<2, 2, OFFSET32, MINS>, tile_k<2, 3, OFFSET32, MINS>,
       tile_k<2, 4, OFFSET32, MINS>},
  };
  return table[rm - 1][rn - 1];
}

static TileFn k_tile(GemmKind k, int rm, int rn) {
  return k == GemmKind::kQ6_K ? k_tile_of<true, false>(rm, rn) : k_tile_of<false, true>(rm, rn);
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
      k_tile(k, rm, rn)(nb, packed + r0 * w_row, w_row, x + c0 * x_row, x_row, y + c0 * ldy + r0, ldy);
    }
  }
}

}  // namespace dkb::kernels::detail
