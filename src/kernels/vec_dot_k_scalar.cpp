// Scalar reference dot products of K-quants with Q8_K: exact integer sums per super-block
// (the same sums ggml's generic kernels accumulate), scaled once by d_w * d_x.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {

float vec_dot_q2_k_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* q2 = a[i].qs;
    const int8_t* q8 = b[i].qs;
    const uint8_t* sc = a[i].scales;
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += b[i].bsums[j] * (sc[j] >> 4);
    const float dall = b[i].d * fp16_to_fp32(a[i].d);
    const float dmin = b[i].d * fp16_to_fp32(a[i].dmin);
    int isum = 0;
    int is = 0;
    for (int k = 0; k < kQK_K / 128; ++k) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        int d = sc[is++] & 0xF;
        int isuml = 0;
        for (int l = 0; l < 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
        isum += d * isuml;
        d = sc[is++] & 0xF;
        isuml = 0;
        for (int l = 16; l < 32; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
        isum += d * isuml;
        shift += 2;
        q8 += 32;
      }
      q2 += 32;
    }
    sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

float vec_dot_q3_k_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int8_t scales[16];
    unpack_q3_k_scales(a[i].scales, scales);
    const uint8_t* q3 = a[i].qs;
    const uint8_t* hm = a[i].hmask;
    const int8_t* q8 = b[i].qs;
    int isum = 0;
    uint8_t m = 1;
    int is = 0;
    for (int half = 0; half < kQK_K; half += 128) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int sub = 0; sub < 2; ++sub) {
          int s = 0;
          for (int l = 16 * sub; l < 16 * sub + 16; ++l) {
            const int v = ((q3[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
            s += v * q8[l];
          }
          isum += (scales[is++] - 32) * s;
        }
        q8 += 32;
        m = static_cast<uint8_t>(m << 1);
      }
      q3 += 32;
    }
    sumf += fp16_to_fp32(a[i].d) * b[i].d * static_cast<float>(isum);
  }
  return sumf;
}

float vec_dot_q4_k_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* q4 = a[i].qs;
    const int8_t* q8 = b[i].qs;
    int isum = 0, summs = 0;
    for (int j = 0; j < kQK_K / 64; ++j) {
      uint8_t sc0, m0, sc1, m1;
      get_scale_min_k4(2 * j + 0, a[i].scales, &sc0, &m0);
      get_scale_min_k4(2 * j + 1, a[i].scales, &sc1, &m1);
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        s0 += (q4[l] & 0xF) * q8[l];
        s1 += (q4[l] >> 4) * q8[l + 32];
      }
      isum += sc0 * s0 + sc1 * s1;
      summs += m0 * (b[i].bsums[4 * j + 0] + b[i].bsums[4 * j + 1]) +
               m1 * (b[i].bsums[4 * j + 2] + b[i].bsums[4 * j + 3]);
      q4 += 32;
      q8 += 64;
    }
    const float d = fp16_to_fp32(a[i].d) * b[i].d;
    const float dmin = fp16_to_fp32(a[i].dmin) * b[i].d;
    sumf += d * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

float vec_dot_q5_k_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* q4 = a[i].qs;
    const uint8_t* qh = a[i].qh;
    const int8_t* q8 = b[i].qs;
    int isum = 0, summs = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < kQK_K / 64; ++j) {
      uint8_t sc0, m0, sc1, m1;
      get_scale_min_k4(2 * j + 0, a[i].scales, &sc0, &m0);
      get_scale_min_k4(2 * j + 1, a[i].scales, &sc1, &m1);
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        s0 += ((q4[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) * q8[l];
        s1 += ((q4[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) * q8[l + 32];
      }
      isum += sc0 * s0 + sc1 * s1;
      summs += m0 * (b[i].bsums[4 * j + 0] + b[i].bsums[4 * j + 1]) +
               m1 * (b[i].bsums[4 * j + 2] + b[i].bsums[4 * j + 3]);
      q4 += 32;
      q8 += 64;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
    const float d = fp16_to_fp32(a[i].d) * b[i].d;
    const float dmin = fp16_to_fp32(a[i].dmin) * b[i].d;
    sumf += d * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

float vec_dot_q6_k_scalar(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* ql = a[i].ql;
    const uint8_t* qh = a[i].qh;
    const int8_t* sc = a[i].scales;
    const int8_t* q8 = b[i].qs;
    int isum = 0;
    for (int half = 0; half < kQK_K; half += 128) {
      int s[8] = {};
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        s[is + 0] += q1 * q8[l + 0];
        s[is + 2] += q2 * q8[l + 32];
        s[is + 4] += q3 * q8[l + 64];
        s[is + 6] += q4 * q8[l + 96];
      }
      for (int k = 0; k < 8; ++k) isum += sc[k] * s[k];
      ql += 64;
      qh += 32;
      sc += 8;
      q8 += 128;
    }
    sumf += fp16_to_fp32(a[i].d) * b[i].d * static_cast<float>(isum);
  }
  return sumf;
}

}  // namespace dkb::kernels::detail
