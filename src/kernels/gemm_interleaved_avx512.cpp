

// AVX-512 VNNI matmul over weights in the interleaved layout (interleave.cpp, Q4_0 and Q5_0): the
// packed GEMM's method (gemm_avx512.cpp) with no packing pass, for every token count. One 64-byte
// load holds 4 quants of each of 16 rows in its nibbles: the low nibbles (elements 4i..4i+3) and
// the high ones (16+4i..16+4i+3) become two vpdpbusd operands (Q5_0: each byte's fifth bit added
// from the rows' qh, 4 bits at a time through a 16-entry table), so a block's integer dot product
// ends whole in one int32 lane per row, started at the token's term -8 * sum(x) (Q5_0: -16) of
// that block.
// Float order: the level's block order (kernels_internal.h, vec_dot_q4_0_blocks): per block
// acc += float(sumi) * (dw * dx), acc starting at 0 (a sliced layout's later slice: at the sums
// y carries, the same chain) — the same operations as the row layout's tiles and GEMM, so the
// two layouts give the same bits.
//
// The per-type dispatch below also serves Q6_K, whose kernel is gemm_interleaved_q6_k_avx512.cpp.
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_vnni.h"
#include "kernels/blocks.h"
#include "kernels_internal.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dkb::kernels::detail {
namespace {

// Q4_0 or Q5_0: the layout's offsets and a block's bytes in a group of 16 rows.
template <bool kQ5>
struct Legacy {
  static constexpr IlvPaired kLayout = kQ5 ? kIlvQ5_0 : kIlvQ4_0;
  static constexpr int64_t kBlockBytes = kQ5 ? 16 * 22 : 16 * 18;
};

// acc += vpdpbusd(w, the 4 bytes at p in every lane), the broadcast embedded in the instruction
// (GCC 12 keeps a separate vpbroadcastd for _mm512_set1_epi32: one thread, 8 tokens, weights in
// L2, 272 -> 283 GMAC/s). For one group only: with two, one register broadcast feeds both
// groups' vpdpbusd, which halves the loads (a Zen 5 core does two vector loads per cycle, and
// the kernels issue about one per vpdpbusd). Two threads, 1536 -> 8960, 2 groups x 4 tokens,
// embedded -> shared: 64 tokens 608-621 -> 632-640 GMAC/s, 512 tokens 626-643 -> 657-673.
inline void dpbusd_bcast(__m512i& acc, __m512i w, const uint8_t* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0"
          : "+v"(acc)
          : "v"(w), "m"(*reinterpret_cast<const int32_t*>(p)));
}

// For 4 quants per row (one int32 lane each) the fifth bits of the elements: byte j of the
// table's entry k is 0x10 when bit j of k is set.
static __m512i fifth_bits(__m512i qh, int shift, __m512i table) {
  const __m512i idx = _mm512_and_si512(_mm512_srli_epi32(qh, shift), _mm512_set1_epi32(0x0F));
  return _mm512_permutexvar_epi32(idx, table);
}

