// Attention over an f32 KV cache, contiguous or paged. The work items are (token, KV head)
// pairs, dealt out to the threads in turn (under a causal mask later tokens attend to more rows,
// so contiguous ranges left the first thread idle: prefill 512, a 1 : 3 split). An item runs
// the query heads that share its KV head together, in blocks of rows that stay in L1: each K
// and V row is read once per block for all of them, and each head's output stays in registers
// over a block (simd_attention_rows). Per (token, head) the float operations are those of one
// head alone: the level's F32 dot product per row, softmax, then the rows' axpy terms in row
// order. Scores go to a per-thread buffer that only grows, so steady-state calls do not
// allocate. A contiguous cache is walked as one page holding every row.
#include <algorithm>
#include <cstring>
#include <vector>

#include "base/status.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels {
namespace {

using detail::AxpyFn;

// Rows per block: 64 rows of a 128-wide head are 32 KiB of K or V.
constexpr int64_t kRowBlock = 64;
// Query heads per KV head handled together (more are done in several passes).
constexpr int kMaxGroup = 16;

void axpy_scalar(int64_t n, float a, const float* x, float* y) {
  for (int64_t d = 0; d < n; ++d) y[d] += a * x[d];
}

struct RowFns {
  VecDotKernel dot;
  AxpyFn axpy;
  detail::AttentionRowFns simd;

  // pf: the rows read next, to prefetch (kernels_internal.h), or nullptr; the levels without
  // row loops leave them to the hardware.
  void dot_rows(int64_t n, const float* k, int64_t k_stride, int64_t n_rows, const float* const* q,
                int nq, float* const* s, const float* pf) const {
    if (simd.dot_rows != nullptr) return simd.dot_rows(n, k, k_stride, n_rows, q, nq, s, pf);
    for (int64_t j = 0; j < n_rows; ++j) {
      for (int g = 0; g < nq; ++g) s[g][j] = dot(n, k + j * k_stride, q[g]);
    }
  }
  // out[g] += sum over rows j of s[g][j] * v_j for the nh heads g (each head's elements take
  // their terms in row order, whichever loop the level has).
  void weighted_heads(int64_t n, const float* const* s, int nh, int64_t n_rows, const float* v,
                      int64_t v_stride, float* const* out, const float* pf) const {
    if (simd.weighted_heads != nullptr) {
      return simd.weighted_heads(n, s, nh, n_rows, v, v_stride, out, pf);
    }
    for (int g = 0; g < nh; ++g) {
      if (simd.weighted_rows != nullptr) {  // the first head prefetches
        simd.weighted_rows(n, s[g], n_rows, v, v_stride, out[g], g == 0 ? pf : nullptr);
        continue;
      }
      for (int64_t j = 0; j < n_rows; ++j) axpy(n, s[g][j], v + j * v_stride, out[g]);
    }
  }
};

// Rows read next: a block of nj rows from position pos prefetches the rows from pos + kAheadRows
// (at least pos + nj), two pages of 16 ahead. Pages are not contiguous, so the hardware
// prefetcher does not run ahead of them. Decode at 4096 positions (attention_bench --kv 4096
// --huge: 12 heads over 2 KV heads of 128, 28 layers cold, µs per layer), before -> after: two
// threads 392-470 -> 226-266; one thread over one KV head of 6 heads 298-311 -> 158-162 (hot,
// from L3: ~135 either way). A whole page prefetched at once before its rows, not spread
// over the row loops: 383 -> 357 (two threads).
constexpr int64_t kAheadRows = 32;

// Where KV head hk's rows from position pos (nj of them, all in one page) are in K or V (base,
// page_stride, the head's offset, row stride), or nullptr when they are past n_rows or span
// two pages.
const float* rows_at(const AttentionArgs& a, const float* base, int64_t page_stride,
                     int64_t head_off, int64_t row, int64_t pos, int64_t nj, int64_t n_rows) {
  if (pos + nj > n_rows) return nullptr;
  if (a.page_table == nullptr) return base + head_off + pos * row;
  const int64_t at = pos % a.page_size;
  if (at + nj > a.page_size) return nullptr;
  return base + a.page_table[pos / a.page_size] * page_stride + head_off + at * row;
}

// Query heads [h0, h0 + ng) of token t, which share KV head hk.
void attend_group(const AttentionArgs& a, const RowFns& fns, int64_t t, int64_t hk, int64_t h0,
                  int ng, std::vector<float>& scores) {
  int64_t n_rows = a.n_kv;
  if (a.causal) n_rows = std::min<int64_t>(a.n_kv, static_cast<int64_t>(a.q_pos[t]) + 1);
  const float* q[kMaxGroup];
  float* out[kMaxGroup];
  float* s[kMaxGroup];
  for (int g = 0; g < ng; ++g) {
    q[g] = a.q + (t * a.n_head + h0 + g) * a.head_dim_k;
    out[g] = a.out + (t * a.n_head + h0 + g) * a.head_dim_v;
    std::memset(out[g], 0, static_cast<size_t>(a.head_dim_v) * sizeof(float));
  }
  if (n_rows <= 0) return;
  const size_t need = static_cast<size_t>(n_rows) * static_cast<size_t>(ng);
  if (scores.size() < need) scores.resize(need);
  for (int g = 0; g < ng; ++g) s[g] = scores.data() + g * n_rows;

  const bool paged = a.page_table != nullptr;
  const int64_t page = paged ? a.page_size : n_rows;
  const int64_t k_row = a.k_row_stride > 0 ? a.k_row_stride : a.n_head_kv * a.head_dim_k;
  const int64_t v_row = a.v_row_stride > 0 ? a.v_row_stride : a.n_head_kv * a.head_dim_v;
  const int64_t k_off = hk * (a.k_head_stride > 0 ? a.k_head_stride : a.head_dim_k);
  const int64_t v_off = hk * (a.v_head_stride > 0 ? a.v_head_stride : a.head_dim_v);
  float* sb[kMaxGroup];
  for (int64_t p0 = 0; p0 < n_rows; p0 += page) {
    const int64_t n = std::min(page, n_rows - p0);
    const float* k = (paged ? a.k + a.page_table[p0 / page] * a.k_page_stride : a.k) + k_off;
    for (int64_t j0 = 0; j0 < n; j0 += kRowBlock) {
      const int64_t nj = std::min(kRowBlock, n - j0);
      const float* pf = rows_at(a, a.k, a.k_page_stride, k_off, k_row,
                                p0 + j0 + std::max(kAheadRows, nj), nj, n_rows);
      for (int g = 0; g < ng; ++g) sb[g] = s[g] + p0 + j0;
      fns.dot_rows(a.head_dim_k, k + j0 * k_row, k_row, nj, q, ng, sb, pf);
    }
  }
  for (int g = 0; g < ng; ++g) softmax(s[g], n_rows, a.scale);
  for (int64_t p0 = 0; p0 < n_rows; p0 += page) {
    const int64_t n = std::min(page, n_rows - p0);
    const float* v = (paged ? a.v + a.page_table[p0 / page] * a.v_page_stride : a.v) + v_off;
    for (int64_t j0 = 0; j0 < n; j0 += kRowBlock) {
      const int64_t nj = std::min(kRowBlock, n - j0);
      const float* pf = rows_at(a, a.v, a.v_page_stride, v_off, v_row,
                                p0 + j0 + std::max(kAheadRows, nj), nj, n_rows);
      for (int g = 0; g < ng; ++g) sb[g] = s[g] + p0 + j0;
      fns.weighted_heads(a.head_dim_v, sb, ng, nj, v + j0 * v_row, v_row, out, pf);
    }
  }
}

}  // namespace

