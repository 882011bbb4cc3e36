// Internal declarations shared by the kernel translation units (not part of the public API).
//
// Per-type row kernels have C linkage-free, non-inline signatures on purpose: *_avx2.cpp,
// *_avx512.cpp and *_dotprod.cpp files are compiled with extra ISA flags, so no inline function
// may be shared between them and baseline files (the linker could keep an AVX2 or dotprod copy
// of it and break CPUs without).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace dkb::kernels::detail {

// Row kernels: n elements (multiple of the block size).
using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

void dequantize_f32(const void* src, float* dst, int64_t n);
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q8_1(const void* src, float* dst, int64_t n);
void dequantize_q2_k(const void* src, float* dst, int64_t n);
void dequantize_q3_k(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void dequantize_q8_k(const void* src, float* dst, int64_t n);

void quantize_f32(const float* src, void* dst, int64_t n);
void quantize_f16(const float* src, void* dst, int64_t n);
void quantize_bf16(const float* src, void* dst, int64_t n);
void quantize_q4_0(const float* src, void* dst, int64_t n);
void quantize_q4_1(const float* src, void* dst, int64_t n);
void quantize_q5_0(const float* src, void* dst, int64_t n);
void quantize_q5_1(const float* src, void* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);
void quantize_q2_k(const float* src, void* dst, int64_t n);
void quantize_q3_k(const float* src, void* dst, int64_t n);
void quantize_q4_k(const float* src, void* dst, int64_t n);
void quantize_q5_k(const float* src, void* dst, int64_t n);
void quantize_q6_k(const float* src, void* dst, int64_t n);

// Scalar references (ggml's generic vec_dot formulas).
float vec_dot_f32_scalar(int64_t n, const void* w, const void* x);
float vec_dot_f16_scalar(int64_t n, const void* w, const void* x);
float vec_dot_bf16_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q4_0_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q4_1_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q5_0_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q5_1_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q8_0_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q2_k_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q3_k_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q4_k_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q5_k_scalar(int64_t n, const void* w, const void* x);
float vec_dot_q6_k_scalar(int64_t n, const void* w, const void* x);

// The AVX-512 level's block order for Q4_0, Q5_0 and the K-quants (its tiles, GEMMs and
// vec_dot): per block the exact integer sums, then the scalar reference's float operations in
// its order (Q4_K/Q5_K: sumf += d * isum - dmin * summs), sumf starting at 0 — except Q4_0, whose
// reference multiplies (sumi * dw) * dx and whose level order is sumf += float(sumi) *
// (dw * dx): this function. (Q8_0 keeps the AVX2 vec_dot's order at that level: in block order,
// which is its scalar reference's, llama.cpp's tiny-llama Q8_0 logits drift past conformance's
// bound; see gemm_avx512.cpp.)
float vec_dot_q4_0_blocks(int64_t n, const void* w, const void* x);

// AVX2+FMA+F16C versions (only called when the CPU has them).
float vec_dot_f32_avx2(int64_t n, const void* w, const void* x);
float vec_dot_f16_avx2(int64_t n, const void* w, const void* x);
float vec_dot_bf16_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q4_0_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q4_1_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q5_0_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q5_1_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q8_0_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q2_k_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q3_k_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q4_k_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q5_k_avx2(int64_t n, const void* w, const void* x);
float vec_dot_q6_k_avx2(int64_t n, const void* w, const void* x);
// Activation quantizers, bit-identical to quantize_q8_0 / quantize_q8_k.
void quantize_q8_0_avx2(const float* src, void* dst, int64_t n);
void quantize_f16_avx2(const float* src, void* dst, int64_t n);
void quantize_q8_k_avx2(const float* src, void* dst, int64_t n);
// Dequantizers, bit-identical to the scalar ones (dequantize_avx2.cpp).
void dequantize_f16_avx2(const void* src, float* dst, int64_t n);
void dequantize_bf16_avx2(const void* src, float* dst, int64_t n);
void dequantize_q4_0_avx2(const void* src, float* dst, int64_t n);
void dequantize_q8_0_avx2(const void* src, float* dst, int64_t n);
void dequantize_q4_k_avx2(const void* src, float* dst, int64_t n);
void dequantize_q6_k_avx2(const void* src, float* dst, int64_t n);
// y[i] += a * x[i] (attention's weighted sum of V rows).
void axpy_f32_avx2(int64_t n, float a, const float* x, float* y);
// out[i] = silu(gate[i]) * up[i] with ggml's vector exp (activation_avx2.cpp); in place allowed.
void swiglu_f32_avx2(const float* gate, const float* up, int64_t n, float* out);
// The same 16 wide (activation_avx512.cpp).
void swiglu_f32_avx512(const float* gate, const float* up, int64_t n, float* out);
// Attention's row loops. s[g][j] = vec_dot_f32_avx2(n, k + j * k_stride, q[g]) for j < n_rows,
// g < nq (each row is read once for all nq queries); bit for bit those calls.
// pf (every row loop): rows to prefetch into L1 while these are read, row j's n floats at
// pf + j * (the stride), or nullptr. Attention passes the rows it reads next, a page on:
// the pages of a paged cache are not contiguous, so the hardware prefetcher, which follows one
// stream within 4 KiB pages, fetches none of them ahead.
void dot_rows_f32_avx2(int64_t n, const float* k, int64_t k_stride, int64_t n_rows,
                       const float* const* q, int nq, float* const* s, const float* pf);
// out[d] += sum over j < n_rows of s[j] * v[j * v_stride + d], for d < n, with out kept in
// registers: bit for bit n_rows calls axpy_f32_avx2(n, s[j], v + j * v_stride, out) in row order.
void weighted_rows_f32_avx2(int64_t n, const float* s, int64_t n_rows, const float* v,
                            int64_t v_stride, float* out, const float* pf);
// The same loops at the AVX-512 level (attention_avx512.cpp): the AVX2 ones' bits, more of them
// in flight (dot products in blocks of 2 heads x 4 rows; outputs of up to 4 heads per V row).
void dot_rows_f32_avx512(int64_t n, const float* k, int64_t k_stride, int64_t n_rows,
                         const float* const* q, int nq, float* const* s, const float* pf);
// weighted_rows for nh heads over the same V rows (s[g], out[g] per head): per head, bit for bit
// weighted_rows_f32_avx2.
void weighted_heads_f32_avx512(int64_t n, const float* const* s, int nh, int64_t n_rows,
                               const float* v, int64_t v_stride, float* const* out,
                               const float* pf);
// Both over rows of IEEE halves (an f16 KV cache): the f32 versions' bits on the widened rows.
void dot_rows_f16_avx512(int64_t n, const uint16_t* k, int64_t k_stride, int64_t n_rows,
                         const float* const* q, int nq, float* const* s, const uint16_t* pf);
void weighted_heads_f16_avx512(int64_t n, const float* const* s, int nh, int64_t n_rows,
                               const uint16_t* v, int64_t v_stride, float* const* out,
                               const uint16_t* pf);

// ---- quantized GEMM (gemm_avx2.cpp; call only when the AVX2 level is active) ----------------
// Weight types with a GEMM path. Rows are first "packed" (unpacked to plain int8/uint8 blocks
// plus float scales) into a panel, then multiplied with many activation rows in vec-dot format.
enum class GemmKind { kNone, kQ4_0, kQ5_0, kQ8_0, kQ4_K, kQ5_K, kQ6_K };
// Bytes of one packed row of n elements (0 for kNone).
size_t gemm_packed_row_bytes(GemmKind k, int64_t n);
// Rows per micro-kernel tile (panels are best a multiple of it).
int gemm_tile_rows(GemmKind k);
// Packs nr weight rows (row stride w_row bytes, n elements each) into dst.
void gemm_pack_avx2(GemmKind k, const uint8_t* w, size_t w_row, int64_t nr, int64_t n,
                    uint8_t* dst);
// Floats of per-activation-row extra data the kernel needs (legacy types: the n/32 activation
// scales as floats), and the
// function computing them from one activation row.
size_t gemm_x_extra_floats(GemmKind k, int64_t n);
void gemm_prepare_x_avx2(GemmKind k, int64_t n, const uint8_t* x, float* extra);
// y[c * ldy + r] = dot(packed row r, activation row c) for r < nr, c < nc; activation rows are
// vec-dot-format rows of n elements with stride x_row bytes; x_extra holds
// gemm_x_extra_floats(k, n) floats per activation row (contiguous, rows in order).
void gemm_packed_avx2(GemmKind k, int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x,
                      size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);

// ---- AVX-512 VNNI GEMM (gemm_avx512.cpp; call only when the AVX-512 level is active) --------
// Prefill of the legacy types: rows packed 16 at a time, interleaved so that one vpdpbusd
// covers 16 rows (K-quants: gemm_k_avx512.cpp); results as the level's vec_dot: Q4_0/Q5_0 and
// the K-quants in its block order (vec_dot_q4_0_blocks above), Q8_0 bit for bit
// vec_dot_q8_0_avx2.
bool gemm_vnni_supports(GemmKind k);  // every GemmKind: Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K
// Bytes of nr packed rows of n elements (rounded up to whole groups of 16 rows).
size_t gemm_vnni_packed_bytes(GemmKind k, int64_t n, int64_t nr);
void gemm_vnni_pack(GemmKind k, const uint8_t* w, size_t w_row, int64_t nr, int64_t n,
                    uint8_t* dst);
// Extra floats per activation row (per-block scales and integer terms of the activations).
size_t gemm_vnni_x_extra_floats(GemmKind k, int64_t n);
void gemm_vnni_prepare_x(GemmKind k, int64_t n, const uint8_t* x, float* extra);
// y[c * ldy + r] = dot(packed row r, activation row c) for r < nr, c < nc (as gemm_packed_avx2).
void gemm_vnni_packed(GemmKind k, int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x,
                      size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);

// ---- the interleaved layout (WeightLayout::kInterleaved16) ------------------------------------
// interleave.cpp has the public functions and dispatches per type; each type's group layout is
// described where its interleave_group_T / deinterleave_group_T are defined (Q4_0, Q5_0, Q8_0:
// interleave.cpp; Q4_K, Q5_K: interleave_k.cpp; Q6_K: interleave_q6_k.cpp).
constexpr int64_t kInterleaveRows = 16;
// Whether type t has the layout (any n_in that is a whole number of its blocks).
bool interleave_type(TensorType t);
// One group: 16 rows (row layout, w_row = tensor_row_size(t, n_in) bytes apart) -> g (16 *
// w_row bytes), and back.
void interleave_group(TensorType t, int64_t n_in, const uint8_t* rows, uint8_t* g);
void deinterleave_group(TensorType t, int64_t n_in, const uint8_t* g, uint8_t* rows);
void interleave_group_q4_0(int64_t n_in, const uint8_t* rows, uint8_t* g);
void deinterleave_group_q4_0(int64_t n_in, const uint8_t* g, uint8_t* rows);
void interleave_group_q5_0(int64_t n_in, const uint8_t* rows, uint8_t* g);
void deinterleave_group_q5_0(int64_t n_in, const uint8_t* g, uint8_t* rows);
void interleave_group_q8_0(int64_t n_in, const uint8_t* rows, uint8_t* g);
void deinterleave_group_q8_0(int64_t n_in, const uint8_t* g, uint8_t* rows);
void interleave_group_q6_k(int64_t n_in, const uint8_t* rows, uint8_t* g);
void deinterleave_group_q6_k(int64_t n_in, const uint8_t* g, uint8_t* rows);
// Q4_0, Q5_0, Q8_0 and Q6_K groups pair their blocks: per pair (2p, 2p + 1) both blocks' quants
// (`quants` bytes each), then both blocks' meta (scales, d: `meta` bytes each); with an odd block
// count the last block stands alone (quants, then meta). The byte offsets of block b's quants and
// meta in a group of nb blocks: the writers (interleave*.cpp) and the kernels share these. They
// have internal linkage (static), so each translation unit compiles its own copy (see the top of
// this file: no inline function is shared between ISA-flagged and baseline files).
struct IlvPaired {
  int64_t quants, meta;  // bytes per block of a group of 16 rows
};
constexpr IlvPaired kIlvQ4_0{256, 32};   // 16 rows x 16 bytes of nibbles; 16 fp16 d
constexpr IlvPaired kIlvQ5_0{320, 32};   // Q4_0's nibbles, then 16 rows x 4 bytes of qh; 16 d
constexpr IlvPaired kIlvQ8_0{512, 32};   // 16 rows x 32 bytes; 16 fp16 d
constexpr IlvPaired kIlvQ6K{3072, 288};  // per super-block: quants; 256 bytes of scales, 16 d
static inline int64_t ilv_quants_at(IlvPaired l, int64_t b) {
  return (b >> 1) * 2 * (l.quants + l.meta) + (b & 1) * l.quants;
}
static inline int64_t ilv_meta_at(IlvPaired l, int64_t nb, int64_t b) {
  const int64_t pair = (b >> 1) * 2 * (l.quants + l.meta);
  return (b | 1) < nb ? pair + 2 * l.quants + (b & 1) * l.meta : pair + l.quants;
}
void interleave_group_q4_k(int64_t n_in, const uint8_t* rows, uint8_t* g);
void deinterleave_group_q4_k(int64_t n_in, const uint8_t* g, uint8_t* rows);
void interleave_group_q5_k(int64_t n_in, const uint8_t* rows, uint8_t* g);
void deinterleave_group_q5_k(int64_t n_in, const uint8_t* g, uint8_t* rows);
// Byte offsets within one super-block of a Q4_K / Q5_K group (interleave_k.cpp), after its quants
// (at 0): the 16 rows' d, dmin and scales, and the super-block's bytes (16 * 144, 16 * 176).
struct IlvKLayout {
  int64_t d, dmin, scales, bytes;
};
constexpr IlvKLayout kIlvQ4K{2048, 2080, 2112, 2304};
constexpr IlvKLayout kIlvQ5K{2560, 2592, 2624, 2816};

// Panels and slices. The kernels walk an interleaved matrix in panels of ilv_panel_groups groups
// (an even number, about 256 KiB: the unit a prefill keeps in L2 over its tokens). For long rows
// (ilv_slicing: Q4_0 over 128 blocks) each panel of p groups is stored slice-major: its groups'
// blocks [0, S) one group after another, then blocks [S, 2S), ... (S = slice_blocks; the last
// slice may be shorter) -- a permutation of the plain groups' byte ranges, since a group holds
// its blocks' bytes in block order (pairs included, S even). The decode kernel then streams one
// sequence that meets only S blocks of activations at a time (they stay in L1; over a whole row
// they were evicted by the 80 KiB a group of 8960-wide rows streams in between). Panels count
// from the matrix's first row; the last one may have fewer groups. piece(g, s), group g's slice
// s in a panel of p groups, sits at byte (p * s * S + g * len(s)) * block_bytes of the panel.
int64_t ilv_panel_groups(TensorType t, int64_t n_in);
struct IlvSlicing {
  int64_t slice_blocks = 0;  // 0: plain groups
  int64_t panel_groups = 0;
};
IlvSlicing ilv_slicing(TensorType t, int64_t n_in);
// Group grp of an interleaved matrix of n_rows rows at w, in the plain group layout: where it
// stands in w, or (sliced) gathered from its panel's slices into scratch (16 rows' bytes).
const uint8_t* ilv_group(TensorType t, int64_t n_in, int64_t n_rows, const uint8_t* w, int64_t grp,
                         uint8_t* scratch);

// AVX-512 level (gemm_interleaved_avx512.cpp; call only when it is active): the activations'
// extra floats per token (x in vec_dot_type(t)), and y[c * ldy + r] for the nr rows (a multiple
// of 16) of interleaved w and nc tokens, bit for bit the level's vec_dot of row r (its block
// order). x_extra: interleaved_x_extra_floats per token, in token order.
size_t interleaved_x_extra_floats(TensorType t, int64_t n);
void interleaved_prepare_x(TensorType t, int64_t n, const uint8_t* x, float* extra);
void interleaved_vnni(TensorType t, int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                      size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);
// Q4_0's and Q5_0's kernel (gemm_interleaved_avx512.cpp), with gemm_vnni_prepare_x(kQ4_0)'s
// or (kQ5_0)'s extras.
void interleaved_vnni_q4_0(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);
void interleaved_vnni_q5_0(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);
// Q8_0's (gemm_avx512.cpp: its packed GEMM's lane-order kernel reading the interleaved layout),
// with gemm_vnni_prepare_x(kQ8_0)'s extras.
void interleaved_vnni_q8_0(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);
// Q6_K's kernel (gemm_interleaved_q6_k_avx512.cpp), with gemm_vnni_prepare_x(kQ6_K)'s extras.
void interleaved_vnni_q6_k(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);
// Q4_K's and Q5_K's (gemm_interleaved_k_avx512.cpp), with their own extras (x a Q8_K row; the
// same for both types).
size_t interleaved_x_extra_floats_k(int64_t n);
void interleaved_prepare_x_k(int64_t n, const uint8_t* x, float* extra);
void interleaved_vnni_q4_k(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);
void interleaved_vnni_q5_k(int64_t n, const uint8_t* w, int64_t nr, const uint8_t* x,
                           size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);

// stream_sum at the AVX-512 level (stream_avx512.cpp).
uint64_t stream_sum_avx512(const uint8_t* p, size_t n);

// ---- unpack-on-the-fly tiles (tile_avx2.cpp; call only when the AVX2 level is active) --------
// y[c * ldy + r] = vec_dot_T_avx2(n, w + r * w_row, x + c * x_row) bit for bit, for r < nr and
// c < nc, where T is the weight type of k: tiles of rows x tokens read each weight block
// straight from w (no packing pass) and reuse it for every token of the tile. For decode
// (nc == 1) and small batches. x_extra as for gemm_packed_avx2.
void tile_avx2(GemmKind k, int64_t n, const uint8_t* w, size_t w_row, int64_t nr, const uint8_t* x,
               size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);
// The same at the AVX-512 level (AVX-512 VNNI): Q8_0 bit for bit as tile_avx2 (its AVX2
// vec_dot), Q4_0/Q5_0 and the K-quants in the level's block order (vec_dot_q4_0_blocks above;
// K-quants with one token: tile_impl.h's 256-bit VNNI tiles, more: tile_vnni_k.h's 512-bit batch
// tiles).
void tile_avx512(GemmKind k, int64_t n, const uint8_t* w, size_t w_row, int64_t nr,
                 const uint8_t* x, size_t x_row, const float* x_extra, int64_t nc, float* y,
                 int64_t ldy);
// The tiles' x_extra: floats per activation row for a matmul of nc tokens at the AVX2
// (vnni = false) or AVX-512 level, and the function computing token t's part from its
// activation row x into x_extra, the extras of all nc tokens (tile_x_extra_floats each, in token
// order; tile_prepare_x_avx512 only when the AVX-512 level is active). A token's part may be
// interleaved with its neighbours' (the AVX-512 level's Q4_0/Q5_0 batches); tokens may be
// prepared in any order and concurrently.
// The buffer holds tile_x_extra_floats for nc rounded up to kTileTokenGroup tokens (the
// interleaved groups are whole).
constexpr int64_t kTileTokenGroup = 8;
size_t tile_x_extra_floats(GemmKind k, int64_t n, int64_t nc, bool vnni);
void tile_prepare_x_avx2(GemmKind k, int64_t n, int64_t nc, int64_t t, const uint8_t* x,
                         float* x_extra);
void tile_prepare_x_avx512(GemmKind k, int64_t n, int64_t nc, int64_t t, const uint8_t* x,
                           float* x_extra);

// ---- NEON versions (aarch64 only; *_neon.cpp baseline ARMv8-A, *_dotprod.cpp +dotprod) --------
// The quantized kernels form each block's integer sums exactly (the dotprod ones with sdot, the
// others with widening multiplies; the same integers) and then perform the scalar reference's
// float operations in its order; the float kernels accumulate in 4-lane FMA vectors.
// Row dot product of weight type t (every supported weight type), or null.
VecDotFn vec_dot_neon(TensorType t);
// The same with sdot for the quantized types (null for F32/F16/BF16: use vec_dot_neon's).
VecDotFn vec_dot_dotprod(TensorType t);
void quantize_q8_0_neon(const float* src, void* dst, int64_t n);  // bit-identical to quantize_q8_0
void quantize_q8_k_neon(const float* src, void* dst, int64_t n);  // bit-identical to quantize_q8_k
void axpy_f32_neon(int64_t n, float a, const float* x, float* y);
// out[i] = silu(gate[i]) * up[i] with ggml's vector exp (activation_neon.cpp); in place allowed.
void swiglu_f32_neon(const float* gate, const float* up, int64_t n, float* out);

// ---- SIMD levels of the target architecture (dispatch_x86.cpp, dispatch_arm64.cpp) ----------
// True when this build has level isa and the CPU runs it (false for kScalar and for the levels
// of other architectures).
bool cpu_supports(Isa isa);
// The SIMD row dot product for weight type t at level isa, or null (none, or another
// architecture's level).
VecDotFn simd_vec_dot(TensorType t, Isa isa);
// A SIMD quantizer for t at level isa bit-identical to the scalar one (the activation formats
// Q8_0 and Q8_K), or null.
QuantizeFn simd_quantize(TensorType t, Isa isa);
// A SIMD dequantizer for t at level isa bit-identical to the scalar one, or null.
DequantizeFn simd_dequantize(TensorType t, Isa isa);
// head_matmul's loops over one head's rows of a quantized type, dequantizing in registers, bit
// for bit the generic path at their level (head_matmul_avx512.cpp); cols a multiple of 32 (Q4_K:
// of 256):
// - xw: y[c] = sum over d < rows of x[d] * w[d][c] (y need not be zeroed);
// - wx: y[e] = dot(w[e], x) for e < rows.
using HeadRowsFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                            const float* x, float* y);
struct HeadRowFns {
  HeadRowsFn xw = nullptr, wx = nullptr;
};
HeadRowFns simd_head_rows(TensorType t, Isa isa);
void head_xw_q4_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y);
void head_xw_q8_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y);
void head_wx_q4_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y);
void head_wx_q8_0_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y);
void head_xw_q4_k_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y);
void head_wx_q4_k_avx512(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                         const float* x, float* y);
// y[i] += a * x[i] at level isa (attention's weighted sum of V rows), or null.
using AxpyFn = void (*)(int64_t n, float a, const float* x, float* y);
AxpyFn simd_axpy(Isa isa);
// out[i] = silu(gate[i]) * up[i] at level isa, as ggml_vec_swiglu_f32 computes it at that level
// (its vector exp, within 2 ulp of exp; scalar silu for the tail), or null (scalar level).
using SwigluFn = void (*)(const float* gate, const float* up, int64_t n, float* out);
SwigluFn simd_swiglu(Isa isa);
// kernels::softmax at level isa (the x86-64 levels; null elsewhere: norm.cpp's scalar loops with
// std::exp). The scale and the max go 8 or 16 floats at a time, with the scalar loop's values (a
// NaN never becomes the max; the max's sign at zero may differ, which no exp(x - max) sees); the
// exponentials as ggml_vec_soft_max_f32 computes them at that level (its vector exp, each
// vector's float sum added in double; std::exp for the tail); then the same multiply by
// 1 / sum per element.
using SoftmaxFn = void (*)(float* x, int64_t n, float scale);
SoftmaxFn simd_softmax(Isa isa);
// Softmax's first pass from element i on (every level: all of it for the scalar one, the tail
// for the SIMD ones): x[j] *= scale for j in [i, n), taken into max as std::fmax would (a NaN
// never becomes the max, without its library call). When everything is masked (max is -inf)
// every x becomes 0 (no mass anywhere; ggml would give NaN) and it returns false. Static, as
// ilv_quants_at: each translation unit compiles its own copy.
static inline bool softmax_scale_max(float* x, int64_t i, int64_t n, float scale, float& max) {
  for (; i < n; ++i) {
    x[i] *= scale;
    max = x[i] > max ? x[i] : max;
  }
  if (max != -__builtin_inff()) return true;
  for (i = 0; i < n; ++i) x[i] = 0.0f;
  return false;
}
void softmax_f32_avx2(float* x, int64_t n, float scale);
void softmax_f32_avx512(float* x, int64_t n, float scale);
// Attention's row loops at level isa (see dot_rows_f32_avx2 / weighted_rows_f32_avx2), bit for
// bit the loops of that level's F32 dot product and axpy; nulls where the level has none.
using DotRowsFn = void (*)(int64_t n, const float* k, int64_t k_stride, int64_t n_rows,
                           const float* const* q, int nq, float* const* s, const float* pf);
