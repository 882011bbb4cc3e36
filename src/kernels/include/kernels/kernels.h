// Compute kernels: GGUF-compatible tensor types and the ops of a transformer forward pass.
//
// Semantics follow ggml's CPU backend (llama.cpp build 4748) so results match its outputs:
// in particular a matmul first converts the activations to the weight type's "vec-dot type"
// (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for K-quants, F16 for F16, BF16 for
// BF16, F32 for F32) and then takes dot products in that pair of formats.
//
// Layout conventions (ggml order): a weight matrix of shape [n_in, n_out] is n_out rows of
// n_in elements each, every row tensor_row_size(type, n_in) bytes, rows contiguous.
// Activations are row-major float arrays [n_tokens][n].
//
// Every function is a pure function of its arguments. The *_rows variants are not threaded;
// matmul() splits its work over the ThreadPool. Runtime dispatch picks SIMD code the CPU has
// (x86-64: AVX2+FMA+F16C, AVX-512; aarch64: NEON, NEON+dotprod), scalar reference code
// otherwise; all give the same results up to float summation order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/tensor_type.h"
#include "base/thread_pool.h"

namespace dkb::kernels {

// ---- scalar conversions ------------------------------------------------------------------
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);  // round to nearest even, like ggml
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);  // round to nearest even, NaN preserved, like ggml

// ---- type support --------------------------------------------------------------------------
// True when dequantize/vec_dot support weight type t (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).
bool is_supported_weight_type(TensorType t);
// The activation format a dot product with weight type t uses (see above).
TensorType vec_dot_type(TensorType weight_type);

// Dequantizes n elements (multiple of the block size) of type t into dst: ggml's values, the same
// bits at every level (SIMD at the x86-64 levels for F16, BF16, Q4_0, Q8_0, Q4_K and Q6_K).
void dequantize_row(TensorType t, const void* src, float* dst, int64_t n);
// Quantizes n floats (a multiple of t's block size) to type t. Supported targets (see
// can_quantize): F32, F16, BF16, Q8_0, Q8_1, Q8_K (the vec-dot types) and Q4_0, Q4_1, Q5_0,
// Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (weight quantizers: `deepkb quantize`, load-time
// quantization, tests). Output is bit-identical to ggml's quantize_row_*_ref, which is what
// llama.cpp's quantizer writes when it has no importance matrix (K-quants included: the
// make_qx/q3/qkx2 scale searches are reproduced operation by operation). Rows are independent,
// so callers may split a tensor by rows over threads. Unsupported t: DKB_CHECK.
// Note: ggml's own AVX2 builds quantize Q8_0/Q8_1 activations with 127/amax and
// round-half-even instead, so a rare element can differ by one quantum from llama.cpp running
// on an AVX2 CPU (activations only; weights always use the reference path).
void quantize_row(TensorType t, const float* src, void* dst, int64_t n);
// True when quantize_row supports target type t.
bool can_quantize(TensorType t);
// Dot product of one weight row (type t) with one activation row already in vec_dot_type(t).
float vec_dot(TensorType t, int64_t n, const void* w_row, const void* x_row);

