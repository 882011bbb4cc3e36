// AVX-512 VNNI matmul over Q4_K and Q5_K weights in the interleaved layout (interleave_k.cpp),
// for every token count, with no packing pass: the arithmetic of gemm_k_avx512.cpp read from the
// layout the weights already have. Per 256-element super-block, for 16 rows at once (one int32
// lane each):
// - each sub-block's integer sum in one accumulator, 8 vpdpbusd of 4 elements per row: Q4_K
//   from 4 vectors of 64 bytes, each vector's low and high nibbles two operands (elements
//   4k..4k+3 and 16+4k..16+4k+3 of the sub-block); Q5_K from 5 vectors, the operands being the
//   quants times 8 (bits 3..7 of each byte: one and for 5 of them, a few shifts, ands and
//   ternary-logic ops to gather the other 3 from bits 0..2); then times the rows' 6-bit
//   sub-block scales (vpmulld), summed into isum (Q5_K: 8 * isum, shifted down by 3 per
//   super-block);
// - summs = sum_j m_j * (the token's 32-element sum j) by vpdpwssd on int16 pairs: the mins of
//   sub-blocks (0, 2), (1, 3), (4, 6), (5, 7) against the token's sums of the same pairs;
// - the scales and mins of the 16 rows unpacked from the layout's 3 scale vectors with whole-
//   vector shifts and masks (get_scale_min_k4 in each int32 lane);
// - then the scalar reference's float operations in its order:
//   sum += (dw * dx) * isum - (dminw * dx) * summs, sum starting at 0.
// So the results are bit-identical to the row layout's at the AVX-512 level (its block order,
// kernels_internal.h: vec_dot, tiles and GEMM), the integers being exact (|isum| < 2^26).
// Extra floats per token and super-block: dx, then the 4 int32 pairs of 32-element sums (int16
// each) (S0 | S2 << 16), (S1 | S3 << 16), (S4 | S6 << 16), (S5 | S7 << 16).
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_vnni.h"
#include "kernels/blocks.h"
#include "kernels_internal.h"