// RV groups of 16 rows x RN tokens, blocks [b0, b1) of nb, the sums starting at y's (carry) or
// at 0; each group's bytes kAhead blocks ahead are prefetched into L1. g: the first group (the
// next at g + group_bytes); x: the first token's Q8_0 row (the next at x + x_row); ex: its extra
// floats (dx[nb], then the int32 terms -8 * sum(x) [nb]; the next token's at ex + 2 * nb); y:
// output of row 0, token 0.
template <bool kQ5, int kAhead, int RV, int RN>
void kernel(int64_t nb, int64_t b0, int64_t b1, bool carry, const uint8_t* g, size_t group_bytes,
            const uint8_t* x, size_t x_row, const float* ex, float* y, int64_t ldy,
            const __mmask16* mask) {
  using L = Legacy<kQ5>;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512i bits_table = _mm512_setzero_si512();
  if constexpr (kQ5) {
    alignas(64) uint32_t t[16];
    for (uint32_t k = 0; k < 16; ++k) {
      t[k] = ((k & 1) ? 0x10u : 0) | ((k & 2) ? 0x1000u : 0) | ((k & 4) ? 0x100000u : 0) |
             ((k & 8) ? 0x10000000u : 0);
    }
    bits_table = _mm512_load_si512(t);
  }
  __m512 acc[RV][RN];
  start_sums(acc, carry, y, ldy, mask);
  for (int64_t b = b0; b < b1; ++b) {
    const uint8_t* gq = g + ilv_quants_at(L::kLayout, b);
    const uint8_t* gd = g + ilv_meta_at(L::kLayout, nb, b);
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      const char* p = reinterpret_cast<const char*>(g + v * group_bytes +
                                                    (b + kAhead) * L::kBlockBytes);
#pragma GCC unroll 6
      for (int64_t o = 0; o < L::kBlockBytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
    }
    __m512i ai[RV][RN];
    const uint8_t* xb[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const __m512i corr = _mm512_set1_epi32(load_i32(ex + c * 2 * nb + nb + b));
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) ai[v][c] = corr;
      xb[c] = x + c * x_row + b * static_cast<int64_t>(sizeof(BlockQ8_0)) + 2;  // its qs
    }
    __m512i qh[RV];
    if constexpr (kQ5) {
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) qh[v] = _mm512_loadu_si512(gq + v * group_bytes + 256);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      __m512i lo[RV], hi[RV];
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        const __m512i raw = _mm512_loadu_si512(gq + v * group_bytes + 64 * i);
        lo[v] = _mm512_and_si512(raw, m4);
        hi[v] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
        if constexpr (kQ5) {  // elements 4i..4i+3 take qh bits 4i.., 16+4i.. bits 16+4i..
          lo[v] = _mm512_or_si512(lo[v], fifth_bits(qh[v], 4 * i, bits_table));
          hi[v] = _mm512_or_si512(hi[v], fifth_bits(qh[v], 16 + 4 * i, bits_table));
        }
      }
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        if constexpr (RV == 1) {
          dpbusd_bcast(ai[0][c], lo[0], xb[c] + 4 * i);
          dpbusd_bcast(ai[0][c], hi[0], xb[c] + 16 + 4 * i);
        } else {
          const __m512i xl = _mm512_set1_epi32(load_i32(xb[c] + 4 * i));
          const __m512i xh = _mm512_set1_epi32(load_i32(xb[c] + 16 + 4 * i));
#pragma GCC unroll 4
          for (int v = 0; v < RV; ++v) {
            ai[v][c] = _mm512_dpbusd_epi32(ai[v][c], lo[v], xl);
            ai[v][c] = _mm512_dpbusd_epi32(ai[v][c], hi[v], xh);
          }
        }
      }
    }
    __m512 dw[RV];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      dw[v] = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(gd + v * group_bytes)));
    }
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const __m512 dx = _mm512_set1_ps(ex[c * 2 * nb + b]);
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        const __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(ai[v][c]), _mm512_mul_ps(dw[v], dx));
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

// kT tokens x kG groups per call, tokens in chunks of 3 calls. Up to kFewTokens tokens: 1 group x
// 8 tokens, so each group is read once, front to back (8 tokens, one thread, weights from memory,
// GMAC/s: 162; 2 groups x 4 tokens 128, both with the prefetch; 1 x 8 without it 97; a prefetch
// into L2 instead of L1: 157 / 141.5); more: 2 groups x 4 tokens (512 tokens ~166-169 either way).
// 2 tokens 89, 4 tokens 101, 16 and 24 tokens 161, 32 tokens 152. (Zen 4, session 6.)
constexpr int64_t kFewTokens = 24;

// The prefetch distance in blocks. One group at a time (decode and up to kFewTokens tokens): 32
// blocks (9 KiB of Q4_0). On a Zen 5 (full-width AVX-512), two threads, weights from memory,
// 1536 -> 8960, 8 blocks -> 32: 8 tokens 475 -> 607-624 GMAC/s (16 blocks 583, 48 579-610); one
// token at ~81 GB/s 82-83% -> 89-91% of the probe (16 blocks 87-89%, 48 84%), level at ~50 GB/s;
// 16 tokens 538 -> 634. On the Zen 4 of sessions 6-10 one token streamed ~5% faster with no
// software prefetch at all. Two groups x 4 tokens keep 8 blocks (32: 64 tokens 594 vs 610, 512
// tokens 626 vs 632).
constexpr int kAheadOneGroup = 32, kAheadTwoGroups = 8;

