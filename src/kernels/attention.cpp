// Attention over an f32 or f16 KV cache, contiguous or paged. The work items are (tokens, KV head)
// pairs, a few consecutive tokens of a call each, dealt out to the threads in turn (under a
// causal mask later tokens attend to more rows, so contiguous ranges left the first thread idle:
// prefill 512, a 1 : 3 split). An item runs the query heads of its tokens that share its KV head
// together, in blocks of rows that stay in L1: each K and V row is read once per block for all
// of them, and each head's output stays in registers over a block (simd_attention_rows). Per
// (token, head) the float operations are those of one head alone: the level's F32 dot product per
// row, softmax, then the rows' axpy terms in row order. Scores go to a per-thread buffer that only
// grows, so steady-state calls do not allocate. A contiguous cache is walked as one page holding
// every row. An f16 cache's rows are widened to f32 (exactly) as the row loops load them, or a
// block at a time before them where the level has no f16 loops: its results are an f32 cache's
// holding the same values, bit for bit.
#include <algorithm>
#include <cstring>
#include <vector>

#include "base/status.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels {
namespace {

using detail::AxpyFn;
using detail::DequantizeFn;

// Rows per block: 64 rows of a 128-wide head are 32 KiB of K or V.
constexpr int64_t kRowBlock = 64;
// Query heads per KV head handled together (more are done in several passes).
constexpr int kMaxGroup = 16;
// Tokens handled together (prefill): up to kMaxTokens, as many as keep their queries of one KV
// head within kMaxQueries, so each K and V row is read once for them all (from L1) rather than
// once per token (from L2 or L3). 1.5B Q4_0, pp512 @ d4096, 2 threads: 162-175 -> 176-191 t/s
// (5 tokens x 6 heads per item).
constexpr int kMaxTokens = 8, kMaxQueries = 32;

void axpy_scalar(int64_t n, float a, const float* x, float* y) {
  for (int64_t d = 0; d < n; ++d) y[d] += a * x[d];
}

struct RowFns {
  VecDotKernel dot;
  AxpyFn axpy;
  detail::AttentionRowFns simd;
  DequantizeFn widen;  // f16 rows to f32 (the level's)

