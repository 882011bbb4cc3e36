// Unpack-on-the-fly tiles for decode (one token) and small batches, shared by tile_avx2.cpp
// (kVnni = false) and tile_avx512.cpp (kVnni = true, compiled with AVX-512 F/BW/VL/VNNI). Include
// only from those two files: everything here has internal linkage, so each gets its own copy
// built with its own ISA flags.
//
// A tile of RM weight rows x RN activation rows is computed straight from the quantized weight
// rows as stored (the mmap'd file), with no packing pass, so decode reads every weight byte
// exactly once. Each weight block is unpacked once per tile and used for RN tokens; each
// activation block (and what depends on the activation only: Q4_0's 8 * x sums, Q6_K's 32 * x
// sums, the K-quants' bsum pairs, the scale as float) is loaded once and used for RM rows. The
// RM x RN float accumulators are independent chains, which hides the FMA latency that bounds
// the one-row vec_dot (one chain, one block per FMA).
//
// Bit-identical to vec_dot_*_avx2: every (row, token) accumulator receives exactly the float
// operations of that type's vec_dot, in the same order: per block the same int32 lane vector
// (however the exact integer work is arranged), the same float scale product, the same FMA in
// block order, then the same horizontal sum. tests/kernels/tile_test.cpp checks this bitwise at
// each level. With kVnni the int32 lanes come from vpdpbusd (sum of 4 u8 x s8 products, exact)
// and vpdpwssd instead of maddubs + madd; for these value ranges no int16 step saturates, so the
// lanes are the same integers. The K-quants (Q4_K, Q5_K, Q6_K) at the AVX-512 level take the
// kVnni tiles here with one token only (4 x 1, 256-bit, with the long-row L2 prefetch; one
// token, two threads, weights from memory on huge pages: ~17-20% faster than the AVX2 tiles);
// with two or more tokens tile_vnni_k.h's batch tiles, on 512-bit registers; the same contract.
// (A 512-bit one-token Q4_K body, two 64-element groups per register, measured ~4% faster from
// L2 but ~10% slower from memory, 1536 -> 8960 with two threads, and was not kept.) Except:
// at the AVX-512 level Q4_0 and Q5_0 (tile_legacy_blocks, tile_legacy_tokens) and the K-quants
// (the kVnni tiles here and tile_vnni_k.h's) follow that level's block order instead
// (kernels_internal.h), as its GEMMs do: per block the exact integer dot product of a (row,
// token) — the lanes above, summed — then the scalar reference's float operations.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "avx2_util.h"
#include "kernels/blocks.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

// Bytes 0..15 at p -> 32 bytes: their low nibbles, then their high nibbles (unpack_nibbles,
// with one broadcast load and a per-lane shift instead of a shift and an insert).
static __m256i nibbles(const uint8_t* p) {
  const __m256i b =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_and_si256(_mm256_srlv_epi64(b, _mm256_set_epi64x(4, 4, 0, 0)),
                          _mm256_set1_epi8(0x0F));
}

// The half-precision scales at p, p + kStride, ..., p + 7 * kStride as floats: eight 16-bit
// inserts (a vector gather is many times slower on the machines measured) and one conversion.
template <int kStride>
__m256 load_scales8(const uint8_t* p) {
  auto h = [p](int k) {
    uint16_t v;
    std::memcpy(&v, p + k * kStride, 2);
    return static_cast<int>(v);
  };
  __m128i v = _mm_cvtsi32_si128(h(0));
  v = _mm_insert_epi16(v, h(1), 1);
  v = _mm_insert_epi16(v, h(2), 2);
  v = _mm_insert_epi16(v, h(3), 3);
  v = _mm_insert_epi16(v, h(4), 4);
  v = _mm_insert_epi16(v, h(5), 5);
  v = _mm_insert_epi16(v, h(6), 6);
  v = _mm_insert_epi16(v, h(7), 7);
  return _mm256_cvtph_ps(v);
}

// Scale products dt[r][c][j] = h2f(w_r[g + j].d) * xd[c][g + j] for the blocks g..g+gn-1: the
// same float products as vec_dot's per-block h2f(a.d) * h2f(b.d) (xd holds the activation
// scales as floats, exactly), computed 8 at a time and broadcast from memory in the block loop.
template <typename Block, int RM, int RN>
void legacy_scales(const Block* const* wr, const float* xd, int64_t nb, int64_t g, int64_t gn,
                   float (*dt)[RN][8]) {
  if (gn == 8) {
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const __m256 dw = load_scales8<sizeof(Block)>(reinterpret_cast<const uint8_t*>(&wr[r][g].d));
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        _mm256_store_ps(dt[r][c], _mm256_mul_ps(dw, _mm256_loadu_ps(xd + c * nb + g)));
      }
    }
    return;
  }
  for (int r = 0; r < RM; ++r)
    for (int c = 0; c < RN; ++c)
      for (int64_t j = 0; j < gn; ++j) dt[r][c][j] = _cvtsh_ss(wr[r][g + j].d) * xd[c * nb + g + j];
}

// Software prefetch of the next tile's weight rows, spread over this tile's block steps: step k
// requests [pf + k * kStep, pf + (k + 1) * kStep), kStep = the tile's weight bytes per step, so
// over the whole tile the next tile is requested line by line (ceil(kStep / 64) prefetches per
// step cover every line: a line that straddles two steps is the first of the next one). RM
// rows are read in parallel, RM short streams that the hardware prefetcher follows poorly; the
// next tile is one contiguous range. The second and later token chunks of a tile request the
// same lines again, which hit cache (an early return for "no prefetch" made GCC 12 drop the
// prefetches altogether).
// Measured (one thread streaming from memory, 1536-wide rows): Q8_0, which needs the most
// bytes per unit of work, streams fastest prefetching into L2 two tiles ahead (~19 vs ~11 GB/s
// into L1 one tile ahead); the other types the other way round (Q4_0 ~19, Q6_K ~19 vs ~15 GB/s).
template <int kStep, bool kToL2 = false>
void prefetch_step(uintptr_t pf, int64_t k) {
  const uintptr_t p = pf + static_cast<uintptr_t>(k) * kStep;
  for (int l = 0; l < kStep; l += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + l), kToL2 ? _MM_HINT_T1 : _MM_HINT_T0);
  }
}