void attention(ThreadPool& pool, const AttentionArgs& a) {
  attention(pool, std::span<const AttentionArgs>(&a, 1));
}

void attention(ThreadPool& pool, std::span<const AttentionArgs> calls) {
  // Items are (token, KV head, part) triples, call by call; first[c]: call c's first item. A
  // part is a share of the KV head's query heads: all of them, unless there are fewer (token, KV
  // head) pairs than threads (decode with one KV head: MQA, MLA), when they are split over the
  // threads. Each query head's operations are the same either way.
  thread_local std::vector<int64_t> first, parts;
  const int n_threads = pool.n_threads();
  int64_t pairs = 0;
  for (const AttentionArgs& a : calls) {
    DKB_CHECK(a.n_head_kv > 0 && a.n_head % a.n_head_kv == 0);
    DKB_CHECK(!a.causal || a.q_pos != nullptr);
    DKB_CHECK(a.page_table == nullptr || a.page_size > 0);
    DKB_CHECK(a.k_row_stride == 0 || a.k_row_stride >= a.head_dim_k);
    DKB_CHECK(a.v_row_stride == 0 || a.v_row_stride >= a.head_dim_v);
    pairs += std::max<int64_t>(0, a.n_tokens) * a.n_head_kv;
  }
  first.assign(1, 0);
  parts.clear();
  for (const AttentionArgs& a : calls) {
    const int64_t group = a.n_head / a.n_head_kv;
    parts.push_back(pairs < n_threads ? std::min<int64_t>(group, n_threads) : 1);
    first.push_back(first.back() + std::max<int64_t>(0, a.n_tokens) * a.n_head_kv * parts.back());
  }
  const int64_t total = first.back();
  if (total <= 0) return;
  const AxpyFn simd_axpy = detail::simd_axpy(active_isa());
  const RowFns fns{vec_dot_kernel(TensorType::kF32, active_isa()),
                   simd_axpy != nullptr ? simd_axpy : axpy_scalar,
                   detail::simd_attention_rows(active_isa())};
  struct Ctx {
    std::span<const AttentionArgs> calls;
    const int64_t* first;
    const int64_t* parts;
    const RowFns* fns;
    int64_t total;
  } ctx{calls, first.data(), parts.data(), &fns, total};
  pool.run([&ctx](int ith, int nth) {
    thread_local std::vector<float> scores;
    size_t c = 0;
    for (int64_t i = ith; i < ctx.total; i += nth) {
      while (i >= ctx.first[c + 1]) ++c;
      const AttentionArgs& args = ctx.calls[c];
      const int64_t n_parts = ctx.parts[c];
      const int64_t item = i - ctx.first[c];
      const int64_t pair = item / n_parts, part = item % n_parts;
      const int64_t group = args.n_head / args.n_head_kv;
      const int64_t t = pair / args.n_head_kv, hk = pair % args.n_head_kv;
      const auto [p0, p1] = ThreadPool::split(group, static_cast<int>(part),
                                              static_cast<int>(n_parts));
      for (int64_t g0 = p0; g0 < p1; g0 += kMaxGroup) {
        const int ng = static_cast<int>(std::min<int64_t>(kMaxGroup, p1 - g0));
        attend_group(args, *ctx.fns, t, hk, hk * group + g0, ng, scores);
      }
    }
  });
}

}  // namespace dkb::kernels