// ---- dispatch -----------------------------------------------------------------------------
// Instruction-set level of the kernels. kScalar is the reference code, on every architecture;
// the others exist on one architecture each, where each includes the one before:
// - x86-64:
//   - kAvx2: AVX2+FMA+F16C;
//   - kAvx512: kAvx2 plus AVX-512 F/BW/VL/VNNI (vpdpbusd/vpdpwssd), used by matmul's tiles
//     (decode, batched decode, short prompts) and GEMMs (prefill) for Q4_0/Q5_0/Q8_0 and the
//     K-quants; everything else runs the AVX2 code. Q8_0 gives kAvx2's results bit for bit;
//     Q4_0/Q5_0 and the K-quants follow the block order (per block the exact integer dot
//     product, then the scalar reference's float operations; Q4_0 with dw * dx first), ~1.7-2x
//     the prefill speed of kAvx2's lane order. Either way every path of the level agrees
//     bit for bit (vec_dot_kernel gives that level's row kernel).
// - aarch64 (NEON is part of ARMv8-A):
//   - kNeon: NEON row dot products for every weight type, Q8_0/Q8_K activation quantizers
//     (bit-identical to the scalar ones) and attention's axpy; matmul takes the per-row path;
//   - kNeonDot: kNeon with sdot (the dotprod extension, Linux HWCAP_ASIMDDP) for the
//     quantized dot products; the same integer sums, so results are bit-identical to kNeon's.
// Levels of the other architecture are never available.
// The active level is chosen once: the best the CPU has, capped by the environment (a variable
// counts when set and not "0"): DKB_FORCE_SCALAR forces kScalar, DKB_FORCE_AVX2 caps at kAvx2,
// DKB_FORCE_NEON caps at kNeon.
enum class Isa { kScalar, kAvx2, kAvx512, kNeon, kNeonDot };
bool isa_available(Isa isa);
Isa active_isa();
// Overrides the active level (tests, benchmarks). isa must be available (DKB_CHECK). Must not
// race with running kernels.
void set_active_isa(Isa isa);
// A dot-product kernel for weight type t at a given level: fn(n, w_row, x_row) (kAvx512: the
// AVX2 kernel, except the block order's scalar-code kernels for Q4_0/Q5_0 and the K-quants;
// kNeonDot: kNeon's for F32/F16/BF16). A level this build lacks (another
// architecture's): DKB_CHECK.
using VecDotKernel = float (*)(int64_t n, const void* w_row, const void* x_row);
VecDotKernel vec_dot_kernel(TensorType t, Isa isa);
// vec_dot at a given level (isa must be available).
float vec_dot_with(Isa isa, TensorType t, int64_t n, const void* w_row, const void* x_row);

// ---- weight layouts ---------------------------------------------------------------------------
// kRows: the GGUF layout, one row after another. kInterleaved16: rows in groups of 16 whose blocks
// are interleaved so that one 512-bit load holds 4 quants of each of the 16 rows (interleave.cpp
// and interleave_q6_k.cpp, interleave_k.cpp have the byte layouts): the same bytes in another
// order, so a loader rewrites a matrix in place. The AVX-512 level multiplies it with one kernel
// for every token count (no packing pass, no horizontal sums); other levels de-interleave 16 rows
// at a time (correct, slower). Long rows (a group over two slices of 13-18 KiB by type, e.g.
// Q4_0 over 128 blocks; not Q8_0) store each panel of groups slice by slice, so that decode
// meets a few KiB of activations at a time (kernels_internal.h); DKB_NO_SLICE=1 in the
// environment keeps the plain groups (to measure).
enum class WeightLayout : uint8_t { kRows, kInterleaved16 };
// Whether the layout exists for a matrix of n_rows rows of n_in elements of type t (Q4_0, Q5_0,
// Q8_0, Q4_K, Q5_K, Q6_K; n_rows a multiple of 16), and whether a loader should use it: at the AVX-512
// level, unless the environment sets DKB_NO_INTERLEAVE=1 (to measure the row layout).
bool interleave_supported(TensorType t, int64_t n_in, int64_t n_rows);
bool interleave_pays(TensorType t, int64_t n_in, int64_t n_rows);
// In place: rows -> kInterleaved16, and back (requires interleave_supported). The layout of a
// matrix depends on its n_rows (long rows are stored in panels of groups counted from its first
// row), so a 3-D tensor of experts is rewritten one expert's matrix at a time, and matmul reads
// each with the n_out it was rewritten with.
void interleave_rows(TensorType t, int64_t n_in, int64_t n_rows, void* data);
void deinterleave_rows(TensorType t, int64_t n_in, int64_t n_rows, void* data);

// A streaming-read probe: a checksum of [p, p + n) (64-bit lane sums of 64-byte vectors plus the
// tail bytes; only its dependence on every byte matters), read with the widest loads of the
// active level and a prefetch, as the decode kernels read weights (deepkb bench's bandwidth).
uint64_t stream_sum(const void* p, size_t n);

