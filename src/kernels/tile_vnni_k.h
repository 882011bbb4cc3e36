// Batch tiles for the K-quants at the AVX-512 level (VNNI on 512-bit registers), for
// tile_avx512.cpp only (two or more tokens; the AVX-512 flags). Internal linkage, like
// tile_impl.h, whose helpers it uses.
//
// In the AVX-512 level's block order (kernels_internal.h), bit-identical to the scalar
// references vec_dot_q{4,5,6}_k_scalar and to gemm_k_avx512.cpp: per block each (row, token)'s
// exact isum (and Q4_K/Q5_K summs), then sumf += d * isum - dmin * summs (Q6_K: += d * isum),
// d = dw * dx, dmin = dminw * dx. The integers are formed in vec_dot_q{4,5,6}_k_avx2's lanes: lane
// l (0..7) of a block is a sum over the block's chunks of 32 elements of scale(chunk, l) *
// sum4(chunk, l), sum4 = the sum of quant * activation over elements 4l..4l+3 of the chunk,
// which fits int16 for these types; the 8 lanes are then summed (exact) per token, the tokens
// landing in the lanes of one float vector per row, so the float work per (row, block) is one
// set of multiplies and adds for all the tokens.
// VNNI issues on two pipes (shared with the FMAs), so the count of VNNI instructions bounds
// these tiles. The 256-bit tiles of tile_impl.h spend two per (row, token, chunk): a vpdpbusd
// for sum4 and a vpdpwssd with the scale in the low half of each int32 lane (Q6_K: plus one per
// (token, chunk) for its -32 offset). Here, per 128 elements (four chunks, one 512-bit vector
// pair) and (row, token): two vpdpbusd make sum4 of two chunks each, one in each 256-bit half,
// a shift and a vpternlogd (other pipes) put the second's sums into the high int16 of the
// first's lanes, and one vpdpwssd scales and accumulates all four chunks: three 512-bit VNNI
// instructions (the pipe time of six 256-bit ones) instead of eight 256-bit ones.
// - Q6_K: quants q in 0..63 with a -32 offset. The activations are taken as x + 128 (unsigned)
//   and the quants as q - 32 (signed): sum4 of (x + 128) * (q - 32) = sum4 + 128 * sum4(q - 32),
//   so each vpdpbusd starts from the row's correction -128 * sum4(q - 32) = 16384 - 128 * sum4(q)
//   (one vpdpbusd per row and chunk pair, shared by the tokens) and ends at sum4 exactly.
// - Q4_K / Q5_K: unsigned quants times signed activations need no correction; summs from
//   madd(mins, pairwise bsums), two tokens per 256-bit instruction, summed by three hadds.
// - Activations, prepared once per matmul into x_extra (tile_prepare_x): x + 128 (Q6_K), or x
//   reordered to the quants' chunk order plus vec_dot's pairwise bsums (Q4_K/Q5_K).
// - Row groups: a call computes up to 32 rows x 8 tokens, chunk of 8 blocks by chunk, each row
//   in turn, so the tokens' activations of a chunk (16 KiB) stay in L1 for the 32 rows instead
//   of every row streaming them from L2 (8960-wide rows: 70 KiB for 8 tokens). The rows'
//   accumulators wait in memory between chunks; each still receives its blocks in order.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/blocks.h"
#include "tile_impl.h"

#ifndef __AVX512F__
#error "tile_vnni_k.h is for tile_avx512.cpp only"
#endif