template <bool kQ5, int kT, int kG>
struct Kernels : VnniPanel {
  static constexpr int kTokens = kT, kGroups = kG;
  static constexpr int64_t kChunk = 3 * kTokens;
  template <int RV, int RN>
  void call(const uint8_t* g, const uint8_t* x, const float* ex, float* y,
            const __mmask16* mask) const {
    constexpr int kAhead = kG == 1 ? kAheadOneGroup : kAheadTwoGroups;
    kernel<kQ5, kAhead, RV, RN>(nb, b0, end(), carry, g, group_bytes, x, x_row, ex, y, ldy, mask);
  }
};

template <bool kQ5>
void run_legacy(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x, size_t x_row,
                const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const int64_t nb = n / 32;
  const size_t group_bytes = static_cast<size_t>(nb * Legacy<kQ5>::kBlockBytes);
  const VnniPanel panel{nb, group_bytes, x_row, 2 * nb, ldy};
  // Few tokens, decode included: one group at a time, so the weights are read as one
  // sequential stream (two or four groups at a time, i.e. streams: ~35% slower from memory with
  // one thread and one token). Q5_0 at every token count: its fifth bits, added per block and
  // call, cost less over 8 tokens than over 4 (2048 x 1408, two threads, GMAC/s: 64 tokens
  // 289, 512 tokens 287; with 2 groups x 4 tokens 274 at 512; the row layout's GEMM 222, 306).
  const IlvSlicing sl = ilv_slicing(kQ5 ? TensorType::kQ5_0 : TensorType::kQ4_0, n);
  if (nc <= kFewTokens || kQ5) {
    run_interleaved(Kernels<kQ5, 8, 1>{panel}, sl, w, nr, x, x_extra, nc, y);
  } else {
    run_interleaved(Kernels<kQ5, 4, 2>{panel}, sl, w, nr, x, x_extra, nc, y);
  }
}

}  // namespace

size_t interleaved_x_extra_floats(TensorType t, int64_t n) {
  switch (t) {
    case TensorType::kQ4_0:
      return gemm_vnni_x_extra_floats(GemmKind::kQ4_0, n);
    case TensorType::kQ5_0:
      return gemm_vnni_x_extra_floats(GemmKind::kQ5_0, n);
    case TensorType::kQ8_0:
      return gemm_vnni_x_extra_floats(GemmKind::kQ8_0, n);
    case TensorType::kQ6_K:
      return gemm_vnni_x_extra_floats(GemmKind::kQ6_K, n);
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
      return interleaved_x_extra_floats_k(n);
    default:
      return 0;
  }
}

void interleaved_prepare_x(TensorType t, int64_t n, const uint8_t* x, float* extra) {
  switch (t) {
    case TensorType::kQ4_0:
      return gemm_vnni_prepare_x(GemmKind::kQ4_0, n, x, extra);
    case TensorType::kQ5_0:
      return gemm_vnni_prepare_x(GemmKind::kQ5_0, n, x, extra);
    case TensorType::kQ8_0:
      return gemm_vnni_prepare_x(GemmKind::kQ8_0, n, x, extra);
    case TensorType::kQ6_K:
      return gemm_vnni_prepare_x(GemmKind::kQ6_K, n, x, extra);
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
      return interleaved_prepare_x_k(n, x, extra);
    default:
      return;
  }
}

void interleaved_vnni(TensorType t, int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                      size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  switch (t) {
    case TensorType::kQ4_0:
      return interleaved_vnni_q4_0(n, w, nr, x, x_row, x_extra, nc, y, ldy);
    case TensorType::kQ5_0:
      return interleaved_vnni_q5_0(n, w, nr, x, x_row, x_extra, nc, y, ldy);
    case TensorType::kQ8_0:
      return interleaved_vnni_q8_0(n, w, nr, x, x_row, x_extra, nc, y, ldy);
    case TensorType::kQ6_K:
      return interleaved_vnni_q6_k(n, w, nr, x, x_row, x_extra, nc, y, ldy);
    case TensorType::kQ4_K:
      return interleaved_vnni_q4_k(n, w, nr, x, x_row, x_extra, nc, y, ldy);
    case TensorType::kQ5_K:
      return interleaved_vnni_q5_k(n, w, nr, x, x_row, x_extra, nc, y, ldy);
    default:
      return;
  }
}

void interleaved_vnni_q4_0(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  run_legacy<false>(n, w, nr, x, x_row, x_extra, nc, y, ldy);
}

void interleaved_vnni_q5_0(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  run_legacy<true>(n, w, nr, x, x_row, x_extra, nc, y, ldy);
}

}  // namespace dkb::kernels::detail
