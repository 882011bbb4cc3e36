// AVX-512 VNNI GEMM for many activation rows (prefill) of the legacy weight types Q4_0, Q5_0 and
// Q8_0 (the K-quants: gemm_k_avx512.cpp, the same method, dispatched from here): weight rows are
// packed per panel into a row-interleaved layout, so one 512-bit vpdpbusd multiplies 4 elements of
// 16 weight rows by 4 broadcast elements of one token, and a block's integer dot product ends up
// whole in one int32 lane per row: one conversion and one float update per (16 rows, token,
// 32-element block).
//
// Packed layout of a group of 16 weight rows (rows past the panel's end are zero with scale 0),
// per 32-element block b (kGroupBlockBytes bytes): for each of the 8 steps s, the 16 rows' 4
// unsigned elements 4s..4s+3 (64 bytes, row-major), then the 16 rows' scales as floats. Each
// element is stored as u = q + off (Q4_0: the nibble, off 8; Q5_0: the 5-bit value, off 16;
// Q8_0: q + 128, off 128), so vpdpbusd (unsigned x signed bytes, exact int32 sums) gives
// sum(u * x) and the block's sum(q * x) = sum(u * x) - off * sum(x); the per-token term
// -off * sum(x) is the accumulator's starting value.
//
// Float order. Q4_0 and Q5_0: the AVX-512 level's block order (kernels_internal.h): per block
// the exact integer sumi, then acc += float(sumi) * (dw * dx), acc starting at 0. Q8_0: the AVX2
// vec_dot's lanes (each step s's vpdpbusd result is lane s of vec_dot's int32 vector, one FMA per
// lane in block order, then vec_dot's sum of the 8 lanes): with the block order, llama.cpp's
// tiny-llama Q8_0 logits drift to 1.8e-2 (a quantization flip), over conformance's 5e-3. Either
// way the same float operations as the level's tiles and vec_dot for that type, so results do
// not depend on which path or batch a token takes (the scheduler's tests: concurrent vs solo
// runs, preemption). The block order needs one conversion and float update per (16 rows, token,
// block), the lane order eight: ~1.7x the MACs per second.
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_vnni.h"
#include "kernels/blocks.h"
#include "kernels_internal.h"

// GCC 12's _mm512_cvtepi32_ps passes _mm512_undefined_ps() (a self-initialized variable) as
// the unused merge source, which -Wmaybe-uninitialized reports as a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dkb::kernels::detail {
namespace {

constexpr int kGroupRows = kVnniGroupRows;
constexpr int64_t kGroupBlockBytes = 8 * 64 + kGroupRows * 4;  // quants, then 16 float scales

int offset_of(GemmKind k) {
  return k == GemmKind::kQ4_0 ? 8 : k == GemmKind::kQ5_0 ? 16 : 128;
}

// The 32 unsigned elements u = q + off of block b of a weight row, and its scale.
float unpack_block(GemmKind k, const uint8_t* row, int64_t b, uint8_t* u) {
  if (k == GemmKind::kQ4_0) {  // low nibbles are elements 0..15, high ones 16..31
    const auto& blk = reinterpret_cast<const BlockQ4_0*>(row)[b];
    const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u), _mm_and_si128(qs, m4));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u + 16), _mm_and_si128(_mm_srli_epi16(qs, 4), m4));
    return _cvtsh_ss(blk.d);
  }
  if (k == GemmKind::kQ5_0) {
    const auto& blk = reinterpret_cast<const BlockQ5_0*>(row)[b];
    uint32_t qh;
    std::memcpy(&qh, blk.qh, sizeof qh);
    for (int j = 0; j < 16; ++j) {
      u[j] = static_cast<uint8_t>((blk.qs[j] & 0x0F) | (((qh >> j) << 4) & 0x10));
      u[j + 16] = static_cast<uint8_t>((blk.qs[j] >> 4) | ((qh >> (j + 12)) & 0x10));
    }
    return _cvtsh_ss(blk.d);
  }
  const auto& blk = reinterpret_cast<const BlockQ8_0*>(row)[b];
  for (int j = 0; j < 32; ++j) u[j] = static_cast<uint8_t>(blk.qs[j] + 128);
  return _cvtsh_ss(blk.d);
}

// ---- Q4_0 and Q5_0: the level's block order ----------------------------------------------