// See gemm_avx512.cpp: GCC 12's _mm512_cvtepi32_ps trips -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dkb::kernels::detail {
namespace {

// Extra floats per token and super-block.
constexpr int64_t kExtra = 5;
// Super-blocks ahead of the one being read that the kernel prefetches. Q4_K, one thread,
// 1536 x 8960, weights from memory: 8 tokens GMAC/s, none 117, 1 152, 2 152-172, 3 168-169,
// 4 164-169, 6 151-160, 8 167; decode GB/s 26-30 whatever the distance.
constexpr int64_t kPrefetchBlocks = 3;

inline void store_i32(void* p, int32_t v) {
  std::memcpy(p, &v, sizeof v);
}

// (a & b) | c.
inline __m512i and_or(__m512i a, __m512i b, __m512i c) {
  return _mm512_ternarylogic_epi32(a, b, c, 0xEA);
}

// Q5_K: vpdpbusd operand o (0..7) of the sub-block at p (interleave_k.cpp): elements 4o..4o+3
// of each row, the quants times 8. Operands 0..4 are bits 3..7 of vectors 0..4; 5..7 are
// gathered from their bits 0..2 into bits 0..4, then shifted up by 3 (bits 5..7 being 0, the
// 16-bit shift carries nothing across bytes).
inline __m512i q5_operand(int o, const uint8_t* p) {
  const auto at = [p](int i) { return _mm512_loadu_si512(p + 64 * i); };
  if (o < 5) return _mm512_and_si512(at(o), _mm512_set1_epi8(static_cast<char>(0xF8)));
  __m512i hi;  // bits 3..4 of the quants, at bits 3..4
  if (o == 7) {
    hi = and_or(_mm512_slli_epi16(at(3), 2), _mm512_set1_epi8(0x10),
                _mm512_and_si512(_mm512_slli_epi16(at(1), 1), _mm512_set1_epi8(0x08)));
  } else {
    hi = _mm512_and_si512(_mm512_slli_epi16(at(o == 5 ? 1 : 3), 3), _mm512_set1_epi8(0x18));
  }
  const __m512i q = and_or(at(o == 5 ? 0 : o == 6 ? 2 : 4), _mm512_set1_epi8(0x07), hi);
  return _mm512_slli_epi16(q, 3);
}

// RV groups of 16 rows x RN tokens, super-blocks [i0, i1) of nsb, the sums starting at y's
// (carry) or at 0. g: the first group (the next at g + group_bytes); x: the first token's Q8_K
// row (the next at x + x_row); ex: its extra floats (kExtra per super-block; the next token's at
// ex + kExtra * nsb); y: output of row 0, token 0.
template <bool kQ5, int RV, int RN>
void kernel(int64_t nsb, int64_t i0, int64_t i1, bool carry, const uint8_t* g, size_t group_bytes,
            const uint8_t* x, size_t x_row, const float* ex, float* y, int64_t ldy,
            const __mmask16* mask) {
  constexpr IlvKLayout L = kQ5 ? kIlvQ5K : kIlvQ4K;
  constexpr int64_t kPrefetch = kPrefetchBlocks * L.bytes;
  // Cache lines of a super-block prefetched per sub-block (the rest, 4, after the 8).
  constexpr int kSubLines = static_cast<int>(L.bytes / 64 / 8);
  static_assert(kSubLines * 8 * 64 == L.d && L.bytes - L.d == 4 * 64);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i m6 = _mm512_set1_epi8(0x3F);
  const __m512i m30 = _mm512_set1_epi8(0x30);
  const int64_t exs = nsb * kExtra;
  __m512 acc[RV][RN];
  start_sums(acc, carry, y, ldy, mask);
  for (int64_t i = i0; i < i1; ++i) {
    const uint8_t* gb = g + i * L.bytes;
    const uint8_t* xq[RN];
    const float* e[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      xq[c] = x + c * x_row + i * static_cast<int64_t>(sizeof(BlockQ8_K)) + 4;  // its qs
      e[c] = ex + c * exs + i * kExtra;
    }
    // The 16 rows' scales of sub-blocks 0..3 and 4..7, one byte each per lane.
    __m512i sc[RV], sc_hi[RV];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      const uint8_t* s = gb + v * group_bytes + L.scales;
      const __m512i v0 = _mm512_loadu_si512(s);
      sc[v] = _mm512_and_si512(v0, m6);
      sc_hi[v] =
          and_or(_mm512_loadu_si512(s + 128), m4, _mm512_and_si512(_mm512_srli_epi32(v0, 2), m30));
    }
    __m512i isum[RV][RN];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) isum[v][c] = _mm512_setzero_si512();
#pragma GCC unroll 1
    for (int sb = 0; sb < 8; ++sb) {
      // The groups' bytes kPrefetch ahead: kSubLines of a super-block's lines.
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        const char* p =
            reinterpret_cast<const char*>(gb + v * group_bytes + kPrefetch) + 64 * kSubLines * sb;
#pragma GCC unroll 8
        for (int l = 0; l < kSubLines; ++l) _mm_prefetch(p + 64 * l, _MM_HINT_T0);
      }
      __m512i s[RV][RN];
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) s[v][c] = _mm512_setzero_si512();
      if constexpr (kQ5) {
        // 8 operands of 4 elements, each the quants times 8.
        const uint8_t* gs = gb + 320 * sb;
#pragma GCC unroll 8
        for (int o = 0; o < 8; ++o) {
          __m512i w[RV];
#pragma GCC unroll 4
          for (int v = 0; v < RV; ++v) w[v] = q5_operand(o, gs + v * group_bytes);
#pragma GCC unroll 8
          for (int c = 0; c < RN; ++c) {
            const __m512i xo = _mm512_set1_epi32(load_i32(xq[c] + 32 * sb + 4 * o));
#pragma GCC unroll 4
            for (int v = 0; v < RV; ++v) s[v][c] = _mm512_dpbusd_epi32(s[v][c], w[v], xo);
          }
        }
      } else {
        const uint8_t* gs = gb + 256 * sb;
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          __m512i lo[RV], hi[RV];
#pragma GCC unroll 4
          for (int v = 0; v < RV; ++v) {
            const __m512i raw = _mm512_loadu_si512(gs + v * group_bytes + 64 * k);
            lo[v] = _mm512_and_si512(raw, m4);
            hi[v] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
          }
#pragma GCC unroll 8
          for (int c = 0; c < RN; ++c) {
            const __m512i xl = _mm512_set1_epi32(load_i32(xq[c] + 32 * sb + 4 * k));
            const __m512i xh = _mm512_set1_epi32(load_i32(xq[c] + 32 * sb + 16 + 4 * k));
#pragma GCC unroll 4
            for (int v = 0; v < RV; ++v) {
              s[v][c] = _mm512_dpbusd_epi32(s[v][c], lo[v], xl);
              s[v][c] = _mm512_dpbusd_epi32(s[v][c], hi[v], xh);
            }
          }
        }
      }
      // This sub-block's scales (byte 0 of sc, then the next byte shifted down).
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        if (sb == 4) sc[v] = sc_hi[v];
        const __m512i scv = _mm512_and_si512(sc[v], _mm512_set1_epi32(0xFF));
        sc[v] = _mm512_srli_epi32(sc[v], 8);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          isum[v][c] = _mm512_add_epi32(isum[v][c], _mm512_mullo_epi32(s[v][c], scv));
        }
      }
    }
    if constexpr (kQ5) {  // isum from 8 * isum (exact: |8 * isum| < 2^29)
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) isum[v][c] = _mm512_srai_epi32(isum[v][c], 3);
    }
    // The rest of the super-block's lines (d, dmin, scales) kPrefetch ahead.
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      const char* p = reinterpret_cast<const char*>(gb + v * group_bytes + kPrefetch + L.d);
      _mm_prefetch(p, _MM_HINT_T0);
      _mm_prefetch(p + 64, _MM_HINT_T0);
      _mm_prefetch(p + 128, _MM_HINT_T0);
      _mm_prefetch(p + 192, _MM_HINT_T0);
    }
    // summs: the mins as int16 pairs (m0, m2), (m1, m3), (m4, m6), (m5, m7) per lane.
    __m512i summs[RV][RN];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      const uint8_t* s = gb + v * group_bytes + L.scales;
      const __m512i v1 = _mm512_loadu_si512(s + 64);
      const __m512i v2 = _mm512_loadu_si512(s + 128);
      const __m512i w6 = _mm512_set1_epi32(0x003F003F);
      const __m512i mhi =
          and_or(_mm512_srli_epi32(v2, 4), m4, _mm512_and_si512(_mm512_srli_epi32(v1, 2), m30));
      const __m512i me_lo = _mm512_and_si512(v1, w6);
      const __m512i mo_lo = _mm512_and_si512(_mm512_srli_epi16(v1, 8), w6);
      const __m512i me_hi = _mm512_and_si512(mhi, _mm512_set1_epi32(0x00FF00FF));
      const __m512i mo_hi = _mm512_srli_epi16(mhi, 8);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        __m512i t = _mm512_dpwssd_epi32(_mm512_setzero_si512(), me_lo,
                                        _mm512_set1_epi32(load_i32(e[c] + 1)));
        t = _mm512_dpwssd_epi32(t, mo_lo, _mm512_set1_epi32(load_i32(e[c] + 2)));
        t = _mm512_dpwssd_epi32(t, me_hi, _mm512_set1_epi32(load_i32(e[c] + 3)));
        summs[v][c] = _mm512_dpwssd_epi32(t, mo_hi, _mm512_set1_epi32(load_i32(e[c] + 4)));
      }
    }
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      const uint8_t* gv = gb + v * group_bytes;
      const __m512 dw =
          _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gv + L.d)));
      const __m512 dmw =
          _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gv + L.dmin)));
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m512 dx = _mm512_set1_ps(e[c][0]);
        const __m512 d = _mm512_mul_ps(dw, dx);
        const __m512 dm = _mm512_mul_ps(dmw, dx);
        const __m512 t = _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[v][c])),
                                       _mm512_mul_ps(dm, _mm512_cvtepi32_ps(summs[v][c])));
        acc[v][c] = _mm512_add_ps(acc[v][c], t);
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      _mm512_mask_storeu_ps(y + c * ldy + v * kVnniGroupRows, mask[v], acc[v][c]);
    }
}