// Reusable scratch memory for matmul (grows, never shrinks; not thread-safe).
struct MatmulScratch {
  std::vector<uint8_t> buf;     // activations in vec-dot format
  std::vector<uint8_t> panels;  // per-thread packed weight panels (GEMM path)
};

// y[t][o] = sum_i W[o][i] * x[t][i] for t < n_tokens, o < n_out. W has type wtype, in layout
// `layout` (kInterleaved16 requires interleave_supported). x is first converted to
// vec_dot_type(wtype) into scratch (threaded over tokens), then output rows are split over the
// pool's threads. At the AVX2 and AVX-512 levels, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K and Q6_K weights
// in the row layout take one of two tiled paths:
// - up to 16 tokens (AVX2) or 16-48 by type (AVX-512) (decode, batched decode):
//   unpack-on-the-fly tiles of rows x tokens read every weight block once, straight from W (no
//   copy), with a software prefetch, and reuse it for all tokens of the tile;
// - more tokens (prefill): a register-blocked GEMM that first unpacks a panel of rows to int8.
// Interleaved weights take one AVX-512 kernel per type for every token count (other levels
// de-interleave 16 rows at a time). Otherwise (scalar and NEON levels, other types) each thread
// reuses a tile of weight rows for all tokens with vec_dot (whole tokens per thread when n_out is
// small). On every path and layout y[t][o] equals vec_dot(wtype, n_in, W[o], quantize(x[t])) at
// the active level bit for bit (the AVX-512 level: its block order for Q4_0, Q5_0 and the
// K-quants, the AVX2 vec_dot's lane order for Q8_0; kernels_internal.h), so a token's results
// never depend on the batch it runs in. n_in must be a multiple of the block size of wtype and of
// its vec-dot type. No allocation once scratch has grown.
// x: [n_tokens][n_in] floats; y: [n_tokens][n_out] floats (row stride n_out).
void matmul(ThreadPool& pool, MatmulScratch& scratch, TensorType wtype, const void* w, int64_t n_in,
            int64_t n_out, const float* x, int64_t n_tokens, float* y,
            WeightLayout layout = WeightLayout::kRows);

// One weight of matmul_shared_input: y[t][o] = sum_i W[o][i] * x[t][i], o < n_out, W of type wtype.
struct MatmulTarget {
  TensorType wtype;
  const void* w;
  int64_t n_out;
  float* y;  // [n_tokens][n_out]
  WeightLayout layout = WeightLayout::kRows;
};
// matmul(x, W) for each target, with the same input x ([n_tokens][n_in]): the attention's q, k,
// v, the FFN's gate and up, or the gates and ups of the experts a token selects. Results bit for
// bit those of matmul() per target. When all (2 to 16) take the tile path with the same
// activation format (or all are interleaved), x is quantized once and all weights' rows are split
// over the threads in one pool run (one barrier per token and layer instead of one per weight);
// otherwise matmul() runs per target.
void matmul_shared_input(ThreadPool& pool, MatmulScratch& scratch,
                         std::span<const MatmulTarget> targets, int64_t n_in, const float* x,
                         int64_t n_tokens);

// One matmul of matmul_batch, with its own input: y[t][o] = sum_i W[o][i] * x[t][i].
struct MatmulTask {
  TensorType wtype;
  const void* w;
  int64_t n_in, n_out;
  const float* x;  // [n_tokens][n_in]
  float* y;        // [n_tokens][n_out]
  WeightLayout layout = WeightLayout::kRows;
};
// matmul() for each task (up to 16), each over its own input: the down projections of the
// experts a token selects. Results bit for bit those of matmul() per task. When all take the tile
// path, or all the interleaved kernels (not sliced), each input is quantized into its own part of
// scratch and all tasks' rows are split over the threads in one pool run; otherwise matmul()
// runs per task. y must not overlap any x.
void matmul_batch(ThreadPool& pool, MatmulScratch& scratch, std::span<const MatmulTask> tasks,
                  int64_t n_tokens);