// RV groups of 16 rows x RN tokens. g: the first group (the next at g + group_bytes); x: the
// first token's Q8_0 row (the next at x + x_row); ex: its extra floats (dx[nb], then the int32
// terms -off * sum(x) [nb]; the next token's at ex + 2 * nb); y: output of row 0, token 0.
template <int RV, int RN>
void kernel(int64_t nb, const uint8_t* g, size_t group_bytes, const uint8_t* x, size_t x_row,
            const float* ex, float* y, int64_t ldy, const __mmask16* mask) {
  __m512 acc[RV][RN];
#pragma GCC unroll 4
  for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[v][c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i ai[RV][RN];
    const uint8_t* xb[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const float* e = ex + c * 2 * nb;
      const __m512i corr = _mm512_set1_epi32(load_i32(e + nb + b));
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) ai[v][c] = corr;
      xb[c] = x + c * x_row + b * static_cast<int64_t>(sizeof(BlockQ8_0)) + 2;  // its qs
    }
    const uint8_t* gb = g + b * kGroupBlockBytes;
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      __m512i w[RV];
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) w[v] = _mm512_loadu_si512(gb + v * group_bytes + s * 64);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m512i xv = _mm512_set1_epi32(load_i32(xb[c] + 4 * s));
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) ai[v][c] = _mm512_dpbusd_epi32(ai[v][c], w[v], xv);
      }
    }
    __m512 dw[RV];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      dw[v] = _mm512_loadu_ps(reinterpret_cast<const float*>(gb + v * group_bytes + 8 * 64));
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
      _mm512_mask_storeu_ps(y + c * ldy + v * kGroupRows, mask[v], acc[v][c]);
    }
}

// Block-order micro-kernels: 2 groups x 6 tokens (24 accumulators), chunks of 24 tokens.
struct BlockKernels : VnniPanel {
  static constexpr int kTokens = 6, kGroups = 2;
  static constexpr int64_t kChunk = 4 * kTokens;
  template <int RV, int RN>
  void call(const uint8_t* g, const uint8_t* x, const float* ex, float* y,
            const __mmask16* mask) const {
    kernel<RV, RN>(nb, g, group_bytes, x, x_row, ex, y, ldy, mask);
  }
};

// ---- Q8_0: the AVX2 vec_dot's lane order --------------------------------------------------

// Extra floats per token and block: dx, then the 8 int32 terms -off * (sum of x over elements
// 4s..4s+3), one per step s.
constexpr int64_t kExtra = 9;

