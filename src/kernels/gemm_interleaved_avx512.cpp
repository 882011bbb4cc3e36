

// AVX-512 VNNI matmul over weights in the interleaved layout (interleave.cpp, Q4_0): the packed
// GEMM's method (gemm_avx512.cpp) with no packing pass, for every token count. One 64-byte load
// holds 4 quants of each of 16 rows in its nibbles: the low nibbles (elements 4i..4i+3) and the
// high ones (16+4i..16+4i+3) become two vpdpbusd operands, so a block's integer dot product ends
// whole in one int32 lane per row, started at the token's term -8 * sum(x) of that block.
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

// Bytes ahead of the block being read that the kernel prefetches (8 blocks of a group).
constexpr int64_t kPrefetch = 8 * 288;

// RV groups of 16 rows x RN tokens, blocks [b0, b1) of nb, the sums starting at y's (carry) or
// at 0. g: the first group (the next at g + group_bytes); x: the first token's Q8_0 row (the
// next at x + x_row); ex: its extra floats (dx[nb], then the int32 terms -8 * sum(x) [nb]; the
// next token's at ex + 2 * nb); y: output of row 0, token 0.
template <int RV, int RN>
void kernel(int64_t nb, int64_t b0, int64_t b1, bool carry, const uint8_t* g, size_t group_bytes,
            const uint8_t* x, size_t x_row, const float* ex, float* y, int64_t ldy,
            const __mmask16* mask) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[RV][RN];
  start_sums(acc, carry, y, ldy, mask);
  for (int64_t b = b0; b < b1; ++b) {
    const uint8_t* gq = g + ilv_quants_at(kIlvQ4_0, b);
    const uint8_t* gd = g + ilv_meta_at(kIlvQ4_0, nb, b);
    // The groups' bytes kPrefetch ahead (the hardware prefetcher alone: -7% with 8 tokens).
    // Not for one token (decode): there the hardware prefetcher alone streams faster (two
    // threads from memory when the VM gives ~62 GB/s: 56.4-57.4 vs 53.8-54.9 GB/s; one thread
    // 30.4-30.7 vs 28.9-29.4; level at ~35 GB/s).
#pragma GCC unroll 4
    for (int v = 0; v < RV && RN > 1; ++v) {
      const char* p = reinterpret_cast<const char*>(g + v * group_bytes + b * 288 + kPrefetch);
      _mm_prefetch(p, _MM_HINT_T0);
      _mm_prefetch(p + 64, _MM_HINT_T0);
      _mm_prefetch(p + 128, _MM_HINT_T0);
      _mm_prefetch(p + 192, _MM_HINT_T0);
      _mm_prefetch(p + 256, _MM_HINT_T0);
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
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      __m512i lo[RV], hi[RV];
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        const __m512i raw = _mm512_loadu_si512(gq + v * group_bytes + 64 * i);
        lo[v] = _mm512_and_si512(raw, m4);
        hi[v] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
      }
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m512i xl = _mm512_set1_epi32(load_i32(xb[c] + 4 * i));
        const __m512i xh = _mm512_set1_epi32(load_i32(xb[c] + 16 + 4 * i));
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) {
          ai[v][c] = _mm512_dpbusd_epi32(ai[v][c], lo[v], xl);
          ai[v][c] = _mm512_dpbusd_epi32(ai[v][c], hi[v], xh);
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
// 2 tokens 89, 4 tokens 101, 16 and 24 tokens 161, 32 tokens 152.
constexpr int64_t kFewTokens = 24;

template <int kT, int kG>
struct Kernels : VnniPanel {
  static constexpr int kTokens = kT, kGroups = kG;
  static constexpr int64_t kChunk = 3 * kTokens;
  template <int RV, int RN>
  void call(const uint8_t* g, const uint8_t* x, const float* ex, float* y,
            const __mmask16* mask) const {
    kernel<RV, RN>(nb, b0, end(), carry, g, group_bytes, x, x_row, ex, y, ldy, mask);
  }
};

}  // namespace

size_t interleaved_x_extra_floats(TensorType t, int64_t n) {
  switch (t) {
    case TensorType::kQ4_0:
      return gemm_vnni_x_extra_floats(GemmKind::kQ4_0, n);
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
  const int64_t nb = n / 32;
  const size_t group_bytes = static_cast<size_t>(nb) * 18 * kVnniGroupRows;
  const VnniPanel panel{nb, group_bytes, x_row, 2 * nb, ldy};
  // Few tokens, decode included: one group at a time, so the weights are read as one
  // sequential stream (two or four groups at a time, i.e. streams: ~35% slower from memory with
  // one thread and one token).
  const IlvSlicing sl = ilv_slicing(TensorType::kQ4_0, n);
  if (nc <= kFewTokens) {
    run_interleaved(Kernels<8, 1>{panel}, sl, w, nr, x, x_extra, nc, y);
  } else {
    run_interleaved(Kernels<4, 2>{panel}, sl, w, nr, x, x_extra, nc, y);
  }
}

}  // namespace dkb::kernels::detail