namespace dkb::kernels::detail {
namespace {

// x_extra of the Q6_K VNNI tiles: the activation row's quants + 128, as unsigned bytes.
inline void prepare_q6_k_vnni(int64_t n, const uint8_t* x, uint8_t* out) {
  const auto* xb = reinterpret_cast<const BlockQ8_K*>(x);
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    for (int k = 0; k < kQK_K; k += 64) {
      _mm512_storeu_si512(out + k, _mm512_xor_si512(_mm512_loadu_si512(xb[i].qs + k), bias));
    }
    out += kQK_K;
  }
}

// vpermw indices of the scale vector of half block j: int32 lane m (0..15) of the packed sums
// holds chunk k = m / 8 (low int16) and k + 2 (high int16) of the half block, at vec_dot's lane
// l = m % 8, whose scale is 2 (4 j + k) + (l >= 4).
inline __m512i q6_k_scale_index(int j) {
  alignas(64) int16_t idx[32];
  for (int w = 0; w < 32; ++w) {
    const int m = w / 2, k = m / 8 + 2 * (w % 2), l = m % 8;
    idx[w] = static_cast<int16_t>(2 * (4 * j + k) + (l >= 4 ? 1 : 0));
  }
  return _mm512_load_si512(idx);
}

// The block's exact integer sums of the RN tokens, one per lane: the two 256-bit halves of
// sumi[c] added, then its 8 lanes (lanes from RN on: 0).
template <int RN>
inline __m256i token_sums(const __m512i (&sumi)[RN]) {
  __m256i h[RN];
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) {
    h[c] = _mm256_add_epi32(_mm512_castsi512_si256(sumi[c]), _mm512_extracti64x4_epi64(sumi[c], 1));
  }
  return hsum_lanes<RN>(h);
}

// Constants of q6_k_vnni_block.
struct Q6kVnni {
  __m512i m0f = _mm512_set1_epi8(0x0F);
  __m512i m30 = _mm512_set1_epi8(0x30);
  __m512i m32 = _mm512_set1_epi8(32);
  __m512i lo16 = _mm512_set1_epi32(0xFFFF);
  __m512i neg128 = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i c16384 = _mm512_set1_epi32(16384);
  // qh bits 2k, 2k + 1 to bits 4, 5: rotate left by 4 (k0) | 2 (k1), 0 (k2) | 30 (k3).
  __m512i rot01 = _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2);
  __m512i rot23 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 30, 30, 30, 30, 30, 30, 30, 30);
  __m512i sidx[2] = {q6_k_scale_index(0), q6_k_scale_index(1)};
};

// One weight block a times the block of RN tokens: acc[c] = fma(d, sum, acc[c]) as vec_dot.
// xe: the tokens' x_extra bytes of this block, xe_row apart; x: their Q8_K blocks, x_row apart.
template <int RN>
inline void q6_k_vnni_block(const Q6kVnni& k, const BlockQ6_K* a, const uint8_t* xe, size_t xe_row,
                            const float* xd, __m256& acc) {
  __m512i sumi[RN];
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) sumi[c] = _mm512_setzero_si512();
  const __m512i sc16 = _mm512_castsi256_si512(
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a->scales))));
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j) {
    // The quants of chunks (k0 | k1) and (k2 | k3) of this half block as q - 32, the
    // corrections 16384 - 128 * sum4(q) in the same lanes, the scales of the packed lanes.
    const __m512i ql = _mm512_loadu_si512(a->ql + 64 * j);
    const __m512i hb = _mm512_broadcast_i64x4(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->qh + 32 * j)));
    // q (0..63) = (ql nibble) | (qh bits at 4, 5).
    const __m512i ua = _mm512_ternarylogic_epi32(
        ql, k.m0f, _mm512_and_si512(_mm512_rolv_epi32(hb, k.rot01), k.m30), 0xEA);
    const __m512i ub =
        _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), k.m0f,
                                  _mm512_and_si512(_mm512_rolv_epi32(hb, k.rot23), k.m30), 0xEA);
    const __m512i ca = _mm512_dpbusd_epi32(k.c16384, ua, k.neg128);
    const __m512i cb = _mm512_dpbusd_epi32(k.c16384, ub, k.neg128);
    const __m512i qa = _mm512_sub_epi8(ua, k.m32);
    const __m512i qb = _mm512_sub_epi8(ub, k.m32);
    const __m512i sc = _mm512_permutexvar_epi16(k.sidx[j], sc16);
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const uint8_t* xv = xe + c * xe_row + 128 * j;
      const __m512i pa = _mm512_dpbusd_epi32(ca, _mm512_loadu_si512(xv), qa);
      const __m512i pb = _mm512_dpbusd_epi32(cb, _mm512_loadu_si512(xv + 64), qb);
      // Both sums fit int16: pa to the low half of each lane, pb to the high.
      const __m512i p = _mm512_ternarylogic_epi32(pa, k.lo16, _mm512_slli_epi32(pb, 16), 0xEA);
      sumi[c] = _mm512_dpwssd_epi32(sumi[c], p, sc);
    }
  }
  // The scalar reference's sumf += (dw * dx) * isum, the tokens in the lanes.
  const __m256 d = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(a->d)), _mm256_load_ps(xd));
  acc = _mm256_add_ps(acc, _mm256_mul_ps(d, _mm256_cvtepi32_ps(token_sums<RN>(sumi))));
}

