// Shared by the AVX-512 VNNI GEMMs (only for the two *_avx512.cpp files: AVX-512 flags): the
// row-group mask and the token / row-group loops around their micro-kernels, and the K-quant
// half (gemm_k_avx512.cpp), called by the dispatching functions of gemm_avx512.cpp (declared in
// kernels_internal.h) for Q4_K, Q5_K and Q6_K, with the same contracts.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels_internal.h"

namespace dkb::kernels::detail {

// Weight rows per packed group: one int32 lane of a 512-bit register each.
constexpr int64_t kVnniGroupRows = 16;

// 4 bytes at p as an int32 (the operand of a vpdpbusd broadcast), unaligned.
inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The lanes of row group grp that hold one of the nr rows.
inline __mmask16 group_mask(int64_t nr, int64_t grp) {
  const int64_t left = nr - grp * kVnniGroupRows;
  return left >= kVnniGroupRows ? static_cast<__mmask16>(0xFFFF)
                                : static_cast<__mmask16>((1u << left) - 1);
}

// The float accumulators of RV groups x RN tokens: y's sums (carry: a sliced layout's later
// slice, VnniPanel below) or zero.
template <int RV, int RN>
inline void start_sums(__m512 (&acc)[RV][RN], bool carry, const float* y, int64_t ldy,
                       const __mmask16* mask) {
#pragma GCC unroll 4
  for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      acc[v][c] = carry ? _mm512_maskz_loadu_ps(mask[v], y + c * ldy + v * kVnniGroupRows)
                        : _mm512_setzero_ps();
    }
}

// ---- the token and row-group loops of the AVX-512 GEMMs ---------------------------------------
// A micro-kernel family K derives from VnniPanel (the panel's strides) and provides
//   static constexpr int kTokens;     tokens of a full call
//   static constexpr int kGroups;     row groups per call (1 or 2)
//   static constexpr int64_t kChunk;  tokens per chunk (their activations stay in L1)
//   template <int RV, int RN> void call(g, x, ex, y, mask) const: y for RV groups of rows from g
//     (group_bytes apart) and RN tokens from x / ex (x_row bytes / ex_row floats apart), masked.
struct VnniPanel {
  int64_t nb;          // blocks per row
  size_t group_bytes;  // one packed group of rows (sliced layout: one piece of a slice)
  size_t x_row;        // bytes of one token's activation row
  int64_t ex_row;      // floats of one token's x_extra
  int64_t ldy;
  // The interleaved kernels (run_interleaved): blocks [b0, b1) of each row, b1 < 0 meaning nb;
  // carry: y holds the sums of the blocks before b0, which the kernel continues (the float
  // order of one pass over all blocks, so the same bits).
  int64_t b0 = 0, b1 = -1;
  bool carry = false;
  int64_t end() const { return b1 < 0 ? nb : b1; }
};

// k.call<RV, RN> for tokens [c, c + RN) of the chunk's nc; a family with kPassAware also takes
// c and nc (which share of the group's passes over the chunk's tokens this call is: to spread
// its prefetch over them).
template <class K, int RV, int RN>
void call_pass(const K& k, int64_t c, int64_t nc, const uint8_t* g, const uint8_t* x,
               const float* ex, float* y, const __mmask16* mask) {
  if constexpr (requires { K::kPassAware; }) {
    k.template call<RV, RN>(g, x, ex, y, mask, c, nc);
  } else {
    k.template call<RV, RN>(g, x, ex, y, mask);
  }
}

// k.call<RV, rem> for the tokens [c, nc) left after the full calls (0 < rem = nc - c < RN).
template <class K, int RV, int RN>
void call_tail(const K& k, int64_t c, int64_t nc, const uint8_t* g, const uint8_t* x,
               const float* ex, float* y, const __mmask16* mask) {
  if constexpr (RN > 1) {
    if (nc - c == RN - 1) return call_pass<K, RV, RN - 1>(k, c, nc, g, x, ex, y, mask);
    call_tail<K, RV, RN - 1>(k, c, nc, g, x, ex, y, mask);
  }
}

template <class K, int RV>
void run_tokens(const K& k, const uint8_t* g, const uint8_t* x, const float* ex, int64_t nc,
                float* y, const __mmask16* mask) {
  int64_t c = 0;
  for (; c + K::kTokens <= nc; c += K::kTokens) {
    call_pass<K, RV, K::kTokens>(k, c, nc, g, x + c * k.x_row, ex + c * k.ex_row, y + c * k.ldy,
                                 mask);
  }
  call_tail<K, RV, K::kTokens>(k, c, nc, g, x + c * k.x_row, ex + c * k.ex_row, y + c * k.ldy,
                               mask);
}