template <int RM, int RN>
void store_sums(__m256 (&acc)[RM][RN], float* y, int64_t ldy) {
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]);
}

// Legacy weights (Q4_0, Q5_0, Q8_0) x Q8_0. Per weight block the int32 lanes of vec_dot:
// - Q4_0, (u - 8) * x for nibbles u: maddubs(u, x) - maddubs(8, x) (exact in int16: |pairs| <=
//   3810 and 2032), maddubs(8, x) per token only; with VNNI dpbusd(-8 * sum4(x), u, x);
// - Q8_0 and Q5_0 (as q - 16), signed q * x: dot_ss8 as in vec_dot, |q| per weight block; with
//   VNNI sum4(x * q) = dpbusd(-128 * sum4(q), x + 128, q), x + 128 (x ^ 0x80 as unsigned) per
//   activation block.
// Activation side: the block as loaded or biased (xv) and its term (xt); weight side: the quants
// (q) and their term (qt); what depends on one side only is computed once per tile.
template <typename Block>
__m256i weight_quants(const Block& b) {
  if constexpr (sizeof(Block) == sizeof(BlockQ4_0)) {
    return nibbles(b.qs);
  } else if constexpr (sizeof(Block) == sizeof(BlockQ8_0)) {
    return load256(b.qs);
  } else {
    // q - 16 as a signed byte: nibble | 0xF0 when the high bit is clear, nibble otherwise.
    const __m256i hi =
        _mm256_andnot_si256(bits_to_bytes(b.qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
    return _mm256_or_si256(nibbles(b.qs), hi);
  }
}

template <bool kVnni, bool kQ4>
void activation_terms(__m256i& xv, __m256i& xt) {
  const __m256i zero = _mm256_setzero_si256();
  if constexpr (kQ4 && kVnni) {
    xt = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(8), xv));
  } else if constexpr (kQ4) {
    xt = _mm256_maddubs_epi16(_mm256_set1_epi8(8), xv);
  } else if constexpr (kVnni) {
    xv = _mm256_xor_si256(xv, _mm256_set1_epi8(static_cast<char>(0x80)));
    xt = zero;
  } else {
    xt = zero;
  }
}

template <bool kVnni, bool kQ4>
__m256i weight_term(__m256i q) {
  if constexpr (kQ4) return q;  // unused
  if constexpr (kVnni) {
    const __m256i zero = _mm256_setzero_si256();
    return _mm256_sub_epi32(
        zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(static_cast<char>(0x80)), q));
  }
  return _mm256_sign_epi8(q, q);
}

template <bool kVnni, bool kQ4>
__m256i legacy_lanes(__m256i q, __m256i qt, __m256i xv, __m256i xt) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (kQ4 && kVnni) return _mm256_dpbusd_epi32(xt, q, xv);
  if constexpr (kQ4)
    return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(q, xv), xt), ones);
  if constexpr (kVnni) return _mm256_dpbusd_epi32(qt, xv, q);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(qt, _mm256_sign_epi8(xv, q)), ones);
}

// ---- the AVX-512 level's Q4_0 / Q5_0 tiles: block order (kernels_internal.h) ---------------

// 8 x 8 floats transposed: lane j of r[i] becomes lane i of r[j].
inline void transpose8_ps(__m256 (&r)[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Lane i of the result: the sum of the 8 int32 lanes of p[i], for i < K (exact: the sums fit
// int32); lanes from K on are 0.
template <int K>
__m256i hsum_lanes(const __m256i* p) {
  const __m256i z = _mm256_setzero_si256();
  auto at = [p, z](int i) { return i < K ? p[i] : z; };
  const __m256i h01 = _mm256_hadd_epi32(at(0), at(1));
  const __m256i h23 = K > 2 ? _mm256_hadd_epi32(at(2), at(3)) : z;
  const __m256i h45 = K > 4 ? _mm256_hadd_epi32(at(4), at(5)) : z;
  const __m256i h67 = K > 6 ? _mm256_hadd_epi32(at(6), at(7)) : z;
  const __m256i a = _mm256_hadd_epi32(h01, h23);  // lanes 0-3: low halves, 4-7: high halves
  const __m256i b = K > 4 ? _mm256_hadd_epi32(h45, h67) : z;
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
                          _mm256_permute2x128_si256(a, b, 0x31));
}

// dt[j][i] = h2f(w_r[g + j].d) * xd_c[g + j] for the pairs i = r * RN + c (0 past RM * RN) and
// the blocks g..g+gn-1: the same float products as legacy_scales, laid out by block.
template <typename Block, int RM, int RN, int kLanes>
void block_scales(const Block* const* wr, const float* xd, int64_t nb, int64_t g, int64_t gn,
                  float (*dt)[kLanes]) {
  if (gn == 8) {
    __m256 dw[RM];
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      dw[r] = load_scales8<sizeof(Block)>(reinterpret_cast<const uint8_t*>(&wr[r][g].d));
    }
#pragma GCC unroll 2
    for (int grp = 0; grp < kLanes / 8; ++grp) {
      __m256 m[8];
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const int i = 8 * grp + k;
        m[k] = i < RM * RN ? _mm256_mul_ps(dw[i / RN], _mm256_loadu_ps(xd + (i % RN) * nb + g))
                           : _mm256_setzero_ps();
      }
      transpose8_ps(m);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) _mm256_store_ps(dt[j] + 8 * grp, m[j]);
    }
    return;
  }
  for (int64_t j = 0; j < gn; ++j) {
    for (int i = 0; i < kLanes; ++i) {
      dt[j][i] = i < RM * RN ? _cvtsh_ss(wr[i / RN][g + j].d) * xd[(i % RN) * nb + g + j] : 0.0f;
    }
  }
}