// Q4_K / Q5_K x Q8_K, vec_dot_q{4,5}_k_avx2's lanes: lane l (0..7) of a block's int32 sum is
// sum over the 4 groups j of 64 elements of scale(2 j) * sum4(low nibbles of group j, l) +
// scale(2 j + 1) * sum4(high nibbles, l) (|sum4| <= 4 * 31 * 128 fits int16), plus the separate
// 4-lane min term. The same pairing as Q6_K: per half block (groups 2h, 2h + 1), one vpdpbusd
// for the low-nibble chunks of both groups, one for the high-nibble chunks, their sums packed
// into the two int16 halves of each lane and scaled by one vpdpwssd; the quants are unsigned
// already, so no correction. x_extra per token: the activations of each 128 reordered to the
// quants' order (the low-nibble chunks of both groups, then the high-nibble ones), then per
// block the 8 pairwise sums of bsums (vec_dot's q8s), 16 bytes.
inline void prepare_q45_k_vnni(int64_t n, const uint8_t* x, uint8_t* out) {
  const auto* xb = reinterpret_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  uint8_t* sums = out + n;
  for (int64_t i = 0; i < nb; ++i) {
    for (int h = 0; h < 2; ++h) {
      const int8_t* s = xb[i].qs + 128 * h;
      for (int k = 0; k < 4; ++k) {  // source chunks 0, 2 (low nibbles), 1, 3 (high)
        const int src = (k % 2) * 2 + k / 2;
        std::memcpy(out + 32 * k, s + 32 * src, 32);
      }
      out += 128;
    }
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[i].bsums));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(sums + 16 * i),
                     _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
  }
}

template <bool kFive>
struct Q45kVnni {
  using Block = typename KBlock<kFive>::type;
  __m512i m0f = _mm512_set1_epi8(0x0F);
  __m512i bit4 = _mm512_set1_epi8(0x10);
  __m512i lo16 = _mm512_set1_epi32(0xFFFF);
  // The scale pair of group 2h (low 256 bits) and 2h + 1 (high): int32 lanes 2h, 2h + 1 of
  // the 8 scales as int16.
  __m512i sidx[2] = {_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                     _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3)};
  // Q5_K: bit 2j (low-nibble chunk) / 2j + 1 (high) of qh to bit 4, groups 2h | 2h + 1.
  __m512i rot_lo[2] = {_mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2),
                       _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 30, 30, 30, 30, 30, 30, 30, 30)};
  __m512i rot_hi[2] = {
      _mm512_setr_epi32(3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
      _mm512_setr_epi32(31, 31, 31, 31, 31, 31, 31, 31, 29, 29, 29, 29, 29, 29, 29, 29)};
};

