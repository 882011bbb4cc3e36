// Per-head products (kernels.h head_matmul_xw / head_matmul_wx): multi-head latent
// attention's absorbed projections. Threads take whole heads, so each (token, head) result is
// computed by one thread in one fixed order whatever the thread count. Quantized rows are
// dequantized one at a time into a per-thread buffer (L1-resident) and used for all tokens, or,
// for the types and levels with them, in registers by the level's own loops (same bits).
#include <cstring>
#include <vector>

#include "base/status.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels {
namespace {

void axpy_scalar(int64_t n, float a, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void check(const HeadWeights& w, int64_t n_tokens) {
  DKB_CHECK(w.data != nullptr && w.n_head > 0 && w.rows > 0 && w.cols > 0 && n_tokens >= 0);
  DKB_CHECK(w.head_stride >= w.rows);
}

// Row d of head h as floats: the weights themselves (F32) or `buf`, dequantized.
class RowReader {
 public:
  explicit RowReader(const HeadWeights& w)
      : w_(w), row_bytes_(tensor_row_size(w.type, w.cols)) {
    if (w.type != TensorType::kF32) buf().resize(static_cast<size_t>(w.cols));
  }
  const float* row(int64_t h, int64_t d) const {
    const auto* src = static_cast<const uint8_t*>(w_.data) +
                      static_cast<size_t>(h * w_.head_stride + d) * row_bytes_;
    if (w_.type == TensorType::kF32) return reinterpret_cast<const float*>(src);
    float* out = buf().data();
    dequantize_row(w_.type, src, out, w_.cols);
    return out;
  }

 private:
  static std::vector<float>& buf() {
    thread_local std::vector<float> b;  // per pool thread, grown once
    return b;
  }
  const HeadWeights& w_;
  size_t row_bytes_;
};

// One call's operands: token t's vector for head h in x and in y.
struct HeadJob {
  const HeadWeights& w;
  const float* x;
  HeadStrides xs;
  float* y;
  HeadStrides ys;
  int64_t n_tokens;
  const float* x_at(int64_t t, int64_t h) const { return x + t * xs.token + h * xs.head; }
  float* y_at(int64_t t, int64_t h) const { return y + t * ys.token + h * ys.head; }
};

// body(h0, h1) on each thread for its share of the heads. The pool's closure holds two words, so
// std::function keeps it without allocating (no allocation per decode step).
template <class Body>
void for_heads(ThreadPool& pool, int64_t n_head, const Body& body) {
  pool.run([&body, n_head](int ith, int nth) {
    const auto [h0, h1] = ThreadPool::split(n_head, ith, nth);
    body(h0, h1);
  });
}

// Heads [h0, h1) of every token through a level's in-register loops.
void run_fused(detail::HeadRowsFn fn, const HeadJob& j, int64_t h0, int64_t h1) {
  const size_t rb = tensor_row_size(j.w.type, j.w.cols);
  for (int64_t h = h0; h < h1; ++h) {
    const auto* wh = static_cast<const uint8_t*>(j.w.data) + static_cast<size_t>(h * j.w.head_stride) * rb;
    for (int64_t t = 0; t < j.n_tokens; ++t) fn(wh, rb, j.w.rows, j.w.cols, j.x_at(t, h), j.y_at(t, h));
  }
}

// The level's in-register loops for w's type, when it has them and w's rows fit them.
detail::HeadRowFns fused_rows(const HeadWeights& w) {
  if (w.cols % tensor_type_traits(w.type)->block_size != 0) return {};
  return detail::simd_head_rows(w.type, active_isa());
}

}  // namespace

void head_matmul_xw(ThreadPool& pool, const HeadWeights& w, const float* x, HeadStrides xs,
                    float* y, HeadStrides ys, int64_t n_tokens) {
  check(w, n_tokens);
  if (n_tokens == 0) return;
  const detail::AxpyFn simd = detail::simd_axpy(active_isa());
  const detail::AxpyFn axpy = simd != nullptr ? simd : axpy_scalar;
  const HeadJob job{w, x, xs, y, ys, n_tokens};
  const detail::HeadRowsFn fused = fused_rows(w).xw;
  for_heads(pool, w.n_head, [&](int64_t h0, int64_t h1) {
    if (fused != nullptr) return run_fused(fused, job, h0, h1);
    const RowReader rows(w);
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t t = 0; t < n_tokens; ++t) {
        std::memset(job.y_at(t, h), 0, static_cast<size_t>(w.cols) * sizeof(float));
      }
      // Each token's sum still takes the rows in order d = 0, 1, ...
      for (int64_t d = 0; d < w.rows; ++d) {
        const float* row = rows.row(h, d);
        for (int64_t t = 0; t < n_tokens; ++t) axpy(w.cols, job.x_at(t, h)[d], row, job.y_at(t, h));
      }
    }
  });
}

void head_matmul_wx(ThreadPool& pool, const HeadWeights& w, const float* x, HeadStrides xs,
                    float* y, HeadStrides ys, int64_t n_tokens) {
  check(w, n_tokens);
  if (n_tokens == 0) return;
  const VecDotKernel dot = vec_dot_kernel(TensorType::kF32, active_isa());
  const HeadJob job{w, x, xs, y, ys, n_tokens};
  const detail::HeadRowsFn fused = fused_rows(w).wx;
  for_heads(pool, w.n_head, [&](int64_t h0, int64_t h1) {
    if (fused != nullptr) return run_fused(fused, job, h0, h1);
    const RowReader rows(w);
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t e = 0; e < w.rows; ++e) {
        const float* row = rows.row(h, e);
        for (int64_t t = 0; t < n_tokens; ++t) job.y_at(t, h)[e] = dot(w.cols, row, job.x_at(t, h));
      }
    }
  });
}

}  // namespace dkb::kernels