// Q4_0 / Q5_0 x Q8_0 in the AVX-512 level's block order: per block, each (row, token)'s exact
// integer dot product (the 8 int32 lanes of legacy_lanes, summed), then
// acc += float(sumi) * (dw * dx) with acc starting at 0 — as gemm_avx512.cpp and that level's
// vec_dot. The (row, token) pairs sit in the lanes of RM * RN / 8 float vectors, so a block costs
// one conversion, multiply and add per 8 pairs (the AVX2 order: one conversion and FMA per pair).
template <typename Block, int RM, int RN, bool kLongRows>
void tile_legacy_blocks(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
                        const float* xd, float* y, int64_t ldy, uintptr_t pf) {
  constexpr bool kQ4 = sizeof(Block) == sizeof(BlockQ4_0);
  constexpr int kPairs = RM * RN, kGroups = (kPairs + 7) / 8;
  static_assert(kGroups <= 2, "tiles of at most 16 (row, token) pairs");
  __m256 acc[kGroups];
#pragma GCC unroll 2
  for (int grp = 0; grp < kGroups; ++grp) acc[grp] = _mm256_setzero_ps();
  const Block* wr[RM];
  const BlockQ8_0* xr[RN];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) wr[r] = reinterpret_cast<const Block*>(w + r * w_row);
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) xr[c] = reinterpret_cast<const BlockQ8_0*>(x + c * x_row);
  for (int64_t g = 0; g < nb; g += 8) {
    const int64_t gn = nb - g < 8 ? nb - g : 8;
    alignas(32) float dt[8][8 * kGroups];
    block_scales<Block, RM, RN, 8 * kGroups>(wr, xd, nb, g, gn, dt);
    for (int64_t j = 0; j < gn; ++j) {
      const int64_t b = g + j;
      prefetch_step<RM * sizeof(Block), kLongRows || sizeof(Block) == sizeof(BlockQ8_0)>(pf, b);
      __m256i xv[RN], xt[RN];
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        xv[c] = load256(xr[c][b].qs);
        activation_terms<true, kQ4>(xv[c], xt[c]);
      }
      __m256i p[kPairs];
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256i q = weight_quants(wr[r][b]);
        const __m256i qt = weight_term<true, kQ4>(q);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) p[r * RN + c] = legacy_lanes<true, kQ4>(q, qt, xv[c], xt[c]);
      }
      auto update = [&](int grp, __m256i sumi) {
        const __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(sumi), _mm256_load_ps(dt[j] + 8 * grp));
        acc[grp] = _mm256_add_ps(acc[grp], t);
      };
      if constexpr (kGroups > 1) update(0, hsum_lanes<8>(p));
      constexpr int kLast = kPairs - 8 * (kGroups - 1);  // pairs in the last group
      update(kGroups - 1, hsum_lanes<kLast>(p + 8 * (kGroups - 1)));
    }
  }
  alignas(32) float out[8 * kGroups];
#pragma GCC unroll 2
  for (int grp = 0; grp < kGroups; ++grp) _mm256_store_ps(out + 8 * grp, acc[grp]);
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) y[c * ldy + r] = out[r * RN + c];
}

// Q4_0 / Q5_0 batches at the AVX-512 level, block order, with the tokens in the lanes: groups of
// kGroupTokens tokens whose activations tile_prepare_x_avx512 interleaves (per block,
// kTokenBlockBytes: for each of the 8 steps s the group's 4 bytes 4s..4s+3, token by token; then
// the tokens' scales as floats; then their terms -off * sum(x) as int32; missing tokens zero).
// vpdpbusd then multiplies 4 broadcast elements of one weight row (unsigned, u = q + off) by 4
// elements of each token, so a block's integer dot product ends whole in the token's lane: no
// horizontal sums, one conversion, multiply and add per (row, block) for all the tokens.
constexpr int kGroupTokens = 8;
static_assert(kGroupTokens == kTileTokenGroup, "x_extra is sized for whole groups");
constexpr int64_t kTokenBlockBytes = 8 * 32 + 32 + 32;
// From this many tokens (up to that, tile_legacy_blocks per token).
constexpr int64_t kTokenTilesMin = 5;

// The unsigned elements u = q + off of a Q4_0 (off 8) or Q5_0 (off 16) block, in element order.
template <typename Block>
__m256i weight_unsigned(const Block& b) {
  if constexpr (sizeof(Block) == sizeof(BlockQ4_0)) {
    return nibbles(b.qs);
  } else {
    return _mm256_or_si256(nibbles(b.qs),
                           _mm256_and_si256(bits_to_bytes(b.qh), _mm256_set1_epi8(0x10)));
  }
}

template <typename Block, int RM, int RN, bool kLongRows>
void tile_legacy_tokens(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t*, size_t,
                        const float* group, float* y, int64_t ldy, uintptr_t pf) {
  static_assert(RN <= kGroupTokens, "one group of tokens");
  const auto* xg = reinterpret_cast<const uint8_t*>(group);
  __m256 acc[RM];
  const Block* wr[RM];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) {
    wr[r] = reinterpret_cast<const Block*>(w + r * w_row);
    acc[r] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    prefetch_step<RM * sizeof(Block), kLongRows>(pf, b);
    const uint8_t* xb = xg + b * kTokenBlockBytes;
    __m256i xs[8];
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) xs[s] = load256(xb + 32 * s);
    const __m256 dx = _mm256_loadu_ps(reinterpret_cast<const float*>(xb + 256));
    const __m256i init = load256(xb + 288);
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      alignas(32) int32_t u[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(u), weight_unsigned(wr[r][b]));
      __m256i s0 = init, s1 = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int s = 0; s < 8; s += 2) {
        s0 = _mm256_dpbusd_epi32(s0, _mm256_set1_epi32(u[s]), xs[s]);
        s1 = _mm256_dpbusd_epi32(s1, _mm256_set1_epi32(u[s + 1]), xs[s + 1]);
      }
      const __m256 d = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(wr[r][b].d)), dx);
      const __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), d);
      acc[r] = _mm256_add_ps(acc[r], t);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) {
    alignas(32) float out[8];
    _mm256_store_ps(out, acc[r]);
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) y[c * ldy + r] = out[c];
  }
}