// ---- per-head products (multi-head latent attention's absorbed projections) ------------------
// n_head blocks of rows x cols weights of type `type` (any dequantize_row type) in the row
// layout, rows of tensor_row_size(type, cols) bytes: block h's row d is row h * head_stride + d
// counted from `data`.
struct HeadWeights {
  TensorType type = TensorType::kF32;
  const void* data = nullptr;
  int64_t n_head = 0, rows = 0, cols = 0;
  int64_t head_stride = 0;  // rows, >= rows
};
// Where token t's vector for head h starts: base + t * token + h * head (floats).
struct HeadStrides {
  int64_t token = 0, head = 0;
};
// For every token t < n_tokens and head h, in f32 with no conversion of x, each row of W first
// dequantized (dequantize_row's values; all heads in one pool run, threads taking whole heads,
// so results do not depend on the thread count):
// - head_matmul_xw: y[t][h] (cols values) = x[t][h] (rows values) times W[h]: zero, then
//   + x[t][h][d] * row d of W[h] for d = 0 .. rows-1 in turn (the level's axpy);
// - head_matmul_wx: y[t][h][e] = vec_dot(F32, cols, row e of W[h], x[t][h]) for e < rows.
// (At the AVX-512 level Q4_0, Q8_0 and Q4_K rows are dequantized in registers.)
// So the results are those of the same products over the dequantized matrix, bit for bit.
// y must not overlap x or w. No allocation once each thread has met the widest row.
void head_matmul_xw(ThreadPool& pool, const HeadWeights& w, const float* x, HeadStrides xs,
                    float* y, HeadStrides ys, int64_t n_tokens);
void head_matmul_wx(ThreadPool& pool, const HeadWeights& w, const float* x, HeadStrides xs,
                    float* y, HeadStrides ys, int64_t n_tokens);

// ---- elementwise / normalisation ----------------------------------------------------------
// out = x / sqrt(mean(x^2) + eps) * w   (w may be null: no scale). In-place allowed.
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* out);
// rms_norm of `rows` rows: x row r at x + r * stride_in, out row r at out + r * stride_out. The
// same bits as rms_norm row by row (each row's double sum in element order); rows are summed
// several at a time, so their sums' chains overlap. In-place allowed (same strides).
void rms_norm_rows(const float* x, int64_t stride_in, const float* w, int64_t rows, int64_t n,
                   float eps, float* out, int64_t stride_out);
// out = (x - mean) / sqrt(var + eps) * w + b   (w, b may be null). In-place allowed.
void layer_norm(const float* x, const float* w, const float* b, int64_t n, float eps, float* out);
// In-place softmax over n values, after multiplying by scale. The exponentials at the x86-64 SIMD
// levels as ggml_vec_soft_max_f32 takes them there (its vector exp, within 2 ulp; each vector's
// float sum added in double), elsewhere std::exp summed in double.
void softmax(float* x, int64_t n, float scale = 1.0f);
float silu(float x);
// GELU, tanh approximation 0.5*x*(1+tanh(sqrt(2/pi)*x*(1+0.044715*x^2))), evaluated in f32.
// (ggml by default reads it from an fp16 table, i.e. rounds x and the result to fp16.)
float gelu(float x);
// out[i] = silu(gate[i]) * up[i]. At the scalar level with silu() itself; at the SIMD levels
// with ggml's vector exp (ARM optimized-routines expf, within 2 ulp of exp) in the vector part,
// as ggml_vec_swiglu_f32 computes it at that level, and silu() for the last n mod width values.
void swiglu(const float* gate, const float* up, int64_t n, float* out);
// The same split over the pool's threads when n is large (prefill: T * n_ff values); the same
// results. In-place (out == gate) allowed.
void swiglu(ThreadPool& pool, const float* gate, const float* up, int64_t n, float* out);