// One weight block a times the block of RN tokens, in the block order: acc (the tokens in the
// lanes) += d * isum - dmin * summs, the scalar reference's operations. q8s: the tokens' pairwise
// bsum sums (8 int16 each), xe_row apart.
template <bool kFive, int RN>
inline void q45_k_vnni_block(const Q45kVnni<kFive>& k, const typename KBlock<kFive>::type* a,
                             const uint8_t* xe, const uint8_t* q8s, size_t xe_row, const float* xd,
                             __m256& acc) {
  const __m256i ms = _mm256_cvtepu8_epi16(unpack_scales_mins(a->scales));
  const __m128i mins128 = _mm256_extracti128_si256(ms, 1);
  const __m256i mins = _mm256_set_m128i(mins128, mins128);
  // summs per token: madd gives 4 int32 lanes per token (tokens 2p, 2p + 1 in the two halves
  // of v[p]); three hadds sum them, in the lane order 0 2 4 6 1 3 5 7.
  __m256i v[4];
#pragma GCC unroll 4
  for (int p = 0; p < 4; ++p) {
    const __m128i s0 = 2 * p < RN
                           ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(q8s + 2 * p * xe_row))
                           : _mm_setzero_si128();
    const __m128i s1 =
        2 * p + 1 < RN
            ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(q8s + (2 * p + 1) * xe_row))
            : _mm_setzero_si128();
    v[p] = _mm256_madd_epi16(mins, _mm256_set_m128i(s1, s0));
  }
  const __m256i summs = _mm256_permutevar8x32_epi32(
      _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3])),
      _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  const __m512i sc16 = _mm512_castsi256_si512(ms);
  __m512i hb;
  if constexpr (kFive) {
    hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->qh)));
  }
  __m512i sumi[RN];
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) sumi[c] = _mm512_setzero_si512();
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m512i bits = _mm512_loadu_si512(a->qs + 64 * h);
    __m512i lo = _mm512_and_si512(bits, k.m0f);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), k.m0f);
    if constexpr (kFive) {
      lo = _mm512_ternarylogic_epi32(lo, _mm512_rolv_epi32(hb, k.rot_lo[h]), k.bit4, 0xF8);
      hi = _mm512_ternarylogic_epi32(hi, _mm512_rolv_epi32(hb, k.rot_hi[h]), k.bit4, 0xF8);
    }
    const __m512i sc = _mm512_permutexvar_epi32(k.sidx[h], sc16);
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const uint8_t* xv = xe + c * xe_row + 128 * h;
      const __m512i pl = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(xv));
      const __m512i ph =
          _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, _mm512_loadu_si512(xv + 64));
      const __m512i p = _mm512_ternarylogic_epi32(pl, k.lo16, _mm512_slli_epi32(ph, 16), 0xEA);
      sumi[c] = _mm512_dpwssd_epi32(sumi[c], p, sc);
    }
  }
  const __m256 xdv = _mm256_load_ps(xd);
  const __m256 d = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(a->d)), xdv);
  const __m256 dmin = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(a->dmin)), xdv);
  const __m256 t = _mm256_sub_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(token_sums<RN>(sumi))),
                                 _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(summs)));
  acc = _mm256_add_ps(acc, t);
}

// Rows per call and blocks per activation chunk of the K-quant VNNI tiles: the tokens'
// x_extra of a chunk (8 tokens x 8 blocks: 16 KiB) stays in L1 while the group's rows pass
// over it, so each row no longer streams all of it from L2 (ffn_down's 8960-wide rows: 70 KiB
// for 8 tokens). 32 rows measured ~5% faster than 8 or 16 on 1536-wide rows (one thread,
// weights from memory), the same on 8960-wide ones; chunks of 4 or 16 blocks no better.
constexpr int kKGroupRows = 32;
constexpr int64_t kKChunkBlocks = 8;