// Token t's part of the interleaved activations of tile_legacy_tokens (group = the first token
// of t's group's x_extra).
// The last token (t == nc - 1) also zeroes the lanes of the tokens its group lacks.
inline void prepare_legacy_tokens(GemmKind k, int64_t n, int64_t nc, int64_t t, const uint8_t* x,
                                  uint8_t* group) {
  const int32_t off = k == GemmKind::kQ4_0 ? 8 : 16;
  const int lane = static_cast<int>(t % kGroupTokens);
  const auto* xb = reinterpret_cast<const BlockQ8_0*>(x);
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* gb = group + b * kTokenBlockBytes;
    if (t == nc - 1) {
      for (int l = lane + 1; l < kGroupTokens; ++l) {
        for (int part = 0; part < 10; ++part) std::memset(gb + 32 * part + 4 * l, 0, 4);
      }
    }
    int32_t sum = 0;
    for (int s = 0; s < 8; ++s) {
      std::memcpy(gb + 32 * s + 4 * lane, xb[b].qs + 4 * s, 4);
      for (int e = 0; e < 4; ++e) sum += xb[b].qs[4 * s + e];
    }
    const float dx = _cvtsh_ss(xb[b].d);
    const int32_t term = -off * sum;
    std::memcpy(gb + 256 + 4 * lane, &dx, 4);
    std::memcpy(gb + 288 + 4 * lane, &term, 4);
  }
}

template <bool kVnni, typename Block, int RM, int RN, bool kLongRows = false>
void tile_legacy(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
                 const float* xd, float* y, int64_t ldy, uintptr_t pf) {
  constexpr bool kQ4 = sizeof(Block) == sizeof(BlockQ4_0);
  __m256 acc[RM][RN];
  const Block* wr[RM];
  const BlockQ8_0* xr[RN];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) {
    wr[r] = reinterpret_cast<const Block*>(w + r * w_row);
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) xr[c] = reinterpret_cast<const BlockQ8_0*>(x + c * x_row);
  for (int64_t g = 0; g < nb; g += 8) {
    const int64_t gn = nb - g < 8 ? nb - g : 8;
    alignas(32) float dt[RM][RN][8];
    legacy_scales<Block, RM, RN>(wr, xd, nb, g, gn, dt);
    for (int64_t j = 0; j < gn; ++j) {
      const int64_t b = g + j;
      prefetch_step<RM * sizeof(Block), kLongRows || sizeof(Block) == sizeof(BlockQ8_0)>(pf, b);
      __m256i xv[RN], xt[RN];
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        xv[c] = load256(xr[c][b].qs);
        activation_terms<kVnni, kQ4>(xv[c], xt[c]);
      }
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256i q = weight_quants(wr[r][b]);
        const __m256i qt = weight_term<kVnni, kQ4>(q);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          const __m256i p = legacy_lanes<kVnni, kQ4>(q, qt, xv[c], xt[c]);
          acc[r][c] =
              _mm256_fmadd_ps(_mm256_broadcast_ss(&dt[r][c][j]), _mm256_cvtepi32_ps(p), acc[r][c]);
        }
      }
    }
  }
  store_sums<RM, RN>(acc, y, ldy);
}

template <bool kFive>
struct KBlock {
  using type = BlockQ4_K;
};
template <>
struct KBlock<true> {
  using type = BlockQ5_K;
};

// int32 lanes holding v as int16 in the low half and 0 in the high half, so that
// vpdpwssd(acc, p, lanes) adds v * p for any p that fits int16 (the high half of p, its sign
// extension, meets the 0).
static __m256i lo16_lanes(__m128i v16) {
  return _mm256_cvtepu16_epi32(v16);
}

// Q4_K / Q5_K x Q8_K: vec_dot_q{4,5}_k_avx2's lanes (per 64 elements: low nibbles times scale
// 2j, high nibbles times scale 2j+1, via madd), its separate 4-lane min accumulator fed with
// -d_x * dmin times madd(mins, pairwise-added bsums), and its final sum of the two. With VNNI
// (one token; the VNNI batch tiles are tile_vnni_k.h's) the 4-element sums come from vpdpbusd
// (|sum| <= 4 * 31 * 128 fits int16) and are scaled and accumulated by vpdpwssd.
template <bool kVnni, bool kFive, int RM, int RN, bool kLongRows = false>
void tile_q45_k(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
                const float*, float* y, int64_t ldy, uintptr_t pf) {
  using Block = typename KBlock<kFive>::type;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  static_assert(!kVnni || RM * RN <= 8, "the VNNI tiles serve one token (4 x 1)");
  __m256 acc[RM][RN];
  __m128 acc_m[RM][RN];
  float accs[RM][RN] = {};  // kVnni: the block order's sums
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps(), acc_m[r][c] = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    prefetch_step<RM * sizeof(Block), kLongRows>(pf, i);
    const BlockQ8_K* xb[RN];
    __m128i q8s[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      xb[c] = reinterpret_cast<const BlockQ8_K*>(x + c * x_row) + i;
      const __m256i bs = load256(xb[c]->bsums);
      q8s[c] = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    }
    __m256i scales[RM];               // AVX2: int16 scales 0..7 in both 128-bit lanes
    alignas(32) int32_t sc32[RM][8];  // VNNI: scale j as lo16_lanes
    __m256i sumi[RM][RN];
    __m256i summs[RM * RN];  // kVnni: the min terms' 4 int32 lanes (upper 4 lanes 0)
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const Block* a = reinterpret_cast<const Block*>(w + r * w_row) + i;
      const float adm = _cvtsh_ss(a->dmin);
      const __m256i ms = _mm256_cvtepu8_epi16(unpack_scales_mins(a->scales));
      const __m128i mins = _mm256_extracti128_si256(ms, 1);
      const __m128i sc128 = _mm256_castsi256_si128(ms);
      if constexpr (kVnni) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(sc32[r]), lo16_lanes(sc128));
      } else {
        scales[r] = _mm256_set_m128i(sc128, sc128);
      }
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        if constexpr (kVnni) {
          summs[r * RN + c] =
              _mm256_inserti128_si256(_mm256_setzero_si256(), _mm_madd_epi16(mins, q8s[c]), 0);
        } else {
          const float dmin = -xb[c]->d * adm;
          acc_m[r][c] = _mm_fmadd_ps(_mm_set1_ps(dmin),
                                     _mm_cvtepi32_ps(_mm_madd_epi16(mins, q8s[c])), acc_m[r][c]);
        }
        sumi[r][c] = _mm256_setzero_si256();
      }
    }
    __m256i hb[RM];
    if constexpr (kFive) {
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r)
        hb[r] = load256((reinterpret_cast<const Block*>(w + r * w_row) + i)->qh);
    }