using WeightedRowsFn = void (*)(int64_t n, const float* s, int64_t n_rows, const float* v,
                                int64_t v_stride, float* out, const float* pf);
using WeightedHeadsFn = void (*)(int64_t n, const float* const* s, int nh, int64_t n_rows,
                                 const float* v, int64_t v_stride, float* const* out,
                                 const float* pf);
// The same over rows of IEEE halves (an f16 KV cache), widened exactly as loaded: the f32
// loops' results on the widened values, bit for bit.
using DotRowsF16Fn = void (*)(int64_t n, const uint16_t* k, int64_t k_stride, int64_t n_rows,
                              const float* const* q, int nq, float* const* s, const uint16_t* pf);
using WeightedHeadsF16Fn = void (*)(int64_t n, const float* const* s, int nh, int64_t n_rows,
                                    const uint16_t* v, int64_t v_stride, float* const* out,
                                    const uint16_t* pf);
struct AttentionRowFns {
  DotRowsFn dot_rows = nullptr;
  WeightedRowsFn weighted_rows = nullptr;
  WeightedHeadsFn weighted_heads = nullptr;  // several heads at once (the level has one or other)
  // f16 rows; where null, attention widens each block of rows for the f32 loops.
  DotRowsF16Fn dot_rows_f16 = nullptr;
  WeightedHeadsF16Fn weighted_heads_f16 = nullptr;
};
AttentionRowFns simd_attention_rows(Isa isa);

// The SIMD Q8_K quantizers' scalar step, for the 256 floats x of one block whose largest
// magnitude is amax: -127 / (the signed value of the first element of magnitude amax), as
// quantize_q8_k computes it; when amax is 0, writes the all-zero block and returns 0.
float q8_k_block_iscale(const float* x, float amax, void* block);

// Unpacks the 6-bit scale and min j (0..7) of a Q4_K/Q5_K block (ggml's get_scale_min_k4).
void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m);
// Unpacks the 16 6-bit Q3_K scales (still biased by 32) into out[16].
void unpack_q3_k_scales(const uint8_t* packed, int8_t* out);

}  // namespace dkb::kernels::detail
