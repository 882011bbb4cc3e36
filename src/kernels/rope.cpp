// Rotary position embedding with ggml_rope_ext semantics (YaRN included). The angle table is
// built exactly like ggml_rope_cache_init: theta starts at the position and is multiplied by
// theta_scale = freq_base^(-2/n_dims) once per pair, so the float rounding matches ggml.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "base/status.h"
#include "kernels/kernels.h"

namespace dkb::kernels {
namespace {

float yarn_ramp(float low, float high, int64_t i0) {
  const float y = (static_cast<float>(i0 / 2) - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

// ggml's rope_yarn: interpolated/extrapolated angle mix and magnitude correction.
void rope_yarn(float theta_extrap, float freq_scale, const float corr_dims[2], int64_t i0,
               float ext_factor, float mscale, float* cos_theta, float* sin_theta) {
  const float theta_interp = freq_scale * theta_extrap;
  float theta = theta_interp;
  if (ext_factor != 0.0f) {
    const float ramp_mix = yarn_ramp(corr_dims[0], corr_dims[1], i0) * ext_factor;
    theta = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
    mscale *= 1.0f + 0.1f * std::log(1.0f / freq_scale);
  }
  *cos_theta = std::cos(theta) * mscale;
  *sin_theta = std::sin(theta) * mscale;
}

float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(n_ctx_orig) / (n_rot * 2 * std::numbers::pi_v<float>)) /
         (2 * std::log(base));
}

void yarn_corr_dims(int n_dims, int n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                    float dims[2]) {
  const float start = std::floor(yarn_corr_dim(n_dims, n_ctx_orig, beta_fast, freq_base));
  const float end = std::ceil(yarn_corr_dim(n_dims, n_ctx_orig, beta_slow, freq_base));
  dims[0] = std::max(0.0f, start);
  dims[1] = std::min(static_cast<float>(n_dims - 1), end);
}

}  // namespace

void rope_table(const int32_t* pos, int64_t n_tokens, const RopeParams& p, float* table) {
  DKB_CHECK(p.n_dims > 0 && p.n_dims % 2 == 0 && p.n_dims <= kRopeMaxDims);
  const int64_t n_dims = p.n_dims;
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_dims));
  float corr_dims[2];
  yarn_corr_dims(p.n_dims, p.n_ctx_orig, p.freq_base, p.beta_fast, p.beta_slow, corr_dims);
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* cache = table + t * n_dims;
    float theta = static_cast<float>(pos[t]);
    for (int64_t i0 = 0; i0 < n_dims; i0 += 2) {
      const float ff = p.freq_factors != nullptr ? p.freq_factors[i0 / 2] : 1.0f;
      rope_yarn(theta / ff, p.freq_scale, corr_dims, i0, p.ext_factor, p.attn_factor, &cache[i0],
                &cache[i0 + 1]);
      theta *= theta_scale;
    }
  }
}

namespace {
// Four floats as a GCC vector: elementwise IEEE operations (SSE on x86-64, NEON on aarch64), each
// the same as the scalar one (no contraction: -ffp-contract=off).
typedef float F4 __attribute__((vector_size(16)));
F4 load4(const float* p) {
  F4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void store4(float* p, F4 v) {
  std::memcpy(p, &v, sizeof v);
}
}  // namespace

void rope_with_table(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                     const float* table, const RopeParams& p) {
  DKB_CHECK(p.n_dims > 0 && p.n_dims % 2 == 0 && p.n_dims <= head_dim);
  const int64_t n_dims = p.n_dims;
  if (p.neox && n_dims <= kRopeMaxDims) {
    // The pairs (i, i + n_dims / 2): with the table's cos and sin split into two arrays per
    // token, a head's loop is elementwise on contiguous floats, 4 at a time (the same
    // operations per element as below).
    const int64_t half = n_dims / 2;
    float cos_t[kRopeMaxDims / 2], sin_t[kRopeMaxDims / 2];
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* cache = table + t * n_dims;
      for (int64_t i = 0; i < half; ++i) {
        cos_t[i] = cache[2 * i];
        sin_t[i] = cache[2 * i + 1];
      }
      for (int64_t h = 0; h < n_heads; ++h) {
        float* va = x + (t * n_heads + h) * head_dim;
        float* vb = va + half;
        int64_t i = 0;
        for (; i + 4 <= half; i += 4) {
          const F4 x0 = load4(va + i), x1 = load4(vb + i);
          const F4 c = load4(cos_t + i), sn = load4(sin_t + i);
          store4(va + i, x0 * c - x1 * sn);
          store4(vb + i, x0 * sn + x1 * c);
        }
        for (; i < half; ++i) {
          const float x0 = va[i];
          const float x1 = vb[i];
          va[i] = x0 * cos_t[i] - x1 * sin_t[i];
          vb[i] = x0 * sin_t[i] + x1 * cos_t[i];
        }
      }
    }
    return;
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* cache = table + t * n_dims;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * head_dim;
      for (int64_t i0 = 0; i0 < n_dims; i0 += 2) {
        const float cos_t = cache[i0];
        const float sin_t = cache[i0 + 1];
        const int64_t a = p.neox ? i0 / 2 : i0;
        const int64_t b = p.neox ? i0 / 2 + n_dims / 2 : i0 + 1;
        const float x0 = v[a];
        const float x1 = v[b];
        v[a] = x0 * cos_t - x1 * sin_t;
        v[b] = x0 * sin_t + x1 * cos_t;
      }
    }
  }
}

void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& p) {
  DKB_CHECK(p.n_dims > 0 && p.n_dims % 2 == 0 && p.n_dims <= std::min<int64_t>(head_dim, kRopeMaxDims));
  // One token's table at a time, on the stack: head dims are small.
  float cache[kRopeMaxDims];
  for (int64_t t = 0; t < n_tokens; ++t) {
    rope_table(pos + t, 1, p, cache);
    rope_with_table(x + t * n_heads * head_dim, 1, n_heads, head_dim, cache, p);
  }
}

}  // namespace dkb::kernels