  // pf: the rows read next, to prefetch (kernels_internal.h), or nullptr; the levels without
  // row loops leave them to the hardware.
  void dot_rows(int64_t n, const float* k, int64_t k_stride, int64_t n_rows, const float* const* q,
                int nq, float* const* s, const float* pf) const {
    if (simd.dot_rows != nullptr) return simd.dot_rows(n, k, k_stride, n_rows, q, nq, s, pf);
    for (int64_t j = 0; j < n_rows; ++j) {
      for (int g = 0; g < nq; ++g) s[g][j] = dot(n, k + j * k_stride, q[g]);
    }
  }
  // The same over f16 rows (pf: f16 rows too): the level's f16 loops, or else the rows widened
  // into buf (n floats apart; pf's rows requested line by line as they go) for the f32 ones.
  // Either way the f32 loops' bits on the widened values.
  void dot_rows(int64_t n, const uint16_t* k, int64_t k_stride, int64_t n_rows,
                const float* const* q, int nq, float* const* s, const uint16_t* pf,
                std::vector<float>& buf) const {
    if (simd.dot_rows_f16 != nullptr) {
      return simd.dot_rows_f16(n, k, k_stride, n_rows, q, nq, s, pf);
    }
    dot_rows(n, widen_rows(n, k, k_stride, n_rows, pf, buf), n, n_rows, q, nq, s, nullptr);
  }
  void dot_rows(int64_t n, const float* k, int64_t k_stride, int64_t n_rows, const float* const* q,
                int nq, float* const* s, const float* pf, std::vector<float>&) const {
    dot_rows(n, k, k_stride, n_rows, q, nq, s, pf);
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
  void weighted_heads(int64_t n, const float* const* s, int nh, int64_t n_rows, const uint16_t* v,
                      int64_t v_stride, float* const* out, const uint16_t* pf,
                      std::vector<float>& buf) const {
    if (simd.weighted_heads_f16 != nullptr) {
      return simd.weighted_heads_f16(n, s, nh, n_rows, v, v_stride, out, pf);
    }
    weighted_heads(n, s, nh, n_rows, widen_rows(n, v, v_stride, n_rows, pf, buf), n, out, nullptr);
  }
  void weighted_heads(int64_t n, const float* const* s, int nh, int64_t n_rows, const float* v,
                      int64_t v_stride, float* const* out, const float* pf,
                      std::vector<float>&) const {
    weighted_heads(n, s, nh, n_rows, v, v_stride, out, pf);
  }

 private:
  // n_rows rows of n halves (stride apart) as floats in buf, n apart.
  const float* widen_rows(int64_t n, const uint16_t* rows, int64_t stride, int64_t n_rows,
                          const uint16_t* pf, std::vector<float>& buf) const {
    if (buf.size() < static_cast<size_t>(n_rows * n)) buf.resize(static_cast<size_t>(n_rows * n));
    for (int64_t j = 0; j < n_rows; ++j) {
      if (pf != nullptr) {
        const char* p = reinterpret_cast<const char*>(pf + j * stride);
        for (int64_t b = 0; b < n * 2; b += 64) __builtin_prefetch(p + b);
      }
      widen(rows + j * stride, buf.data() + j * n, n);
    }
    return buf.data();
  }
};

// Rows read next: a block of nj rows from position pos prefetches the rows from pos + kAheadRows
// (at least pos + nj), the next page of 16. Pages are not contiguous, so the hardware prefetcher
// does not run ahead of them. attention_bench --kv 4096 --huge (12 heads over 2 KV heads of 128,
// 28 layers cold), µs per layer: two threads 392-470 without the prefetch, 226-266 with it (a
// whole page requested at once before its rows, not spread over the row loops: 357); one thread
// over one KV head of 6 heads 298-311 -> 137-139 (hot, from L3: ~135 either way). Distance, that
// one thread: 16 rows 137-139, 32 rows 144-149, 48-128 rows 166-180; two threads the same at all.
constexpr int64_t kAheadRows = 16;

// Where KV head hk's rows from position pos (nj of them, all in one page) are in K or V (base,
// page_stride, the head's offset, row stride), or nullptr when they are past n_rows or span
// two pages.
template <class T>
const T* rows_at(const AttentionArgs& a, const T* base, int64_t page_stride, int64_t head_off,
                 int64_t row, int64_t pos, int64_t nj, int64_t n_rows) {
  if (pos + nj > n_rows) return nullptr;
  if (a.page_table == nullptr) return base + head_off + pos * row;
  const int64_t at = pos % a.page_size;
  if (at + nj > a.page_size) return nullptr;
  return base + a.page_table[pos / a.page_size] * page_stride + head_off + at * row;
}

// The rows [r0, r1) of KV head hk in K or V (base, page_stride, the head's offset, row stride),
// in blocks of at most kRowBlock rows within one page: f(pos, nj, rows, pf) for each, pf the
// rows to prefetch (rows_at, below `limit`).
template <class T, class F>
void for_blocks(const AttentionArgs& a, const T* base, int64_t page_stride, int64_t head_off,
                int64_t row, int64_t r0, int64_t r1, int64_t limit, F&& f) {
  for (int64_t pos = r0; pos < r1;) {
    int64_t nj = std::min(kRowBlock, r1 - pos);
    if (a.page_table != nullptr) nj = std::min(nj, a.page_size - pos % a.page_size);
    f(pos, nj, rows_at(a, base, page_stride, head_off, row, pos, nj, r1),
      rows_at(a, base, page_stride, head_off, row, pos + std::max(kAheadRows, nj), nj, limit));
    pos += nj;
  }
}

// Query heads [h0, h0 + ng) of tokens [t0, t0 + nt), which share KV head hk. The rows every one
// of the tokens attends to (all of them, or under a causal mask those up to the earliest
// token's position) are read once for all nt * ng queries; each token's further rows, for its
// own. Per (token, head) the operations are the same either way: each score its own dot
// product, then the V rows' terms in row order.
// T: the cache's element type (float, or uint16_t for IEEE half); kb, vb its K and V.
template <class T>
void attend_group(const AttentionArgs& a, const T* kb, const T* vb, const RowFns& fns, int64_t t0,
                  int nt, int64_t hk, int64_t h0, int ng, std::vector<float>& scores,
                  std::vector<float>& widened) {
  const int nq = nt * ng;
  const float* q[kMaxQueries];
  float* out[kMaxQueries];
  float* s[kMaxQueries];
  float* sb[kMaxQueries];
  int64_t rows[kMaxTokens];
  int64_t common = a.n_kv, most = 0;
  size_t need = 0;
  for (int i = 0; i < nt; ++i) {
    const int64_t t = t0 + i;
    rows[i] = a.causal ? std::min<int64_t>(a.n_kv, static_cast<int64_t>(a.q_pos[t]) + 1) : a.n_kv;
    rows[i] = std::max<int64_t>(0, rows[i]);
    common = std::min(common, rows[i]);
    most = std::max(most, rows[i]);
    need += static_cast<size_t>(rows[i]) * static_cast<size_t>(ng);
    for (int g = 0; g < ng; ++g) {
      q[i * ng + g] = a.q + (t * a.n_head + h0 + g) * a.head_dim_k;
      out[i * ng + g] = a.out + (t * a.n_head + h0 + g) * a.head_dim_v;
      std::memset(out[i * ng + g], 0, static_cast<size_t>(a.head_dim_v) * sizeof(float));
    }
  }
  if (most <= 0) return;
  if (scores.size() < need) scores.resize(need);
  size_t at = 0;
  for (int i = 0; i < nt; ++i) {
    for (int g = 0; g < ng; ++g, at += static_cast<size_t>(rows[i]))
      s[i * ng + g] = scores.data() + at;
  }

  const int64_t k_row = a.k_row_stride > 0 ? a.k_row_stride : a.n_head_kv * a.head_dim_k;
  const int64_t v_row = a.v_row_stride > 0 ? a.v_row_stride : a.n_head_kv * a.head_dim_v;
  const int64_t k_off = hk * (a.k_head_stride > 0 ? a.k_head_stride : a.head_dim_k);
  const int64_t v_off = hk * (a.v_head_stride > 0 ? a.v_head_stride : a.head_dim_v);
  // Scores: rows [0, common) for every query, then each token's rows [common, rows[i]).
  auto scores_of = [&](int x0, int nx, int64_t r0, int64_t r1) {
    for_blocks(a, kb, a.k_page_stride, k_off, k_row, r0, r1, most,
               [&](int64_t pos, int64_t nj, const T* k, const T* pf) {
                 for (int x = 0; x < nx; ++x) sb[x] = s[x0 + x] + pos;
                 fns.dot_rows(a.head_dim_k, k, k_row, nj, q + x0, nx, sb, pf, widened);
               });
  };
  scores_of(0, nq, 0, common);
  for (int i = 0; i < nt; ++i) scores_of(i * ng, ng, common, rows[i]);
  for (int i = 0; i < nt; ++i) {
    for (int g = 0; g < ng; ++g) softmax(s[i * ng + g], rows[i], a.scale);
  }
  // The V rows' terms in the same row order: [0, common) for every query, then each token's.
  auto values_of = [&](int x0, int nx, int64_t r0, int64_t r1) {
    for_blocks(a, vb, a.v_page_stride, v_off, v_row, r0, r1, most,
               [&](int64_t pos, int64_t nj, const T* v, const T* pf) {
                 for (int x = 0; x < nx; ++x) sb[x] = s[x0 + x] + pos;
                 fns.weighted_heads(a.head_dim_v, sb, nx, nj, v, v_row, out + x0, pf, widened);
               });
  };
  values_of(0, nq, 0, common);
  for (int i = 0; i < nt; ++i) values_of(i * ng, ng, common, rows[i]);
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
  thread_local std::vector<int64_t> first, parts, tokens;
  const int n_threads = pool.n_threads();
  int64_t pairs = 0;
  for (const AttentionArgs& a : calls) {
    DKB_CHECK(a.n_head_kv > 0 && a.n_head % a.n_head_kv == 0);
    DKB_CHECK(!a.causal || a.q_pos != nullptr);
    DKB_CHECK(a.page_table == nullptr || a.page_size > 0);
    DKB_CHECK(a.k_row_stride == 0 || a.k_row_stride >= a.head_dim_k);
    DKB_CHECK(a.v_row_stride == 0 || a.v_row_stride >= a.head_dim_v);
    DKB_CHECK((a.k16 == nullptr) == (a.v16 == nullptr) &&
              (a.k16 == nullptr || (a.k == nullptr && a.v == nullptr)));
    pairs += std::max<int64_t>(0, a.n_tokens) * a.n_head_kv;
  }
  // With several tokens, an item takes tokens[c] of them (attend_group).
  first.assign(1, 0);
  parts.clear();
  tokens.clear();
  for (const AttentionArgs& a : calls) {
    const int64_t group = a.n_head / a.n_head_kv;
    parts.push_back(pairs < n_threads ? std::min<int64_t>(group, n_threads) : 1);
    tokens.push_back(
        std::clamp<int64_t>(kMaxQueries / std::min<int64_t>(group, kMaxGroup), 1, kMaxTokens));
    const int64_t token_groups =
        (std::max<int64_t>(0, a.n_tokens) + tokens.back() - 1) / tokens.back();
    first.push_back(first.back() + token_groups * a.n_head_kv * parts.back());
  }
  const int64_t total = first.back();
  if (total <= 0) return;
  const AxpyFn simd_axpy = detail::simd_axpy(active_isa());
  const DequantizeFn simd_widen = detail::simd_dequantize(TensorType::kF16, active_isa());
  const RowFns fns{vec_dot_kernel(TensorType::kF32, active_isa()),
                   simd_axpy != nullptr ? simd_axpy : axpy_scalar,
                   detail::simd_attention_rows(active_isa()),
                   simd_widen != nullptr ? simd_widen : detail::dequantize_f16};
  struct Ctx {
    std::span<const AttentionArgs> calls;
    const int64_t* first;
    const int64_t* parts;
    const int64_t* tokens;
    const RowFns* fns;
    int64_t total;
  } ctx{calls, first.data(), parts.data(), tokens.data(), &fns, total};
  pool.run([&ctx](int ith, int nth) {
    thread_local std::vector<float> scores, widened;
    size_t c = 0;
    for (int64_t i = ith; i < ctx.total; i += nth) {
      while (i >= ctx.first[c + 1]) ++c;
      const AttentionArgs& args = ctx.calls[c];
      const int64_t n_parts = ctx.parts[c];
      const int64_t item = i - ctx.first[c];
      const int64_t pair = item / n_parts, part = item % n_parts;
      const int64_t group = args.n_head / args.n_head_kv;
      const int64_t t0 = pair / args.n_head_kv * ctx.tokens[c], hk = pair % args.n_head_kv;
      const int nt = static_cast<int>(std::min(ctx.tokens[c], args.n_tokens - t0));
      const auto [p0, p1] = ThreadPool::split(group, static_cast<int>(part),
                                              static_cast<int>(n_parts));
      for (int64_t g0 = p0; g0 < p1; g0 += kMaxGroup) {
        const int ng = static_cast<int>(std::min<int64_t>(kMaxGroup, p1 - g0));
        // nt * ng <= kMaxQueries unless ng alone is larger (then nt is 1: one token per item)
        for (int k = 0; k < nt;) {
          const int n = std::max(1, std::min(nt - k, kMaxQueries / ng));
          if (args.k16 != nullptr) {
            attend_group(args, args.k16, args.v16, *ctx.fns, t0 + k, n, hk, hk * group + g0, ng,
                         scores, widened);
          } else {
            attend_group(args, args.k, args.v, *ctx.fns, t0 + k, n, hk, hk * group + g0, ng, scores,
                         widened);
          }
          k += n;
        }
      }
    }
  });
}

}  // namespace dkb::kernels
