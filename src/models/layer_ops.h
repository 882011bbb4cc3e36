// Row-wise helpers shared by the architecture files: weight matmuls through the compute pool,
// bias adds and norms over [rows][n] activations.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>

#include "engine/architecture.h"
#include "engine/weights.h"
#include "kernels/kernels.h"

namespace dkb::models {

// y[rows][w.ne[1]] = x[rows][w.ne[0]] · Wᵀ
inline void matmul(engine::ForwardState& st, const engine::Weight& w, const float* x, int64_t rows,
                   float* y) {
  kernels::matmul(*st.pool, *st.matmul, w.type, w.data, w.ne[0], w.ne[1], x, rows, y, w.layout);
}

// One weight and its output for matmul_shared.
struct WeightOut {
  const engine::Weight& w;
  float* y;  // [rows][w.ne[1]]
};

// y_k[rows][w_k.ne[1]] = x[rows][n_in] · W_kᵀ for 2 to 4 weights with the same input (q, k, v;
// gate, up): kernels::matmul_shared_input, the results of matmul() per weight.
inline void matmul_shared(engine::ForwardState& st, const float* x, int64_t rows,
                          std::initializer_list<WeightOut> outs) {
  kernels::MatmulTarget targets[4];
  size_t n = 0;
  for (const WeightOut& o : outs) {
    DKB_CHECK(n < 4 && o.w.ne[0] == outs.begin()->w.ne[0]);
    targets[n++] = {o.w.type, o.w.data, o.w.ne[1], o.y, o.w.layout};
  }
  kernels::matmul_shared_input(*st.pool, *st.matmul, std::span(targets, n), outs.begin()->w.ne[0],
                               x, rows);
}

// y[r][i] += b[i]; no-op for an absent bias.
inline void add_bias(float* y, const engine::Weight& b, int64_t rows, int64_t n) {
  if (!b) return;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < n; ++i) y[r * n + i] += b.f32()[i];
  }
}

// out[r] = rms_norm(x[r]) * w, rows of n floats with the given strides.
inline void rms_norm_rows(const float* x, const engine::Weight& w, int64_t rows, int64_t n,
                          float eps, float* out, int64_t stride_in = -1, int64_t stride_out = -1) {
  if (stride_in < 0) stride_in = n;
  if (stride_out < 0) stride_out = n;
  kernels::rms_norm_rows(x, stride_in, w.f32(), rows, n, eps, out, stride_out);
}

// In place: x[r] = layer_norm(x[r]) * w + b (w, b optional).
inline void layer_norm_rows(float* x, const engine::Weight& w, const engine::Weight& b, int64_t rows,
                            int64_t n, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    kernels::layer_norm(x + r * n, w ? w.f32() : nullptr, b ? b.f32() : nullptr, n, eps, x + r * n);
  }
}

}  // namespace dkb::models