#pragma GCC unroll 4
    for (int j = 0; j < kQK_K / 64; ++j) {
      __m256i xl[RN], xh[RN];
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        xl[c] = load256(xb[c]->qs + 64 * j);
        xh[c] = load256(xb[c]->qs + 64 * j + 32);
      }
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const Block* a = reinterpret_cast<const Block*>(w + r * w_row) + i;
        const __m256i bits = load256(a->qs + 32 * j);
        __m256i ql = _mm256_and_si256(bits, m4);
        __m256i qh = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
        if constexpr (kFive) {
          // Bits 2j and 2j+1 of each qh byte (hb[r] is shifted right by 2 per j): bit 0 -> bit
          // 4 via << 4, bit 1 -> bit 4 via << 3 (16-bit shifts; the mask keeps each byte's own).
          ql = _mm256_or_si256(ql, _mm256_and_si256(_mm256_slli_epi16(hb[r], 4), bit4));
          qh = _mm256_or_si256(qh, _mm256_and_si256(_mm256_slli_epi16(hb[r], 3), bit4));
          hb[r] = _mm256_srli_epi16(hb[r], 2);
        }
        if constexpr (kVnni) {
          const __m256i sl = _mm256_set1_epi32(sc32[r][2 * j]);
          const __m256i sh = _mm256_set1_epi32(sc32[r][2 * j + 1]);
#pragma GCC unroll 8
          for (int c = 0; c < RN; ++c) {
            const __m256i zero = _mm256_setzero_si256();
            const __m256i p_l = _mm256_dpbusd_epi32(zero, ql, xl[c]);
            const __m256i p_h = _mm256_dpbusd_epi32(zero, qh, xh[c]);
            sumi[r][c] = _mm256_dpwssd_epi32(_mm256_dpwssd_epi32(sumi[r][c], p_l, sl), p_h, sh);
          }
        } else {
          const __m256i sl = broadcast16(scales[r], 2 * j);
          const __m256i sh = broadcast16(scales[r], 2 * j + 1);
#pragma GCC unroll 8
          for (int c = 0; c < RN; ++c) {
            const __m256i p_l = _mm256_madd_epi16(sl, _mm256_maddubs_epi16(ql, xl[c]));
            const __m256i p_h = _mm256_madd_epi16(sh, _mm256_maddubs_epi16(qh, xh[c]));
            sumi[r][c] = _mm256_add_epi32(sumi[r][c], _mm256_add_epi32(p_l, p_h));
          }
        }
      }
    }
    if constexpr (kVnni) {
      // The AVX-512 level's block order: the exact isum and summs, then the scalar
      // reference's sumf += d * isum - dmin * summs.
      constexpr int N = RM * RN;
      __m256i flat[N];
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) flat[r * RN + c] = sumi[r][c];
      alignas(32) int32_t is[8], ms[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(is), hsum_lanes<N>(flat));
      _mm256_store_si256(reinterpret_cast<__m256i*>(ms), hsum_lanes<N>(summs));
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const Block* a = reinterpret_cast<const Block*>(w + r * w_row) + i;
        const float ad = _cvtsh_ss(a->d), adm = _cvtsh_ss(a->dmin);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          const float d = ad * xb[c]->d, dmin = adm * xb[c]->d;
          accs[r][c] +=
              d * static_cast<float>(is[r * RN + c]) - dmin * static_cast<float>(ms[r * RN + c]);
        }
      }
    } else {
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const float ad = _cvtsh_ss((reinterpret_cast<const Block*>(w + r * w_row) + i)->d);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          const float d = xb[c]->d * ad;
          acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[r][c]), acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      y[c * ldy + r] = kVnni ? accs[r][c] : hsum_ps(acc[r][c]) + hsum_ps128(acc_m[r][c]);
    }
}

// Q6_K x Q8_K: vec_dot_q6_k_avx2's lanes (maddubs(q, x) - maddubs(32, x) in int16, the latter
// per token only, times the int8 scale of each 16 elements via madd); with VNNI (one token; the
// VNNI batch tiles are tile_vnni_k.h's) dpbusd(-32 * sum4(x), q, x) (|sum| <= 4 * 32 * 128 fits
// int16) scaled by vpdpwssd. Loop order: 32-element chunk, then token (its activation terms),
// then row (its quants of the chunk), so activation work is shared by all rows.
template <bool kVnni, int RM, int RN, bool kLongRows = false>
void tile_q6_k(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
               const float*, float* y, int64_t ldy, uintptr_t pf) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m30 = _mm256_set1_epi8(0x30);
  const __m256i m32s = _mm256_set1_epi8(32);
  static_assert(!kVnni || RM * RN <= 8, "the VNNI tiles serve one token (4 x 1)");
  float accs[RM][RN] = {};  // kVnni: the block order's sums
  __m256 acc[RM][RN];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    prefetch_step<RM * sizeof(BlockQ6_K), kLongRows>(pf, i);
    const BlockQ8_K* xb[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) xb[c] = reinterpret_cast<const BlockQ8_K*>(x + c * x_row) + i;
    const BlockQ6_K* a[RM];
    // Per row, the scale vector of each 32-element chunk s = 4j + k: scale 2s for the first 16
    // elements (low 128 bits), 2s + 1 for the next 16 (AVX2: int16 lanes for madd; VNNI:
    // lo16_lanes for vpdpwssd).
    alignas(32) __m256i sv[RM][8];
    __m256i sumi[RM][RN];
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      a[r] = reinterpret_cast<const BlockQ6_K*>(w + r * w_row) + i;
      const __m256i sc16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[r]->scales)));