// Where the lane kernel finds block b of a group g (nb blocks per row): its 8 steps' quants
// (step s at quants + 64 s) and its 16 scales. The packed panel (gemm_vnni_pack) keeps float
// scales after each block's quants; the interleaved layout (interleave.cpp's Q8_0) pairs
// blocks, fp16 scales after each pair, and is read with a software prefetch.
struct PackedQ8 {
  static constexpr bool kPrefetch = false;
  static const uint8_t* quants(const uint8_t* g, int64_t, int64_t b) {
    return g + b * kGroupBlockBytes;
  }
  static __m512 scales(const uint8_t* g, int64_t, int64_t b) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(g + b * kGroupBlockBytes + 8 * 64));
  }
};
// kAhead: the prefetch distance in blocks, kHint its cache level. Decode: 8 blocks into L1 (24.9
// GB/s from memory, one thread; into L2 21.3). Batches (kSpread): the next group into L2, each
// call its tokens' share of it. A group is read once per 3 tokens, from L2 after the first pass,
// so prefetching a fixed distance ahead (32 blocks: Zen 4, 8 tokens 74.5 -> 101 GMAC/s) drew on
// memory in the first pass only, at three times the average rate; spread over the passes the
// stream is even. Zen 5, two threads, 1536 -> 8960, GMAC/s: 8 tokens 294-305 -> 327-337 (probe
// ~78 GB/s), 251-265 -> 300 (~47 GB/s); 4 tokens 227 either way; 512 tokens 353-370 -> 360-376.
// In the model (1.5B Q8_0, 8 sequences): 169-172 -> 200 t/s.
template <int kAhead, int kHint, bool kSpreadOverPasses>
struct InterleavedQ8 {
  static constexpr bool kPrefetch = true, kSpread = kSpreadOverPasses;
  static constexpr int kPrefetchBlocks = kAhead, kPrefetchHint = kHint;
  static const uint8_t* quants(const uint8_t* g, int64_t, int64_t b) {
    return g + ilv_quants_at(kIlvQ8_0, b);
  }
  static __m512 scales(const uint8_t* g, int64_t nb, int64_t b) {
    const uint8_t* p = g + ilv_meta_at(kIlvQ8_0, nb, b);
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};
using InterleavedQ8Decode = InterleavedQ8<8, _MM_HINT_T0, false>;
using InterleavedQ8Batch = InterleavedQ8<0, _MM_HINT_T1, true>;

// RV groups of 16 rows x RN tokens. g: the first group (the next at g + group_bytes); x: the
// first token's Q8_0 row (the next at x + x_row); ex: its extra floats (kExtra per block; the
// next token's at ex + kExtra * nb); y: output of row 0, token 0. Src: PackedQ8 or
// InterleavedQ8.
//
// The AVX2 vec_dot's lanes and float order: per block, lane s of vec_dot's int32 vector is the
// sum over elements 4s..4s+3 — here step s's vpdpbusd result for the 16 rows, started at the
// token's term for that step; then lane s's float accumulator takes fma(dw * dx, lane, acc)
// in block order, and the 8 accumulators are summed as hsum_ps sums its 8 lanes.
// Tokens [c0, c0 + RN) of the chunk's nc: this call's share of the passes over the group
// (kSpread).
template <class Src, int RV, int RN>
void lane_kernel(int64_t nb, const uint8_t* g, size_t group_bytes, const uint8_t* x, size_t x_row,
                 const float* ex, float* y, int64_t ldy, const __mmask16* mask, int64_t c0,
                 int64_t nc) {
  __m512 acc[RV][RN][8];
#pragma GCC unroll 4
  for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c)
#pragma GCC unroll 8
      for (int s = 0; s < 8; ++s) acc[v][c][s] = _mm512_setzero_ps();
  int64_t requested = -1;  // kSpread: the block last prefetched
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* gb = Src::quants(g, nb, b);
    if constexpr (Src::kPrefetch) {  // the 544 bytes of a block, roughly
      // Block b + kPrefetchBlocks of each group; spread: of the group after them, the blocks
      // [c0, c0 + RN) * nb / nc, in proportion to this call's tokens, each once.
      int64_t ahead = b + Src::kPrefetchBlocks;
      bool request = true;
      if constexpr (Src::kSpread) {
        ahead = RV * nb + (c0 * nb + b * RN) / nc;
        request = ahead != requested;
        requested = ahead;
      }
#pragma GCC unroll 4
      for (int v = 0; v < RV && request; ++v) {
        const char* p = reinterpret_cast<const char*>(g + v * group_bytes + ahead * 544);
#pragma GCC unroll 9
        for (int l = 0; l < 9; ++l) {
          _mm_prefetch(p + 64 * l, static_cast<_mm_hint>(Src::kPrefetchHint));
        }
      }
    }
    const uint8_t* xb[RN];
    const float* e[RN];
    __m512 d[RV][RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      xb[c] = x + c * x_row + b * static_cast<int64_t>(sizeof(BlockQ8_0)) + 2;  // its qs
      e[c] = ex + (c * nb + b) * kExtra;
      const __m512 dx = _mm512_set1_ps(e[c][0]);
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        d[v][c] = _mm512_mul_ps(Src::scales(g + v * group_bytes, nb, b), dx);
      }
    }
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      __m512i w[RV];
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) w[v] = _mm512_loadu_si512(gb + v * group_bytes + s * 64);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m512i xv = _mm512_set1_epi32(load_i32(xb[c] + 4 * s));
        const __m512i init = _mm512_set1_epi32(load_i32(e[c] + 1 + s));
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) {
          const __m512i lane = _mm512_dpbusd_epi32(init, w[v], xv);
          acc[v][c][s] = _mm512_fmadd_ps(d[v][c], _mm512_cvtepi32_ps(lane), acc[v][c][s]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) {
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      const __m512(&a)[8] = acc[v][c];
      const __m512 sum =
          _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[4]), _mm512_add_ps(a[2], a[6])),
                        _mm512_add_ps(_mm512_add_ps(a[1], a[5]), _mm512_add_ps(a[3], a[7])));
      _mm512_mask_storeu_ps(y + c * ldy + v * kGroupRows, mask[v], sum);
    }
  }
}

// Lane-order micro-kernels: 1 group x 3 tokens (24 accumulators), chunks of 24 tokens.
template <class Src>
struct LaneKernels : VnniPanel {
  static constexpr int kTokens = 3, kGroups = 1;
  static constexpr int64_t kChunk = 8 * kTokens;
  static constexpr bool kPassAware = true;
  template <int RV, int RN>
  void call(const uint8_t* g, const uint8_t* x, const float* ex, float* y, const __mmask16* mask,
            int64_t c, int64_t nc) const {
    lane_kernel<Src, RV, RN>(nb, g, group_bytes, x, x_row, ex, y, ldy, mask, c, nc);
  }
};

}  // namespace

bool gemm_vnni_supports(GemmKind k) {
  return k != GemmKind::kNone;
}

namespace {
bool is_k(GemmKind k) {
  return k == GemmKind::kQ4_K || k == GemmKind::kQ5_K || k == GemmKind::kQ6_K;
}
}  // namespace