// y[c * ldy + r] for the nr packed rows and nc tokens: tokens in chunks of K::kChunk, within a
// chunk the panel's groups (in L2) K::kGroups at a time.
template <class K>
void run_packed(const K& k, const uint8_t* packed, int64_t nr, const uint8_t* x,
                const float* x_extra, int64_t nc, float* y) {
  const int64_t ng = (nr + kVnniGroupRows - 1) / kVnniGroupRows;
  for (int64_t c0 = 0; c0 < nc; c0 += K::kChunk) {
    const int64_t cn = nc - c0 < K::kChunk ? nc - c0 : K::kChunk;
    const uint8_t* xc = x + c0 * k.x_row;
    const float* ec = x_extra + c0 * k.ex_row;
    float* yc = y + c0 * k.ldy;
    int64_t grp = 0;
    if constexpr (K::kGroups == 2) {
      for (; grp + 2 <= ng; grp += 2) {
        const __mmask16 m[2] = {group_mask(nr, grp), group_mask(nr, grp + 1)};
        run_tokens<K, 2>(k, packed + grp * k.group_bytes, xc, ec, cn, yc + grp * kVnniGroupRows, m);
      }
    }
    for (; grp < ng; ++grp) {
      const __mmask16 m[1] = {group_mask(nr, grp)};
      run_tokens<K, 1>(k, packed + grp * k.group_bytes, xc, ec, cn, yc + grp * kVnniGroupRows, m);
    }
  }
}

// An interleaved matrix (nr rows at w, from a panel's first row: whole panels, the last one of
// the matrix possibly short) with kernels K: plain groups through run_packed, or the sliced
// layout (kernels_internal.h) panel by panel, within a panel per chunk of tokens slice by slice,
// each slice's pieces as groups of (b1 - b0) blocks whose sums carry through y.
template <class K>
void run_interleaved(const K& k, IlvSlicing sl, const uint8_t* w, int64_t nr, const uint8_t* x,
                     const float* x_extra, int64_t nc, float* y) {
  if (sl.slice_blocks == 0) return run_packed(k, w, nr, x, x_extra, nc, y);
  const int64_t nb = k.nb, ng = nr / kVnniGroupRows;
  const size_t bb = k.group_bytes / static_cast<size_t>(nb);  // a block of a group
  for (int64_t g0 = 0; g0 < ng; g0 += sl.panel_groups) {
    const int64_t p = ng - g0 < sl.panel_groups ? ng - g0 : sl.panel_groups;
    const uint8_t* panel = w + g0 * k.group_bytes;
    for (int64_t c0 = 0; c0 < nc; c0 += K::kChunk) {
      const int64_t cn = nc - c0 < K::kChunk ? nc - c0 : K::kChunk;
      for (int64_t b0 = 0; b0 < nb; b0 += sl.slice_blocks) {
        K ks = k;
        ks.b0 = b0;
        ks.b1 = nb - b0 < sl.slice_blocks ? nb : b0 + sl.slice_blocks;
        ks.carry = b0 > 0;
        ks.group_bytes = static_cast<size_t>(ks.b1 - b0) * bb;
        // The kernels address block b of a group at b * bb: the slice's first piece, minus that.
        const uint8_t* base = panel + static_cast<size_t>(p * b0) * bb - b0 * bb;
        run_packed(ks, base, p * kVnniGroupRows, x + c0 * k.x_row, x_extra + c0 * k.ex_row, cn,
                   y + g0 * kVnniGroupRows + c0 * k.ldy);
      }
    }
  }
}

size_t gemm_vnni_k_packed_bytes(GemmKind k, int64_t n, int64_t nr);
size_t gemm_vnni_k_x_extra_floats(GemmKind k, int64_t n);
void gemm_vnni_k_prepare_x(GemmKind k, int64_t n, const uint8_t* x, float* extra);
void gemm_vnni_k_pack(GemmKind k, const uint8_t* w, size_t w_row, int64_t nr, int64_t n,
                      uint8_t* dst);
void gemm_vnni_k_packed(GemmKind k, int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x,
                        size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);

}  // namespace dkb::kernels::detail
