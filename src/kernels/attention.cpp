// Attention over an f32 KV cache, contiguous or paged, one (token, head) pair at a time per
// thread. Scores go to a per-thread buffer that only grows, so steady-state calls do not
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

void axpy_scalar(int64_t n, float a, const float* x, float* y) {
  for (int64_t d = 0; d < n; ++d) y[d] += a * x[d];
}

void attend_one(const AttentionArgs& a, VecDotKernel dot, AxpyFn axpy, int64_t t, int64_t h,
                std::vector<float>& scores) {
  const int64_t group = a.n_head / a.n_head_kv;
  const int64_t hk = h / group;
  int64_t n_rows = a.n_kv;
  if (a.causal) n_rows = std::min<int64_t>(a.n_kv, static_cast<int64_t>(a.q_pos[t]) + 1);
  float* out = a.out + (t * a.n_head + h) * a.head_dim_v;
  std::memset(out, 0, static_cast<size_t>(a.head_dim_v) * sizeof(float));
  if (n_rows <= 0) return;

  const bool paged = a.page_table != nullptr;
  const int64_t page = paged ? a.page_size : n_rows;
  const int64_t k_row = a.n_head_kv * a.head_dim_k, v_row = a.n_head_kv * a.head_dim_v;
  const float* q = a.q + (t * a.n_head + h) * a.head_dim_k;
  if (static_cast<int64_t>(scores.size()) < n_rows) scores.resize(static_cast<size_t>(n_rows));
  for (int64_t p0 = 0; p0 < n_rows; p0 += page) {
    const int64_t n = std::min(page, n_rows - p0);
    const float* k = paged ? a.k + a.page_table[p0 / page] * a.k_page_stride : a.k;
    k += hk * a.head_dim_k;
    float* s = scores.data() + p0;
    for (int64_t j = 0; j < n; ++j) s[j] = dot(a.head_dim_k, k + j * k_row, q);
  }
  softmax(scores.data(), n_rows, a.scale);
  for (int64_t p0 = 0; p0 < n_rows; p0 += page) {
    const int64_t n = std::min(page, n_rows - p0);
    const float* v = paged ? a.v + a.page_table[p0 / page] * a.v_page_stride : a.v;
    v += hk * a.head_dim_v;
    const float* s = scores.data() + p0;
    for (int64_t j = 0; j < n; ++j) axpy(a.head_dim_v, s[j], v + j * v_row, out);
  }
}

}  // namespace

void attention(ThreadPool& pool, const AttentionArgs& a) {
  DKB_CHECK(a.n_head_kv > 0 && a.n_head % a.n_head_kv == 0);
  DKB_CHECK(!a.causal || a.q_pos != nullptr);
  DKB_CHECK(a.page_table == nullptr || a.page_size > 0);
  const int64_t total = a.n_tokens * a.n_head;
  if (total <= 0) return;
  const VecDotKernel dot = vec_dot_kernel(TensorType::kF32, active_isa());
  const AxpyFn simd_axpy = detail::simd_axpy(active_isa());
  const AxpyFn axpy = simd_axpy != nullptr ? simd_axpy : axpy_scalar;
  struct Ctx {
    const AttentionArgs* a;
    VecDotKernel dot;
    AxpyFn axpy;
    int64_t total;
  } ctx{&a, dot, axpy, total};
  pool.run([&ctx](int ith, int nth) {
    thread_local std::vector<float> scores;
    const auto [b, e] = ThreadPool::split(ctx.total, ith, nth);
    for (int64_t i = b; i < e; ++i) {
      attend_one(*ctx.a, ctx.dot, ctx.axpy, i / ctx.a->n_head, i % ctx.a->n_head, scores);
    }
  });
}

}  // namespace dkb::kernels
