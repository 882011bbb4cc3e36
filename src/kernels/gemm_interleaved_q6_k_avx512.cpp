// AVX-512 VNNI matmul over Q6_K weights in the interleaved layout (interleave_q6_k.cpp), for
// every token count, with no packing pass. Per sub-block of 16 elements, three 64-byte loads
// hold 4 unsigned quants u = q + 32 of each of the 16 rows for 4 steps (4 elements each): steps
// 0-2 are the vectors' low 6 bits (one AND), step 3 is gathered from their top 2 bits (three
// shifts, two bit selects, one AND). Each step is one vpdpbusd per token against 4 broadcast
// activation bytes.
// Arithmetic: gemm_k_avx512.cpp's for Q6_K (the AVX-512 level's block order, kernels_internal.h):
// per sub-block the exact sum of u * x started at -32 * bsum (so it is the sum of q * x), times
// the rows' int8 scales (vpmulld), summed into the super-block's exact isum; then the scalar
// reference's float operations sum += (dw * dx) * isum. So the results are the row layout's
// bits (its tiles, GEMM and vec_dot at this level).
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

constexpr int64_t kSuperBytes = kIlvQ6K.quants + kIlvQ6K.meta;  // one super-block of a group
// Floats of gemm_vnni_prepare_x(kQ6_K)'s extras per token and super-block: dx, then the 16
// int32 terms -32 * bsum.
constexpr int64_t kExtra = 17;
// Bytes ahead of the sub-block being read that the kernel prefetches: decode (one token) into
// L1, 8 KiB ahead; batches into L2, 16 KiB ahead. One thread, weights from memory, 1536 -> 8960:
// decode 2, 4, 8, 16 KiB into L1 ~19, ~22, ~30, ~29 GB/s (into L2 ~23-26, none ~13); 8 tokens
// into L1 85-107 GMAC/s at any distance, into L2 160-167 (none ~70; into L1 the weights
// probably evict the activations).
constexpr int64_t kPrefetchL1 = 8192, kPrefetchL2 = 16384;

// The 4 steps' u of one sub-block from its 3 vectors at q (interleave_q6_k.cpp).
inline void unpack_sub_block(const uint8_t* q, __m512i (&u)[4]) {
  const __m512i m6 = _mm512_set1_epi8(0x3F);
  const __m512i v0 = _mm512_loadu_si512(q);
  const __m512i v1 = _mm512_loadu_si512(q + 64);
  const __m512i v2 = _mm512_loadu_si512(q + 128);
  u[0] = _mm512_and_si512(v0, m6);
  u[1] = _mm512_and_si512(v1, m6);
  u[2] = _mm512_and_si512(v2, m6);
  // Step 3: bits 6-7 of v0, v1, v2 -> bits 0-1, 2-3, 4-5. 16-bit shifts carry the next byte's
  // low bits into bits above the wanted ones; the selects and the final AND drop them.
  // vpternlogd 0xE4: bits where the mask (third operand) is set from the first operand, else
  // from the second.
  const __m512i a = _mm512_srli_epi16(v0, 6);
  const __m512i b = _mm512_srli_epi16(v1, 4);
  const __m512i c = _mm512_srli_epi16(v2, 2);
  const __m512i ab = _mm512_ternarylogic_epi32(a, b, _mm512_set1_epi8(0x03), 0xE4);
  const __m512i abc = _mm512_ternarylogic_epi32(ab, c, _mm512_set1_epi8(0x0F), 0xE4);
  u[3] = _mm512_and_si512(abc, m6);
}