// kG groups x kT tokens per call, in chunks of 24 tokens. Up to kFewTokens tokens (decode, small
// batches): 1 group x 8 tokens, so that each group is read once, front to back, for up to 8
// tokens: one sequential stream (decode: kernel<1, 1> group after group). More tokens, the
// panel's groups in L2: 2 groups x 4 tokens. Both: 8 accumulators of each kind (float, isum,
// sub-block sum). One thread, 1536 x 8960, Q4_K, GMAC/s (weights from memory; 512 tokens from
// L3):
//   tokens      4    8        16   24   64   512
//   1 x 8     160  167-172  168  165  161  153-166
//   2 x 4      93  124-130  149  157  164  164-170
// (8 tokens: 1 x 6 158, 2 x 3 120, 2 x 2 110, 1 x 1 92; chunks of 16 or 32 tokens instead of 24:
// no better.) Q5_K, 8 / 512 tokens: 153-157 / 159-160 (its 5th bits as a vector of bits per
// sub-block instead, shifted into bit 4 of the nibbles: 156-158 / 150-154; masked byte adds from
// vptestmb masks: 147 / 142).
// Decode, Q4_K: 26-31 GB/s from memory (the row layout's VNNI tiles: 17.5-19.5), 60 from L3 (20);
// Q5_K 24-30 (18.5-20), 54-56 from L3.
constexpr int64_t kFewTokens = 24;