#pragma GCC unroll 2
      for (int j = 0; j < 2; ++j) {
        const __m128i half =
            j == 0 ? _mm256_castsi256_si128(sc16) : _mm256_extracti128_si256(sc16, 1);
        if constexpr (kVnni) {
          const __m256i s32 = lo16_lanes(half);
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {
            sv[r][4 * j + k] = _mm256_permutevar8x32_epi32(
                s32, _mm256_setr_epi32(2 * k, 2 * k, 2 * k, 2 * k, 2 * k + 1, 2 * k + 1, 2 * k + 1,
                                       2 * k + 1));
          }
        } else {
          const __m256i both = _mm256_set_m128i(half, half);
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {
            sv[r][4 * j + k] = _mm256_shuffle_epi8(
                both, _mm256_set_m128i(
                          _mm_set1_epi16(static_cast<int16_t>(((4 * k + 3) << 8) | (4 * k + 2))),
                          _mm_set1_epi16(static_cast<int16_t>(((4 * k + 1) << 8) | (4 * k)))));
          }
        }
      }
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) sumi[r][c] = _mm256_setzero_si256();
    }
#pragma GCC unroll 2
    for (int j = 0; j < kQK_K / 128; ++j) {
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        __m256i xv[RN], x32[RN];
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          xv[c] = load256(xb[c]->qs + 128 * j + 32 * k);
          if constexpr (kVnni) {
            const __m256i zero = _mm256_setzero_si256();
            x32[c] = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, m32s, xv[c]));
          } else {
            x32[c] = _mm256_maddubs_epi16(m32s, xv[c]);
          }
        }
#pragma GCC unroll 8
        for (int r = 0; r < RM; ++r) {
          // Chunk k of this 128: low 4 bits from ql (bytes 0..31 or 32..63, low or high
          // nibbles), high 2 bits from bits 2k, 2k+1 of qh, as vec_dot builds them.
          const __m256i lb = load256(a[r]->ql + 64 * j + 32 * (k & 1));
          const __m256i hb = load256(a[r]->qh + 32 * j);
          const __m256i lo =
              k < 2 ? _mm256_and_si256(lb, m4) : _mm256_and_si256(_mm256_srli_epi16(lb, 4), m4);
          const __m256i hi = k == 0   ? _mm256_slli_epi16(hb, 4)
                             : k == 1 ? _mm256_slli_epi16(hb, 2)
                             : k == 2 ? hb
                                      : _mm256_srli_epi16(hb, 2);
          const __m256i q = _mm256_or_si256(lo, _mm256_and_si256(hi, m30));
          const __m256i s = sv[r][4 * j + k];
#pragma GCC unroll 8
          for (int c = 0; c < RN; ++c) {
            if constexpr (kVnni) {
              const __m256i p = _mm256_dpbusd_epi32(x32[c], q, xv[c]);
              sumi[r][c] = _mm256_dpwssd_epi32(sumi[r][c], p, s);
            } else {
              const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q, xv[c]), x32[c]);
              sumi[r][c] = _mm256_add_epi32(sumi[r][c], _mm256_madd_epi16(s, p16));
            }
          }
        }
      }
    }
    if constexpr (kVnni) {
      // The AVX-512 level's block order: the exact isum, then the scalar reference's
      // sumf += (dw * dx) * isum.
      constexpr int N = RM * RN;
      __m256i flat[N];
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) flat[r * RN + c] = sumi[r][c];
      alignas(32) int32_t is[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(is), hsum_lanes<N>(flat));
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const float ad = _cvtsh_ss(a[r]->d);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c)
          accs[r][c] += ad * xb[c]->d * static_cast<float>(is[r * RN + c]);
      }
    } else {
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const float ad = _cvtsh_ss(a[r]->d);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          const float d = xb[c]->d * ad;
          acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[r][c]), acc[r][c]);
        }
      }
    }
  }
  if constexpr (kVnni) {
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c)
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) y[c * ldy + r] = accs[r][c];
  } else {
    store_sums<RM, RN>(acc, y, ldy);
  }
}

using TileFn = void (*)(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
                        const float* xd, float* y, int64_t ldy, uintptr_t pf);

// Fn<rm, rn>::f for rm <= R, rn <= C (the smaller shapes serve the row and token tails).
template <template <int, int> class Fn, int R, int C>
TileFn pick(int rm, int rn) {
  if constexpr (R > 1) {
    if (rm < R) return pick<Fn, R - 1, C>(rm, rn);
  }
  if constexpr (C > 1) {
    if (rn < C) return pick<Fn, R, C - 1>(rm, rn);
  }
  return Fn<R, C>::f;
}

