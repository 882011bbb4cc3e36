// Normalisation and elementwise ops with ggml's accumulation order (double sums for norms and
// softmax denominators, as ggml_compute_forward_{rms_norm,norm,soft_max} do).
#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels {

namespace {
// out[r] = x[r] * scale[r] * w for R rows, after their mean squares summed together: R
// independent chains of double additions, each in its row's element order (R = 1: rms_norm).
template <int R>
void rms_norm_block(const float* x, int64_t stride_in, const float* w, int64_t n, float eps,
                    float* out, int64_t stride_out) {
  double sum[R] = {};
  for (int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const float v = x[r * stride_in + i];
      sum[r] += static_cast<double>(v * v);
    }
  }
  for (int r = 0; r < R; ++r) {
    const float mean = static_cast<float>(sum[r] / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    const float* xr = x + r * stride_in;
    float* o = out + r * stride_out;
    if (w != nullptr) {
      for (int64_t i = 0; i < n; ++i) o[i] = (xr[i] * scale) * w[i];
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = xr[i] * scale;
    }
  }
}
}  // namespace

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* out) {
  rms_norm_block<1>(x, n, w, n, eps, out, n);
}

void rms_norm_rows(const float* x, int64_t stride_in, const float* w, int64_t rows, int64_t n,
                   float eps, float* out, int64_t stride_out) {
  int64_t r = 0;
  for (; r + 8 <= rows; r += 8) {
    rms_norm_block<8>(x + r * stride_in, stride_in, w, n, eps, out + r * stride_out, stride_out);
  }
  for (; r + 4 <= rows; r += 4) {
    rms_norm_block<4>(x + r * stride_in, stride_in, w, n, eps, out + r * stride_out, stride_out);
  }
  for (; r < rows; ++r) {
    rms_norm_block<1>(x + r * stride_in, stride_in, w, n, eps, out + r * stride_out, stride_out);
  }
}

void layer_norm(const float* x, const float* w, const float* b, int64_t n, float eps, float* out) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double sum2 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] - mean;
    out[i] = v;
    sum2 += static_cast<double>(v * v);
  }
  const float variance = static_cast<float>(sum2 / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(variance + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = out[i] * scale;
    if (w != nullptr) v *= w[i];
    if (b != nullptr) v += b[i];
    out[i] = v;
  }
}

void softmax(float* x, int64_t n, float scale) {
  if (n <= 0) return;
  if (const detail::SoftmaxFn simd = detail::simd_softmax(active_isa())) return simd(x, n, scale);
  float max = -INFINITY;
  if (!detail::softmax_scale_max(x, 0, n, scale, max)) return;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float silu(float x) {
  return x / (1.0f + std::exp(-x));
}

float gelu(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kGeluCoefA = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kGeluCoefA * x * x)));
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  if (const detail::SwigluFn f = detail::simd_swiglu(active_isa())) return f(gate, up, n, out);
  for (int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

void swiglu(ThreadPool& pool, const float* gate, const float* up, int64_t n, float* out) {
  // Below this many values a pool run costs more than it saves (decode: one token's n_ff).
  constexpr int64_t kMinParallel = 32 * 1024;
  if (n < kMinParallel || pool.n_threads() == 1) return swiglu(gate, up, n, out);
  // Whole 64-value pieces per thread, so each value takes the same (vector or tail) path as in
  // one call over all n.
  constexpr int64_t kPiece = 64;
  pool.run([=](int ith, int nth) {
    auto [b, e] = ThreadPool::split((n + kPiece - 1) / kPiece, ith, nth);
    b *= kPiece;
    e = std::min(n, e * kPiece);
    if (b < e) swiglu(gate + b, up + b, e - b, out + b);
  });
}

}  // namespace dkb::kernels