template <bool kQ5, int kT, int kG>
struct Kernels : VnniPanel {
  static constexpr int kTokens = kT, kGroups = kG;
  static constexpr int64_t kChunk = 3 * kTokens;
  template <int RV, int RN>
  void call(const uint8_t* g, const uint8_t* x, const float* ex, float* y,
            const __mmask16* mask) const {
    kernel<kQ5, RV, RN>(nb, b0, end(), carry, g, group_bytes, x, x_row, ex, y, ldy, mask);
  }
};

template <bool kQ5>
void run(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x, size_t x_row,
         const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const int64_t nsb = n / kQK_K;
  const size_t group_bytes = static_cast<size_t>(nsb * (kQ5 ? kIlvQ5K : kIlvQ4K).bytes);
  const VnniPanel panel{nsb, group_bytes, x_row, nsb * kExtra, ldy};
  const IlvSlicing sl = ilv_slicing(kQ5 ? TensorType::kQ5_K : TensorType::kQ4_K, n);
  if (nc <= kFewTokens) {
    run_interleaved(Kernels<kQ5, 8, 1>{panel}, sl, w, nr, x, x_extra, nc, y);
  } else {
    run_interleaved(Kernels<kQ5, 4, 2>{panel}, sl, w, nr, x, x_extra, nc, y);
  }
}

}  // namespace

size_t interleaved_x_extra_floats_k(int64_t n) {
  return static_cast<size_t>(n / kQK_K * kExtra);
}

void interleaved_prepare_x_k(int64_t n, const uint8_t* x, float* extra) {
  const auto* xb = reinterpret_cast<const BlockQ8_K*>(x);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    float* e = extra + i * kExtra;
    e[0] = xb[i].d;
    int32_t s[8];  // the 32-element sums
    for (int j = 0; j < 8; ++j) s[j] = xb[i].bsums[2 * j] + xb[i].bsums[2 * j + 1];
    for (int p = 0; p < 4; ++p) {
      const int lo = (p & 2) * 2 + (p & 1);  // pairs (0, 2), (1, 3), (4, 6), (5, 7)
      store_i32(e + 1 + p, static_cast<int32_t>((static_cast<uint32_t>(s[lo]) & 0xFFFF) |
                                                (static_cast<uint32_t>(s[lo + 2]) << 16)));
    }
  }
}

void interleaved_vnni_q4_k(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x, size_t x_row,
                           const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  run<false>(n, w, nr, x, x_row, x_extra, nc, y, ldy);
}

void interleaved_vnni_q5_k(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x, size_t x_row,
                           const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  run<true>(n, w, nr, x, x_row, x_extra, nc, y, ldy);
}

}  // namespace dkb::kernels::detail