// kLongRows: prefetch into L2 (see decode_fn).
template <bool kVnni, bool kLongRows = false>
struct Kernels {
  template <int RM, int RN>
  struct Q40 {
    static constexpr TileFn f = kVnni ? tile_legacy_blocks<BlockQ4_0, RM, RN, kLongRows>
                                      : tile_legacy<false, BlockQ4_0, RM, RN, kLongRows>;
  };
  template <int RM, int RN>
  struct Q50 {
    static constexpr TileFn f = kVnni ? tile_legacy_blocks<BlockQ5_0, RM, RN, kLongRows>
                                      : tile_legacy<false, BlockQ5_0, RM, RN, kLongRows>;
  };
  template <int RM, int RN>
  struct Q80 {
    static constexpr TileFn f = tile_legacy<kVnni, BlockQ8_0, RM, RN, kLongRows>;
  };
  template <int RM, int RN>  // tokens in the lanes (the AVX-512 level's Q4_0 / Q5_0 batches)
  struct Q40T {
    static constexpr TileFn f = tile_legacy_tokens<BlockQ4_0, RM, RN, kLongRows>;
  };
  template <int RM, int RN>
  struct Q50T {
    static constexpr TileFn f = tile_legacy_tokens<BlockQ5_0, RM, RN, kLongRows>;
  };
  template <int RM, int RN>  // K-quants with kVnni: one token only (k_tile_fn)
  struct Q4K {
    static constexpr TileFn f = tile_q45_k<kVnni, false, RM, RN, kLongRows>;
  };
  template <int RM, int RN>
  struct Q5K {
    static constexpr TileFn f = tile_q45_k<kVnni, true, RM, RN, kLongRows>;
  };
  template <int RM, int RN>
  struct Q6K {
    static constexpr TileFn f = tile_q6_k<kVnni, RM, RN, kLongRows>;
  };
};

// Tile shapes (rows x tokens): 4 x 1 for one token (8 x 1 for the AVX-512 level's block-order
// Q4_0/Q5_0 tiles: one horizontal-sum tree and one set of float operations per 8 rows; one
// thread from L1, 1536 x 1024: 17.5 -> 20.2 GB/s, the lane order's 4 x 1 22.5); for several tokens
// the fastest measured with 8 tokens (one thread, weights in L2): 4 x 4, except 1 x 8 for Q5_0
// (whose blocks cost most to unpack) and for Q8_0 (the most bytes per block) 1 x 8 at AVX2, 2 x 8
// with VNNI (32 registers). At AVX2 the 16 accumulators of 4 x 4 partly live on the stack and still
// win. (The K-quant batches at the AVX-512 level: tile_vnni_k.h, 32-row groups x 8 tokens.)
struct Shape {
  int rm, rn;
};
template <bool kVnni>
Shape tile_shape(GemmKind k, int64_t nc) {
  if (nc == 1) return {kVnni && (k == GemmKind::kQ4_0 || k == GemmKind::kQ5_0) ? 8 : 4, 1};
  if (k == GemmKind::kQ8_0) return {kVnni ? 2 : 1, 8};
  if (k == GemmKind::kQ5_0) return {1, 8};
  return {4, 4};
}

// The K-quant tiles: at AVX2 every token count; at the AVX-512 level one token only (rn == 1,
// else null: its K-quant batches take tile_run_k_vnni, tile_vnni_k.h, via tile_avx512).
template <bool kVnni, bool kLongRows = false>
TileFn k_tile_fn(GemmKind k, int rm, int rn) {
  using K = Kernels<kVnni, kLongRows>;
  if constexpr (kVnni) {
    if (rn != 1) return nullptr;
    switch (k) {
      case GemmKind::kQ4_K:
        return pick<K::template Q4K, 4, 1>(rm, rn);
      case GemmKind::kQ5_K:
        return pick<K::template Q5K, 4, 1>(rm, rn);
      case GemmKind::kQ6_K:
        return pick<K::template Q6K, 4, 1>(rm, rn);
      default:
        return nullptr;
    }
  } else {
    switch (k) {
      case GemmKind::kQ4_K:
        return rn == 1 ? pick<K::template Q4K, 4, 1>(rm, rn) : pick<K::template Q4K, 4, 4>(rm, rn);
      case GemmKind::kQ5_K:
        return rn == 1 ? pick<K::template Q5K, 4, 1>(rm, rn) : pick<K::template Q5K, 4, 4>(rm, rn);
      case GemmKind::kQ6_K:
        return rn == 1 ? pick<K::template Q6K, 4, 1>(rm, rn) : pick<K::template Q6K, 4, 4>(rm, rn);
      default:
        return nullptr;
    }
  }
}

// One-token tiles (4 x 1). Their prefetch of the next tile goes into L1 (Q8_0: L2, two tiles
// ahead) unless the tile is long (4 rows > kLongTileBytes, half a 32 KiB L1: ffn_down's
// 8960-wide rows), where the next tile in L1 evicts the current one before it is read.
// Measured (two threads, from memory, huge pages): 8960 x 1536, L2 faster by 12-28% (Q4_0,
// Q4_K, Q6_K); 1536 x 8960 and 4096 x 4096 (9 KiB tiles), L1 faster by up to 30% and ~5%.
constexpr size_t kLongTileBytes = 16384;
template <bool kVnni, bool kLongRows>
TileFn decode_fn(GemmKind k, int rm) {
  using K = Kernels<kVnni, kLongRows>;
  switch (k) {
    case GemmKind::kQ4_0:
      return kVnni ? pick<K::template Q40, 8, 1>(rm, 1) : pick<K::template Q40, 4, 1>(rm, 1);
    case GemmKind::kQ5_0:
      return kVnni ? pick<K::template Q50, 8, 1>(rm, 1) : pick<K::template Q50, 4, 1>(rm, 1);
    case GemmKind::kQ8_0:
      return pick<K::template Q80, 4, 1>(rm, 1);
    case GemmKind::kQ4_K:
    case GemmKind::kQ5_K:
    case GemmKind::kQ6_K:
      return k_tile_fn<kVnni, kLongRows>(k, rm, 1);
    case GemmKind::kNone:
      break;
  }
  return nullptr;
}

