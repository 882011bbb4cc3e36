// Scalar reference dot products for float and legacy types, with ggml's generic formulas:
// integer sums per block, then one scaling per block.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {

float vec_dot_f32_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
}

float vec_dot_f16_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]));
  }
  return static_cast<float>(sum);
}

float vec_dot_bf16_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(bf16_to_fp32(a[i]) * bf16_to_fp32(b[i]));
  }
  return static_cast<float>(sum);
}

float vec_dot_q4_0_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      const int v0 = (a[ib].qs[j] & 0x0F) - 8;
      const int v1 = (a[ib].qs[j] >> 4) - 8;
      sumi0 += v0 * b[ib].qs[j];
      sumi1 += v1 * b[ib].qs[j + kQK8_0 / 2];
    }
    const int sumi = sumi0 + sumi1;
    sumf += static_cast<float>(sumi) * fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d);
  }
  return sumf;
}

float vec_dot_q4_0_blocks(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      sumi += ((a[ib].qs[j] & 0x0F) - 8) * b[ib].qs[j];
      sumi += ((a[ib].qs[j] >> 4) - 8) * b[ib].qs[j + kQK8_0 / 2];
    }
    sumf += static_cast<float>(sumi) * (fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d));
  }
  return sumf;
}

float vec_dot_q4_1_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK8_1;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK8_1 / 2; ++j) {
      const int v0 = a[ib].qs[j] & 0x0F;
      const int v1 = a[ib].qs[j] >> 4;
      sumi0 += v0 * b[ib].qs[j];
      sumi1 += v1 * b[ib].qs[j + kQK8_1 / 2];
    }
    const int sumi = sumi0 + sumi1;
    sumf += (fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d)) * static_cast<float>(sumi) +
            fp16_to_fp32(a[ib].m) * fp16_to_fp32(b[ib].s);
  }
  return sumf;
}

float vec_dot_q5_0_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint32_t qh;
    std::memcpy(&qh, a[ib].qh, sizeof qh);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      const uint8_t xh0 = static_cast<uint8_t>(((qh & (1u << (j + 0))) >> (j + 0)) << 4);
      const uint8_t xh1 = static_cast<uint8_t>((qh & (1u << (j + 16))) >> (j + 12));
      const int v0 = ((a[ib].qs[j] & 0x0F) | xh0) - 16;
      const int v1 = ((a[ib].qs[j] >> 4) | xh1) - 16;
      sumi0 += v0 * b[ib].qs[j];
      sumi1 += v1 * b[ib].qs[j + kQK8_0 / 2];
    }
    const int sumi = sumi0 + sumi1;
    sumf += (fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d)) * static_cast<float>(sumi);
  }
  return sumf;
}

float vec_dot_q5_1_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK8_1;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint32_t qh;
    std::memcpy(&qh, a[ib].qh, sizeof qh);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK8_1 / 2; ++j) {
      const uint8_t xh0 = static_cast<uint8_t>(((qh >> (j + 0)) << 4) & 0x10);
      const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
      const int v0 = (a[ib].qs[j] & 0x0F) | xh0;
      const int v1 = (a[ib].qs[j] >> 4) | xh1;
      sumi0 += v0 * b[ib].qs[j];
      sumi1 += v1 * b[ib].qs[j + kQK8_1 / 2];
    }
    const int sumi = sumi0 + sumi1;
    sumf += (fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d)) * static_cast<float>(sumi) +
            fp16_to_fp32(a[ib].m) * fp16_to_fp32(b[ib].s);
  }
  return sumf;
}

float vec_dot_q8_0_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += a[ib].qs[j] * b[ib].qs[j];
    sumf += static_cast<float>(sumi) * (fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d));
  }
  return sumf;
}

}  // namespace dkb::kernels::detail