size_t gemm_vnni_packed_bytes(GemmKind k, int64_t n, int64_t nr) {
  if (!gemm_vnni_supports(k)) return 0;
  if (is_k(k)) return gemm_vnni_k_packed_bytes(k, n, nr);
  const int64_t groups = (nr + kGroupRows - 1) / kGroupRows;
  return static_cast<size_t>(groups * (n / 32) * kGroupBlockBytes);
}

size_t gemm_vnni_x_extra_floats(GemmKind k, int64_t n) {
  if (!gemm_vnni_supports(k)) return 0;
  if (is_k(k)) return gemm_vnni_k_x_extra_floats(k, n);
  return static_cast<size_t>((k == GemmKind::kQ8_0 ? kExtra : 2) * (n / 32));
}

void gemm_vnni_prepare_x(GemmKind k, int64_t n, const uint8_t* x, float* extra) {
  if (is_k(k)) return gemm_vnni_k_prepare_x(k, n, x, extra);
  const int64_t nb = n / 32;
  const int32_t off = offset_of(k);
  const auto* xb = reinterpret_cast<const BlockQ8_0*>(x);
  for (int64_t b = 0; b < nb; ++b) {
    if (k == GemmKind::kQ8_0) {  // dx, then the 8 steps' terms
      float* e = extra + b * kExtra;
      e[0] = _cvtsh_ss(xb[b].d);
      for (int s = 0; s < 8; ++s) {
        const int8_t* q = xb[b].qs + 4 * s;
        const int32_t term = -off * (q[0] + q[1] + q[2] + q[3]);
        std::memcpy(e + 1 + s, &term, sizeof term);
      }
      continue;
    }
    extra[b] = _cvtsh_ss(xb[b].d);  // dx[nb], then the blocks' terms [nb]
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) sum += xb[b].qs[j];
    const int32_t term = -off * sum;
    std::memcpy(extra + nb + b, &term, sizeof term);
  }
}

void gemm_vnni_pack(GemmKind k, const uint8_t* w, size_t w_row, int64_t nr, int64_t n,
                    uint8_t* dst) {
  if (is_k(k)) return gemm_vnni_k_pack(k, w, w_row, nr, n, dst);
  const int64_t nb = n / 32;
  const int64_t groups = (nr + kGroupRows - 1) / kGroupRows;
  const size_t group_bytes = static_cast<size_t>(nb * kGroupBlockBytes);
  alignas(64) uint8_t u[32];
  // Row by row, each weight row read front to back (see gemm_k_avx512.cpp's pack).
  for (int64_t grp = 0; grp < groups; ++grp) {
    uint8_t* gd = dst + grp * group_bytes;
    for (int r = 0; r < kGroupRows; ++r) {
      const int64_t row = grp * kGroupRows + r;
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* bd = gd + b * kGroupBlockBytes;
        float* scales = reinterpret_cast<float*>(bd + 8 * 64);
        float d = 0.0f;
        if (row < nr) {
          d = unpack_block(k, w + row * w_row, b, u);
        } else {
          std::memset(u, 0, sizeof u);
        }
        for (int s = 0; s < 8; ++s) std::memcpy(bd + s * 64 + r * 4, u + 4 * s, 4);
        std::memcpy(scales + r, &d, sizeof d);
      }
    }
  }
}

void gemm_vnni_packed(GemmKind k, int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x,
                      size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  if (is_k(k)) return gemm_vnni_k_packed(k, n, packed, nr, x, x_row, x_extra, nc, y, ldy);
  const int64_t nb = n / 32;
  const size_t group_bytes = static_cast<size_t>(nb * kGroupBlockBytes);
  if (k == GemmKind::kQ8_0) {
    run_packed(LaneKernels<PackedQ8>{{nb, group_bytes, x_row, kExtra * nb, ldy}}, packed, nr, x,
               x_extra, nc,
               y);
  } else {
    run_packed(BlockKernels{{nb, group_bytes, x_row, 2 * nb, ldy}}, packed, nr, x, x_extra, nc, y);
  }
}

void interleaved_vnni_q8_0(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const int64_t nb = n / 32;
  const size_t group_bytes = static_cast<size_t>(nb) * sizeof(BlockQ8_0) * kGroupRows;
  const VnniPanel panel{nb, group_bytes, x_row, kExtra * nb, ldy};
  // One group at a time (kGroups 1): one sequential stream of weights, as Q4_0's.
  if (nc == 1) return run_packed(LaneKernels<InterleavedQ8Decode>{panel}, w, nr, x, x_extra, nc, y);
  run_packed(LaneKernels<InterleavedQ8Batch>{panel}, w, nr, x, x_extra, nc, y);
}

}  // namespace dkb::kernels::detail