// ---- rotary position embedding --------------------------------------------------------------
struct RopeParams {
  int n_dims = 0;     // rotated dimensions per head (<= head_dim)
  bool neox = false;  // NeoX style (pairs i, i+n_dims/2) vs normal (pairs 2i, 2i+1)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;  // 1 / linear scaling factor
  // YaRN (ggml_rope_ext semantics); ext_factor 0 disables.
  int n_ctx_orig = 0;
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  // Optional per-pair frequency divisors [n_dims / 2] (ggml_rope_ext's freq_factors, e.g.
  // Llama 3 long-context scaling); null means all 1.
  const float* freq_factors = nullptr;
};
// Rotates x in place: x is [n_tokens][n_heads][head_dim]; token t has position pos[t].
// Dimensions n_dims..head_dim-1 are left unchanged. Requires 0 < n_dims <= min(head_dim, 1024),
// n_dims even (DKB_CHECK). Angles are built like ggml_rope_cache_init (theta multiplied by
// freq_base^(-2/n_dims) once per pair, in f32), so results match ggml to the last bit of theta.
void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& p);
// rope() in two steps, so that the angles are computed once for all layers and for both q and
// k: rope_table writes the cos, sin of every pair for each token, table[n_tokens][p.n_dims]
// (pair i: [2i] cos, [2i + 1] sin); rope_with_table rotates x with it. Together they give
// rope()'s results bit for bit. n_dims as for rope().
constexpr int64_t kRopeMaxDims = 1024;
void rope_table(const int32_t* pos, int64_t n_tokens, const RopeParams& p, float* table);
void rope_with_table(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                     const float* table, const RopeParams& p);

// ---- attention --------------------------------------------------------------------------------
// Multi-head attention with grouped KV heads over a KV cache that is either contiguous or paged:
//   q:   [n_tokens][n_head][head_dim_k]
//   k:   [n_kv][n_head_kv][head_dim_k]      (cache rows 0..n_kv-1)
//   v:   [n_kv][n_head_kv][head_dim_v]
//   out: [n_tokens][n_head][head_dim_v]
// Paged (page_table != null): cache row j lives in page page_table[j / page_size], row
// j % page_size of it; that page's K rows start at k + page_table[..] * k_page_stride floats
// (V likewise with v_page_stride), rows within a page are contiguous as above. The kernel
// walks the pages in place: no gathered copy of the history.
// Query token t may attend to cache rows j with j <= q_pos[t] when causal (cache row j holds
// position j), to all rows otherwise. scores = q·k * scale, softmax in f32.
// Head h uses KV head h / (n_head / n_head_kv). Threaded over (token, head). A causal query with
// q_pos[t] < 0 sees no rows and gets zeros. Scratch is per worker thread and only grows.
struct AttentionArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  int64_t n_tokens = 0, n_kv = 0, n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
  const int32_t* q_pos = nullptr;
  bool causal = true;
  float scale = 1.0f;
  const int32_t* page_table = nullptr;           // null: contiguous
  int64_t page_size = 0;                         // rows per page (> 0 when paged)
  int64_t k_page_stride = 0, v_page_stride = 0;  // floats from one page to the next
  // Floats from one cache row to the next; 0: n_head_kv * head_dim (rows packed). K and V may
  // share rows (MLA: V is the last head_dim_v floats of each K row).
  int64_t k_row_stride = 0, v_row_stride = 0;
  // Floats from KV head h's part of a row (or a page's rows) to head h + 1's; 0: head_dim (the
  // heads side by side in each row). A head-major page: page_size * head_dim.
  int64_t k_head_stride = 0, v_head_stride = 0;
  // An f16 cache (IEEE half; k and v null, both of these set): the same layout, every stride
  // above counting halves instead of floats. The results are bit for bit those of an f32 cache
  // holding the same values (each block of rows is widened exactly before the f32 row loops).
  const uint16_t* k16 = nullptr;
  const uint16_t* v16 = nullptr;
};
void attention(ThreadPool& pool, const AttentionArgs& a);
// Several independent attentions (the sequences of a batched decode step) in one pool run, their
// (token, KV head) items dealt out together: each call's results bit for bit attention()'s.
void attention(ThreadPool& pool, std::span<const AttentionArgs> calls);

}  // namespace dkb::kernels