template <bool kVnni>
TileFn tile_fn(GemmKind k, int rm, int rn, size_t w_row) {
  using K = Kernels<kVnni>;
  if (rn == 1) {
    return 4 * w_row > kLongTileBytes ? decode_fn<kVnni, true>(k, rm)
                                      : decode_fn<kVnni, false>(k, rm);
  }
  switch (k) {
    case GemmKind::kQ4_0:
      return pick<K::template Q40, 4, 4>(rm, rn);
    case GemmKind::kQ5_0:
      return pick<K::template Q50, 1, 8>(rm, rn);
    case GemmKind::kQ8_0:
      return pick < K::template Q80, kVnni ? 2 : 1, 8 > (rm, rn);
    case GemmKind::kQ4_K:
    case GemmKind::kQ5_K:
    case GemmKind::kQ6_K:
      return k_tile_fn<kVnni>(k, rm, rn);
    case GemmKind::kNone:
      break;
  }
  return nullptr;
}

// tile_legacy_tokens for rm rows of rn tokens (long rows: the L2 prefetch, as decode_fn).
template <bool kVnni>
TileFn token_tiles_fn(GemmKind k, int rm, int rn, size_t w_row) {
  if constexpr (!kVnni) {
    return nullptr;
  } else {
    const bool long_rows = 4 * w_row > kLongTileBytes;
    using KS = Kernels<true, false>;
    using KL = Kernels<true, true>;
    if (k == GemmKind::kQ4_0) {
      return long_rows ? pick<KL::template Q40T, 4, kGroupTokens>(rm, rn)
                       : pick<KS::template Q40T, 4, kGroupTokens>(rm, rn);
    }
    return long_rows ? pick<KL::template Q50T, 4, kGroupTokens>(rm, rn)
                     : pick<KS::template Q50T, 4, kGroupTokens>(rm, rn);
  }
}

// Bytes of x_extra per token of the K-quant VNNI batch tiles (tile_vnni_k.h; kType 4, 5, 6:
// Q4_K, Q5_K, Q6_K) for rows of n elements (a multiple of 256), rounded up to 64 so that every
// token's 512-bit loads are cache-line aligned.
inline size_t tile_k_vnni_extra_bytes(int kType, int64_t n) {
  const int64_t bytes = kType == 6 ? n : n + n / kQK_K * 16;
  return static_cast<size_t>((bytes + 63) / 64 * 64);
}

// Floats of x_extra per activation row: the activation scales as floats (legacy types), the
// prepared activations of the K-quant VNNI batch tiles (tile_vnni_k.h), else none.
// Whether a matmul of nc tokens takes tile_legacy_tokens (its x_extra interleaved by groups).
template <bool kVnni>
bool uses_token_tiles(GemmKind k, int64_t nc) {
  return kVnni && (k == GemmKind::kQ4_0 || k == GemmKind::kQ5_0) && nc >= kTokenTilesMin;
}

template <bool kVnni>
size_t tile_extra_floats(GemmKind k, int64_t n, int64_t nc) {
  if (uses_token_tiles<kVnni>(k, nc)) {  // a group's bytes spread over its tokens
    return static_cast<size_t>(n / 32 * kTokenBlockBytes / kGroupTokens / 4);
  }
  if (k == GemmKind::kQ4_0 || k == GemmKind::kQ5_0 || k == GemmKind::kQ8_0) {
    return static_cast<size_t>(n / 32);
  }
  if (kVnni && nc > 1) {
    if (k == GemmKind::kQ4_K) return tile_k_vnni_extra_bytes(4, n) / sizeof(float);
    if (k == GemmKind::kQ5_K) return tile_k_vnni_extra_bytes(5, n) / sizeof(float);
    if (k == GemmKind::kQ6_K) return tile_k_vnni_extra_bytes(6, n) / sizeof(float);
  }
  return 0;
}

// x_extra of the legacy types: the activation scales as floats (exact). (The K-quant VNNI
// tiles' is made by tile_prepare_x_avx512.)
inline void tile_prepare_legacy(GemmKind k, int64_t n, const uint8_t* x, float* extra) {
  if (k == GemmKind::kQ4_0 || k == GemmKind::kQ5_0 || k == GemmKind::kQ8_0) {
    for (int64_t b = 0; b < n / 32; ++b) {
      extra[b] = _cvtsh_ss(reinterpret_cast<const BlockQ8_0*>(x)[b].d);
    }
  }
}

// tile_avx2 / tile_avx512 (kernels_internal.h).
template <bool kVnni>
void tile_run(GemmKind k, int64_t n, const uint8_t* w, size_t w_row, int64_t nr, const uint8_t* x,
              size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const bool legacy = k == GemmKind::kQ4_0 || k == GemmKind::kQ5_0 || k == GemmKind::kQ8_0;
  const int64_t nb = legacy ? n / 32 : n / kQK_K;
  const size_t extra = tile_extra_floats<kVnni>(k, n, nc);
  const bool tokens = uses_token_tiles<kVnni>(k, nc);
  const Shape shape = tokens ? Shape{4, kGroupTokens} : tile_shape<kVnni>(k, nc);
  const int RM = shape.rm, RN = shape.rn;
  const uintptr_t w0 = reinterpret_cast<uintptr_t>(w);
  const int64_t pf_tiles = k == GemmKind::kQ8_0 ? 2 : 1;
  for (int64_t r0 = 0; r0 < nr; r0 += RM) {
    const int rm = static_cast<int>(nr - r0 < RM ? nr - r0 : RM);
    // The tile to prefetch: the next one (Q8_0: the one after), prefetching past the last row
    // is harmless.
    const uintptr_t next = w0 + static_cast<uintptr_t>(r0 + pf_tiles * rm) * w_row;
    for (int64_t c0 = 0; c0 < nc; c0 += RN) {
      const int rn = static_cast<int>(nc - c0 < RN ? nc - c0 : RN);
      const TileFn fn =
          tokens ? token_tiles_fn<kVnni>(k, rm, rn, w_row) : tile_fn<kVnni>(k, rm, rn, w_row);
      fn(nb, w + r0 * w_row, w_row, x + c0 * x_row, x_row,
         extra > 0 ? x_extra + c0 * extra : nullptr, y + c0 * ldy + r0, ldy, next);
    }
  }
}

}  // namespace
}  // namespace dkb::kernels::detail