// RV groups of 16 rows x RN tokens, super-blocks [i0, i1) of nsb, the sums starting at y's
// (carry) or at 0. g: the first group (the next at g + group_bytes); x: the first token's Q8_K
// row (the next at x + x_row); ex: its extra floats (kExtra per super-block; the next token's at
// ex + kExtra * nsb); y: output of row 0, token 0. kDecode: the prefetch of decode
// (kPrefetchL1).
template <int RV, int RN, bool kDecode>
void kernel(int64_t nsb, int64_t i0, int64_t i1, bool carry, const uint8_t* g, size_t group_bytes,
            const uint8_t* x, size_t x_row, const float* ex, float* y, int64_t ldy,
            const __mmask16* mask) {
  __m512 acc[RV][RN];
  start_sums(acc, carry, y, ldy, mask);
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t q_at = ilv_quants_at(kIlvQ6K, i), s_at = ilv_meta_at(kIlvQ6K, nsb, i);
    const uint8_t* xq[RN];
    const float* e[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      xq[c] = x + c * x_row + i * static_cast<int64_t>(sizeof(BlockQ8_K)) + 4;  // its qs
      e[c] = ex + c * kExtra * nsb + i * kExtra;
    }
    __m512i isum[RV][RN];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) isum[v][c] = _mm512_setzero_si512();
    for (int j = 0; j < 16; ++j) {
      // The groups' bytes ahead, one sub-block's share (210 bytes) per sub-block.
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        const char* p = reinterpret_cast<const char*>(g + v * group_bytes + i * kSuperBytes +
                                                      j * (kSuperBytes / 16) +
                                                      (kDecode ? kPrefetchL1 : kPrefetchL2));
        constexpr auto hint = kDecode ? _MM_HINT_T0 : _MM_HINT_T1;
        _mm_prefetch(p, hint);
        _mm_prefetch(p + 64, hint);
        _mm_prefetch(p + 128, hint);
        _mm_prefetch(p + 192, hint);
      }
      __m512i s[RV][RN];
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m512i init = _mm512_set1_epi32(load_i32(e[c] + 1 + j));
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) s[v][c] = init;
      }
      __m512i u[RV][4];
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) unpack_sub_block(g + v * group_bytes + q_at + 192 * j, u[v]);
#pragma GCC unroll 4
      for (int st = 0; st < 4; ++st) {
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          const __m512i xv = _mm512_set1_epi32(load_i32(xq[c] + 16 * j + 4 * st));
#pragma GCC unroll 4
          for (int v = 0; v < RV; ++v) s[v][c] = _mm512_dpbusd_epi32(s[v][c], u[v][st], xv);
        }
      }
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        const __m512i sc = _mm512_cvtepi8_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + v * group_bytes + s_at + 16 * j)));
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          isum[v][c] = _mm512_add_epi32(isum[v][c], _mm512_mullo_epi32(s[v][c], sc));
        }
      }
    }
    __m512 dw[RV];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      dw[v] = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + v * group_bytes + s_at + 256)));
    }
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const __m512 dx = _mm512_set1_ps(e[c][0]);
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        acc[v][c] = _mm512_add_ps(
            acc[v][c], _mm512_mul_ps(_mm512_mul_ps(dw[v], dx), _mm512_cvtepi32_ps(isum[v][c])));
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

// 1 group x 8 tokens, chunks of 8 tokens (their activations, ~17 KiB with 1536 inputs, stay in
// L1; the panel's groups come from L2 for each chunk). One thread, 1536 -> 8960, GMAC/s with
// 8 tokens (weights from memory) / 512 tokens (from cache): 1 x 8 ~165 / ~166, 1 x 6 ~154 /
// ~157, 1 x 4 ~160 / ~165, 2 x 4 ~104 / ~162; 1 x 8 in chunks of 24 tokens (~52 KiB of
// activations) ~153 with 512 tokens. (The row layout: ~74 / ~155.)
// kDecode: the one-token prefetch (see kernel).
template <bool kDecode>
struct Kernels : VnniPanel {
  static constexpr int kTokens = 8, kGroups = 1;
  static constexpr int64_t kChunk = kTokens;
  template <int RV, int RN>
  void call(const uint8_t* g, const uint8_t* x, const float* ex, float* y,
            const __mmask16* mask) const {
    kernel<RV, RN, kDecode>(nb, b0, end(), carry, g, group_bytes, x, x_row, ex, y, ldy, mask);
  }
};

}  // namespace

void interleaved_vnni_q6_k(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x, size_t x_row,
                           const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const int64_t nsb = n / kQK_K;
  const size_t group_bytes = static_cast<size_t>(nsb * kSuperBytes);
  const VnniPanel panel{nsb, group_bytes, x_row, kExtra * nsb, ldy};
  // One group at a time either way (kGroups 1): decode reads the weights as one sequential
  // stream (as Q4_0's kernel). One thread, weights from memory, 1536 -> 8960: ~30 GB/s (the row
  // layout's tiles ~25).
  const IlvSlicing sl = ilv_slicing(TensorType::kQ6_K, n);
  if (nc == 1) return run_interleaved(Kernels<true>{panel}, sl, w, nr, x, x_extra, nc, y);
  run_interleaved(Kernels<false>{panel}, sl, w, nr, x, x_extra, nc, y);
}

}  // namespace dkb::kernels::detail
