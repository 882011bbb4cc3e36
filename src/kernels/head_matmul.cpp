// Per-head f32 products (kernels.h head_matmul_xw / head_matmul_wx): multi-head latent
// attention's absorbed projections. Threads take whole heads, so each (token, head) result is
// computed by one thread in one fixed order whatever the thread count.
#include <algorithm>
#include <cstring>

#include "base/status.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels {
namespace {

void axpy_scalar(int64_t n, float a, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void check(const HeadWeights& w, int64_t n_tokens) {
  DKB_CHECK(w.w != nullptr && w.n_head > 0 && w.rows > 0 && w.cols > 0 && n_tokens >= 0);
  DKB_CHECK(w.head_stride >= w.rows * w.cols);
}

}  // namespace

void head_matmul_xw(ThreadPool& pool, const HeadWeights& w, const float* x, HeadStrides xs,
                    float* y, HeadStrides ys, int64_t n_tokens) {
  check(w, n_tokens);
  if (n_tokens == 0) return;
  const detail::AxpyFn simd = detail::simd_axpy(active_isa());
  const detail::AxpyFn axpy = simd != nullptr ? simd : axpy_scalar;
  pool.run([&](int ith, int nth) {
    const auto [h0, h1] = ThreadPool::split(w.n_head, ith, nth);
    for (int64_t h = h0; h < h1; ++h) {
      const float* wh = w.w + h * w.head_stride;
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xr = x + t * xs.token + h * xs.head;
        float* yr = y + t * ys.token + h * ys.head;
        std::memset(yr, 0, static_cast<size_t>(w.cols) * sizeof(float));
        for (int64_t d = 0; d < w.rows; ++d) axpy(w.cols, xr[d], wh + d * w.cols, yr);
      }
    }
  });
}

void head_matmul_wx(ThreadPool& pool, const HeadWeights& w, const float* x, HeadStrides xs,
                    float* y, HeadStrides ys, int64_t n_tokens) {
  check(w, n_tokens);
  if (n_tokens == 0) return;
  const VecDotKernel dot = vec_dot_kernel(TensorType::kF32, active_isa());
  pool.run([&](int ith, int nth) {
    const auto [h0, h1] = ThreadPool::split(w.n_head, ith, nth);
    for (int64_t h = h0; h < h1; ++h) {
      const float* wh = w.w + h * w.head_stride;
      for (int64_t e = 0; e < w.rows; ++e) {
        const float* row = wh + e * w.cols;
        for (int64_t t = 0; t < n_tokens; ++t) {
          y[t * ys.token + h * ys.head + e] = dot(w.cols, row, x + t * xs.token + h * xs.head);
        }
      }
    }
  });
}

}  // namespace dkb::kernels