// y[c * ldy + r] for r < nr <= kKGroupRows rows and RN tokens of weight type kType (4, 5, 6 for
// Q4_K, Q5_K, Q6_K): per chunk of blocks, each row in turn; each (row, token) accumulator
// still receives its blocks in order (kept in memory between chunks), so the float operations
// are vec_dot's. Prefetches the nr rows at pf over the call (the next group).
template <int kType, int RN>
void tile_k_vnni(int64_t nb, const uint8_t* w, size_t w_row, int64_t nr, const uint8_t* x,
                 size_t x_row, const uint8_t* xe, float* y, int64_t ldy, uintptr_t pf) {
  using Consts = std::conditional_t<kType == 6, Q6kVnni, Q45kVnni<kType == 5>>;
  using Block = std::conditional_t<kType == 6, BlockQ6_K, typename KBlock<kType == 5>::type>;
  const Consts k;
  const size_t xe_row = tile_k_vnni_extra_bytes(kType, nb * kQK_K);  // per token
  // Per row, its sums of the RN tokens (lanes; the rest 0).
  alignas(32) float acc_mem[kKGroupRows][8] = {};
  // Per block of the chunk: the tokens' x.d (lanes from RN on: 0).
  alignas(32) float xd[kKChunkBlocks][8] = {};
  int64_t step = 0;
  for (int64_t i0 = 0; i0 < nb; i0 += kKChunkBlocks) {
    const int64_t i1 = nb - i0 < kKChunkBlocks ? nb : i0 + kKChunkBlocks;
    for (int64_t i = i0; i < i1; ++i) {
      for (int c = 0; c < RN; ++c) {
        xd[i - i0][c] = (reinterpret_cast<const BlockQ8_K*>(x + c * x_row) + i)->d;
      }
    }
    for (int64_t r = 0; r < nr; ++r) {
      __m256 acc = _mm256_load_ps(acc_mem[r]);
      const auto* a = reinterpret_cast<const Block*>(w + r * w_row);
      for (int64_t i = i0; i < i1; ++i, ++step) {
        prefetch_step<sizeof(Block)>(pf, step);
        if constexpr (kType == 6) {
          q6_k_vnni_block<RN>(k, a + i, xe + i * kQK_K, xe_row, xd[i - i0], acc);
        } else {
          q45_k_vnni_block<kType == 5, RN>(k, a + i, xe + i * kQK_K, xe + nb * kQK_K + 16 * i,
                                           xe_row, xd[i - i0], acc);
        }
      }
      _mm256_store_ps(acc_mem[r], acc);
    }
  }
  for (int c = 0; c < RN; ++c) {
    for (int64_t r = 0; r < nr; ++r) y[c * ldy + r] = acc_mem[r][c];
  }
}

using KVnniFn = void (*)(int64_t nb, const uint8_t* w, size_t w_row, int64_t nr, const uint8_t* x,
                         size_t x_row, const uint8_t* xe, float* y, int64_t ldy, uintptr_t pf);

template <int kType>
KVnniFn k_vnni_fn(int rn) {
  switch (rn) {
    case 1:
      return tile_k_vnni<kType, 1>;
    case 2:
      return tile_k_vnni<kType, 2>;
    case 3:
      return tile_k_vnni<kType, 3>;
    case 4:
      return tile_k_vnni<kType, 4>;
    case 5:
      return tile_k_vnni<kType, 5>;
    case 6:
      return tile_k_vnni<kType, 6>;
    case 7:
      return tile_k_vnni<kType, 7>;
    default:
      return tile_k_vnni<kType, 8>;
  }
}

// The K-quant batch tiles at the AVX-512 level: groups of kKGroupRows rows x 8 tokens.
template <int kType>
void tile_run_k_vnni(int64_t n, const uint8_t* w, size_t w_row, int64_t nr, const uint8_t* x,
                     size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const int64_t nb = n / kQK_K;
  const auto* xe = reinterpret_cast<const uint8_t*>(x_extra);
  const size_t xe_row = tile_k_vnni_extra_bytes(kType, n);
  for (int64_t r0 = 0; r0 < nr; r0 += kKGroupRows) {
    const int64_t rows = nr - r0 < kKGroupRows ? nr - r0 : kKGroupRows;
    const uintptr_t next = reinterpret_cast<uintptr_t>(w + (r0 + rows) * w_row);
    for (int64_t c0 = 0; c0 < nc; c0 += 8) {
      const int rn = static_cast<int>(nc - c0 < 8 ? nc - c0 : 8);
      k_vnni_fn<kType>(rn)(nb, w + r0 * w_row, w_row, rows, x + c0 * x_row, x_row, xe + c0 * xe_row,
                           y + c0 * ldy + r0, ldy, next);
    }
  }
}

}  // namespace
}  // namespace dkb::kernels::detail
