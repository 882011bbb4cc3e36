#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <utility>
#include <vector>

#include "test_util.h"

namespace dkb::kernels {
namespace {

using test::random_floats;

// The bandwidth probe's checksum reads every byte at every level: bodies and tails, and a
// changed byte anywhere changes it.
TEST(Ops, StreamSumReadsEveryByte) {
  for (Isa isa : test::kAllIsas) {
    if (!isa_available(isa)) continue;
    test::IsaGuard guard;
    set_active_isa(isa);
    for (size_t n : {size_t{0}, size_t{1}, size_t{31}, size_t{255}, size_t{256}, size_t{4097}}) {
      std::vector<uint8_t> buf(n + 8, 0);
      EXPECT_EQ(stream_sum(buf.data() + 1, n), 0u) << n;  // unaligned start
      for (size_t k = 0; k < n; k += 1 + n / 7) {
        buf[1 + k] = 3;
        EXPECT_NE(stream_sum(buf.data() + 1, n), 0u) << "n=" << n << " byte " << k;
        buf[1 + k] = 0;
      }
      buf[1 + n] = 5;  // past the end: not read
      EXPECT_EQ(stream_sum(buf.data() + 1, n), 0u) << n;
    }
  }
}

TEST(Ops, RmsNorm) {
  const auto x = random_floats(67, 1, -2.0f, 2.0f);
  const auto w = random_floats(67, 2);
  std::vector<float> out(67), out_nw(67);
  rms_norm(x.data(), w.data(), 67, 1e-5f, out.data());
  rms_norm(x.data(), nullptr, 67, 1e-5f, out_nw.data());
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double scale = 1.0 / std::sqrt(ss / 67 + 1e-5);
  for (int i = 0; i < 67; ++i) {
    EXPECT_NEAR(out[i], x[i] * scale * w[i], 1e-5);
    EXPECT_NEAR(out_nw[i], x[i] * scale, 1e-5);
  }
  std::vector<float> inplace = x;
  rms_norm(inplace.data(), w.data(), 67, 1e-5f, inplace.data());
  EXPECT_EQ(inplace, out);
}

// Several rows at a time (blocks of 8 and 4, then single rows): each row's bits as rms_norm's.
TEST(Ops, RmsNormRowsEqualsRowByRowBitForBit) {
  const int64_t n = 1536, stride_in = n + 3, stride_out = n + 5;
  for (int64_t rows : {1, 3, 4, 5, 8, 13, 19}) {
    const auto x = random_floats(static_cast<size_t>(rows * stride_in), 7, -3.0f, 3.0f);
    const auto w = random_floats(n, 8);
    for (const float* wp : {w.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> got(static_cast<size_t>(rows * stride_out), -1.0f), want = got;
      rms_norm_rows(x.data(), stride_in, wp, rows, n, 1e-6f, got.data(), stride_out);
      for (int64_t r = 0; r < rows; ++r) {
        rms_norm(x.data() + r * stride_in, wp, n, 1e-6f, want.data() + r * stride_out);
      }
      EXPECT_EQ(got, want) << rows << " rows";
      std::vector<float> inplace = x;
      rms_norm_rows(inplace.data(), stride_in, wp, rows, n, 1e-6f, inplace.data(), stride_in);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(inplace[r * stride_in + i], want[r * stride_out + i]) << rows << " " << r;
        }
      }
    }
  }
}

TEST(Ops, LayerNorm) {
  const auto x = random_floats(45, 3, -1.0f, 3.0f);
  const auto w = random_floats(45, 4);
  const auto b = random_floats(45, 5);
  std::vector<float> out(45);
  layer_norm(x.data(), w.data(), b.data(), 45, 1e-12f, out.data());
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= 45;
  for (float v : x) var += (v - mean) * (v - mean);
  var /= 45;
  for (int i = 0; i < 45; ++i) {
    EXPECT_NEAR(out[i], (x[i] - mean) / std::sqrt(var + 1e-12) * w[i] + b[i], 1e-5);
  }
  std::vector<float> inplace = x;
  layer_norm(inplace.data(), nullptr, nullptr, 45, 1e-12f, inplace.data());
  for (int i = 0; i < 45; ++i)
    EXPECT_NEAR(inplace[i], (x[i] - mean) / std::sqrt(var + 1e-12), 1e-5);
}

TEST(Ops, Softmax) {
  auto x = random_floats(31, 6, -5.0f, 5.0f);
  const auto orig = x;
  softmax(x.data(), 31, 0.7f);
  double mx = -1e30, sum = 0;
  for (float v : orig) mx = std::max(mx, 0.7 * v);
  for (float v : orig) sum += std::exp(0.7 * v - mx);
  double total = 0;
  for (int i = 0; i < 31; ++i) {
    EXPECT_NEAR(x[i], std::exp(0.7 * orig[i] - mx) / sum, 1e-6);
    total += x[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-6);
  std::vector<float> masked = {-INFINITY, 1.0f, -INFINITY};
  softmax(masked.data(), 3);
  EXPECT_EQ(masked, (std::vector<float>{0.0f, 1.0f, 0.0f}));
}

TEST(Ops, Activations) {
  for (float x : {-8.0f, -1.5f, -0.1f, 0.0f, 0.3f, 2.0f, 9.0f}) {
    const double xd = x;
    EXPECT_NEAR(silu(x), xd / (1 + std::exp(-xd)), 1e-6);
    const double g =
        0.5 * xd * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * xd * (1 + 0.044715 * xd * xd)));
    EXPECT_NEAR(gelu(x), g, 1e-6);
  }
  test::IsaGuard guard;
  set_active_isa(Isa::kScalar);  // the SIMD levels: SwigluAtEveryLevelIsWithinUlpsOfExp
  const auto g = random_floats(9, 7, -4.0f, 4.0f);
  const auto u = random_floats(9, 8);
  std::vector<float> out(9);
  swiglu(g.data(), u.data(), 9, out.data());
  for (int i = 0; i < 9; ++i) EXPECT_EQ(out[i], silu(g[i]) * u[i]);
}

// Distance of a from b in units in the last place of b (0 when both are the same NaN or inf).
double ulps(float a, double b) {
  if (std::isnan(b)) return std::isnan(a) ? 0.0 : INFINITY;
  if (std::isinf(b)) return a == b ? 0.0 : INFINITY;
  const double ulp = std::ldexp(1.0, std::max(std::ilogb(static_cast<float>(b)), -126) - 23);
  return std::fabs(static_cast<double>(a) - b) / ulp;
}

// ggml's vector exp at every SIMD level (vector part and scalar tail) stays within 4 ulp of
// silu(gate) * up in double, across the range where exp is a normal float, and gives the
// limits beyond it (inf * 0-gate NaN aside: silu(+inf) = inf, silu(-inf) = NaN as in ggml).
TEST(Ops, SwigluAtEveryLevelIsWithinUlpsOfExp) {
  std::vector<float> g = random_floats(1000, 11, -20.0f, 20.0f);
  for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 87.0f, -87.0f, 88.3f, -88.3f, 90.0f, 100.0f,
                  200.0f, 1e30f, INFINITY, -INFINITY, NAN, -50.0f, -86.5f}) {
    g.push_back(x);
  }
  const size_t n = g.size();
  const auto u = random_floats(n, 12, -2.0f, 2.0f);
  test::IsaGuard guard;
  for (Isa isa : test::kAllIsas) {
    if (!isa_available(isa)) continue;
    set_active_isa(isa);
    // Every tail length, then the whole vector in place.
    for (size_t len : {size_t{1}, size_t{3}, size_t{7}, size_t{15}, size_t{17}, size_t{33}, n}) {
      const size_t off = n - len;  // ends on the special values
      std::vector<float> out(g.begin() + off, g.end());
      swiglu(out.data(), u.data() + off, static_cast<int64_t>(len), out.data());
      for (size_t i = 0; i < len; ++i) {
        const double x = g[off + i];
        const double want = x / (1.0 + std::exp(-x)) * u[off + i];
        SCOPED_TRACE(testing::Message() << "isa " << static_cast<int>(isa) << " x " << x);
        if (std::fabs(want) < 1e-35) {  // exp(-x) beyond float: ggml gives 0 from x < ~-88.38
          EXPECT_LT(std::fabs(out[i]), 1e-35);
        } else {
          EXPECT_LE(ulps(out[i], want), 4.0);
        }
      }
    }
  }
}

// The pool's split gives the single-threaded results bit for bit.
TEST(Ops, SwigluOverThePoolEqualsOneThread) {
  const int64_t n = 3 * 40000 + 5;
  const auto g = random_floats(static_cast<size_t>(n), 21, -10.0f, 10.0f);
  const auto u = random_floats(static_cast<size_t>(n), 22);
  std::vector<float> one(static_cast<size_t>(n)), many(static_cast<size_t>(n));
  swiglu(g.data(), u.data(), n, one.data());
  ThreadPool pool(3);
  swiglu(pool, g.data(), u.data(), n, many.data());
  EXPECT_EQ(one, many);
}

// Rotation angle of pair i at position p for a plain (non-YaRN) rope, in double.
double plain_theta(int p, int i, int n_dims, double base, double freq_scale) {
  return freq_scale * p * std::pow(base, -2.0 * i / n_dims);
}

void check_rope(bool neox) {
  const int64_t n_tokens = 3, n_heads = 2, head_dim = 12;
  const int n_dims = 8;  // partial rotation: dims 8..11 untouched
  const int32_t pos[] = {0, 5, 77};
  RopeParams p;
  p.n_dims = n_dims;
  p.neox = neox;
  p.freq_base = 10000.0f;
  p.freq_scale = 0.5f;
  auto x = random_floats(static_cast<size_t>(n_tokens * n_heads * head_dim), 9);
  const auto orig = x;
  rope(x.data(), n_tokens, n_heads, head_dim, pos, p);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      const float* o = orig.data() + (t * n_heads + h) * head_dim;
      const float* r = x.data() + (t * n_heads + h) * head_dim;
      for (int i = 0; i < n_dims / 2; ++i) {
        const int a = neox ? i : 2 * i;
        const int b = neox ? i + n_dims / 2 : 2 * i + 1;
        const double th = plain_theta(pos[t], i, n_dims, 10000.0, 0.5);
        EXPECT_NEAR(r[a], o[a] * std::cos(th) - o[b] * std::sin(th), 2e-5);
        EXPECT_NEAR(r[b], o[a] * std::sin(th) + o[b] * std::cos(th), 2e-5);
      }
      for (int d = n_dims; d < head_dim; ++d) EXPECT_EQ(r[d], o[d]);
    }
  }
}

TEST(Rope, NormalMatchesFormula) {
  check_rope(false);
}
TEST(Rope, NeoxMatchesFormula) {
  check_rope(true);
}

// NEOX pairs (i, i + n_dims / 2) take the same float operations as the normal pairs (2i, 2i + 1)
// (rope_with_table runs the NEOX form as its own elementwise loop): the same bits.
TEST(Rope, NeoxPairsEqualNormalPairsBitForBit) {
  const int64_t n_tokens = 5, n_heads = 3, head_dim = 128;
  for (int n_dims : {64, 128}) {
    const int32_t pos[] = {0, 1, 17, 300, 4095};
    RopeParams p;
    p.n_dims = n_dims;
    p.freq_base = 10000.0f;
    std::vector<float> table(static_cast<size_t>(n_tokens * n_dims));
    rope_table(pos, n_tokens, p, table.data());
    const auto src = random_floats(static_cast<size_t>(n_tokens * n_heads * head_dim), 11);
    std::vector<float> neox = src, normal = src;
    const int half = n_dims / 2;
    for (int64_t r = 0; r < n_tokens * n_heads; ++r) {  // neox pair i = normal pair i
      for (int i = 0; i < half; ++i) {
        normal[r * head_dim + 2 * i] = src[r * head_dim + i];
        normal[r * head_dim + 2 * i + 1] = src[r * head_dim + half + i];
      }
    }
    p.neox = true;
    rope_with_table(neox.data(), n_tokens, n_heads, head_dim, table.data(), p);
    p.neox = false;
    rope_with_table(normal.data(), n_tokens, n_heads, head_dim, table.data(), p);
    for (int64_t r = 0; r < n_tokens * n_heads; ++r) {
      for (int i = 0; i < half; ++i) {
        ASSERT_EQ(neox[r * head_dim + i], normal[r * head_dim + 2 * i]) << n_dims << " " << r;
        ASSERT_EQ(neox[r * head_dim + half + i], normal[r * head_dim + 2 * i + 1]) << r;
      }
      for (int64_t d = n_dims; d < head_dim; ++d) {
        ASSERT_EQ(neox[r * head_dim + d], src[r * head_dim + d]);
      }
    }
  }
}

TEST(Rope, UsesGgmlFloatRecurrenceForTheta) {
  // ggml computes theta_i = p * theta_scale^i by repeated float multiplication; pin it.
  RopeParams p;
  p.n_dims = 128;
  p.freq_base = 500000.0f;
  const int32_t pos[] = {3000};
  std::vector<float> x(128, 0.0f);
  for (int i = 0; i < 128; i += 2) x[static_cast<size_t>(i)] = 1.0f;  // (1, 0) pairs
  rope(x.data(), 1, 1, 128, pos, p);
  const float theta_scale = std::pow(500000.0f, -2.0f / 128);
  float theta = 3000.0f;
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(x[2 * i], std::cos(theta)) << i;
    EXPECT_EQ(x[2 * i + 1], std::sin(theta)) << i;
    theta *= theta_scale;
  }
}

TEST(Rope, YarnMatchesFormula) {
  const int n_dims = 64;
  RopeParams p;
  p.n_dims = n_dims;
  p.freq_base = 10000.0f;
  p.freq_scale = 0.25f;
  p.n_ctx_orig = 4096;
  p.ext_factor = 1.0f;
  p.attn_factor = 0.9f;
  p.beta_fast = 32.0f;
  p.beta_slow = 1.0f;
  const int32_t pos[] = {1, 9000};
  std::vector<float> x(2 * 64);
  for (size_t i = 0; i < x.size(); i += 2) x[i] = 1.0f;
  rope(x.data(), 2, 1, 64, pos, p);

  auto corr = [&](double beta) {
    return n_dims * std::log(4096.0 / (beta * 2 * std::numbers::pi)) / (2 * std::log(10000.0));
  };
  const double low = std::max(0.0, std::floor(corr(32.0)));
  const double high = std::min(n_dims - 1.0, std::ceil(corr(1.0)));
  EXPECT_EQ(low, 10.0);
  EXPECT_EQ(high, 23.0);
  const double mscale = 0.9 * (1 + 0.1 * std::log(1 / 0.25));
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i < n_dims / 2; ++i) {
      const double extrap = pos[t] * std::pow(10000.0, -2.0 * i / n_dims);
      const double interp = 0.25 * extrap;
      const double y = (i - low) / std::max(0.001, high - low);
      const double ramp = 1 - std::min(1.0, std::max(0.0, y));
      const double th = interp * (1 - ramp) + extrap * ramp;
      // Angles up to 9000 rad: allow float error of the angle itself.
      const double tol = 2e-6 * (1 + std::fabs(th)) + 1e-5;
      EXPECT_NEAR(x[static_cast<size_t>(t * 64 + 2 * i)], std::cos(th) * mscale, tol)
          << t << " " << i;
      EXPECT_NEAR(x[static_cast<size_t>(t * 64 + 2 * i + 1)], std::sin(th) * mscale, tol)
          << t << " " << i;
    }
  }
}

// One table for several tokens, used for two tensors of different head counts (q and k), gives
// rope()'s bits: plain, NeoX, YaRN, freq_factors, partial rotation.
TEST(Rope, TableThenRotateEqualsRope) {
  const int64_t n_tokens = 5, head_dim = 24;
  const int32_t pos[] = {0, 3, 17, 900, 4095};
  const float ff[] = {1.0f, 2.0f, 4.0f, 1.5f, 1.0f, 8.0f, 3.0f, 1.0f, 2.5f, 1.0f};
  for (int variant = 0; variant < 4; ++variant) {
    RopeParams p;
    p.n_dims = variant == 3 ? 20 : 24;
    p.neox = variant == 1 || variant == 3;
    p.freq_base = 1e6f;
    if (variant == 2) {
      p.freq_scale = 0.25f;
      p.n_ctx_orig = 4096;
      p.ext_factor = 1.0f;
      p.attn_factor = 0.9f;
    }
    if (variant == 3) p.freq_factors = ff;
    std::vector<float> table(static_cast<size_t>(n_tokens * p.n_dims));
    rope_table(pos, n_tokens, p, table.data());
    for (int64_t n_heads : {6, 2}) {
      const auto x = random_floats(static_cast<size_t>(n_tokens * n_heads * head_dim), 70 + variant);
      auto want = x, got = x;
      rope(want.data(), n_tokens, n_heads, head_dim, pos, p);
      rope_with_table(got.data(), n_tokens, n_heads, head_dim, table.data(), p);
      EXPECT_EQ(got, want) << "variant " << variant << " heads " << n_heads;
      EXPECT_NE(got, x);
    }
  }
}

TEST(Rope, FreqFactorsDivideTheta) {
  RopeParams p;
  p.n_dims = 4;
  const float ff[] = {1.0f, 4.0f};
  p.freq_factors = ff;
  const int32_t pos[] = {10};
  std::vector<float> x = {1, 0, 1, 0};
  rope(x.data(), 1, 1, 4, pos, p);
  const double th1 = 10.0 * std::pow(10000.0, -0.5) / 4.0;
  EXPECT_NEAR(x[0], std::cos(10.0), 1e-6);
  EXPECT_NEAR(x[2], std::cos(th1), 1e-6);
  EXPECT_NEAR(x[3], std::sin(th1), 1e-6);
}

std::vector<float> naive_attention(const AttentionArgs& a) {
  std::vector<float> out(static_cast<size_t>(a.n_tokens * a.n_head * a.head_dim_v), 0.0f);
  const int64_t group = a.n_head / a.n_head_kv;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    for (int64_t h = 0; h < a.n_head; ++h) {
      const int64_t hk = h / group;
      const int64_t rows = a.causal ? std::min<int64_t>(a.n_kv, a.q_pos[t] + 1) : a.n_kv;
      std::vector<double> s(static_cast<size_t>(rows));
      double mx = -1e300;
      for (int64_t j = 0; j < rows; ++j) {
        double d = 0;
        for (int64_t e = 0; e < a.head_dim_k; ++e) {
          d += static_cast<double>(a.q[(t * a.n_head + h) * a.head_dim_k + e]) *
               a.k[(j * a.n_head_kv + hk) * a.head_dim_k + e];
        }
        s[j] = d * a.scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (int64_t e = 0; e < a.head_dim_v; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < rows; ++j) {
          acc += s[j] / sum * a.v[(j * a.n_head_kv + hk) * a.head_dim_v + e];
        }
        out[static_cast<size_t>((t * a.n_head + h) * a.head_dim_v + e)] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

// Args for a contiguous cache of n_kv rows (scale 1/sqrt(dk)).
AttentionArgs gqa_args(const std::vector<float>& q, const std::vector<float>& k,
                       const std::vector<float>& v, std::vector<float>& out, int64_t n_tokens,
                       int64_t n_kv, int64_t n_head, int64_t n_head_kv, int64_t dk, int64_t dv,
                       const int32_t* q_pos, bool causal) {
  AttentionArgs a;
  a.q = q.data();
  a.k = k.data();
  a.v = v.data();
  a.out = out.data();
  a.n_tokens = n_tokens;
  a.n_kv = n_kv;
  a.n_head = n_head;
  a.n_head_kv = n_head_kv;
  a.head_dim_k = dk;
  a.head_dim_v = dv;
  a.q_pos = q_pos;
  a.causal = causal;
  a.scale = 1.0f / std::sqrt(static_cast<float>(dk));
  return a;
}

// a's K and V read from head-major pages of P rows through table (each KV head's rows of a page
// together: the engine's KV pages).
void set_head_major_pages(AttentionArgs& a, const int32_t* table, int64_t P) {
  a.page_table = table;
  a.page_size = P;
  a.k_page_stride = P * a.n_head_kv * a.head_dim_k;
  a.v_page_stride = P * a.n_head_kv * a.head_dim_v;
  a.k_row_stride = a.head_dim_k;
  a.v_row_stride = a.head_dim_v;
  a.k_head_stride = P * a.head_dim_k;
  a.v_head_stride = P * a.head_dim_v;
}

TEST(Attention, CausalGqaMatchesNaive) {
  const int64_t n_tokens = 3, n_kv = 11, n_head = 6, n_head_kv = 2, dk = 40, dv = 24;
  const auto q = random_floats(static_cast<size_t>(n_tokens * n_head * dk), 21);
  const auto k = random_floats(static_cast<size_t>(n_kv * n_head_kv * dk), 22);
  const auto v = random_floats(static_cast<size_t>(n_kv * n_head_kv * dv), 23);
  const int32_t q_pos[] = {8, 9, 10};
  for (bool causal : {true, false}) {
    for (int threads : {1, 2, 5}) {
      ThreadPool pool(threads);
      std::vector<float> out(static_cast<size_t>(n_tokens * n_head * dv), NAN);
      const AttentionArgs a =
          gqa_args(q, k, v, out, n_tokens, n_kv, n_head, n_head_kv, dk, dv, q_pos, causal);
      attention(pool, a);
      const auto ref = naive_attention(a);
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_NEAR(out[i], ref[i], 1e-5) << "causal=" << causal << " i=" << i;
      }
    }
  }
}

TEST(Attention, PagedEqualsContiguousBitForBit) {
  // The same 11 rows scattered over pages of 4 (last page partly used, pages out of order and
  // interleaved with garbage) give exactly the contiguous result.
  const int64_t n_tokens = 3, n_kv = 11, n_head = 6, n_head_kv = 2, dk = 40, dv = 24, P = 4;
  const int64_t k_row = n_head_kv * dk, v_row = n_head_kv * dv;
  const auto q = random_floats(static_cast<size_t>(n_tokens * n_head * dk), 31);
  const auto k = random_floats(static_cast<size_t>(n_kv * k_row), 32);
  const auto v = random_floats(static_cast<size_t>(n_kv * v_row), 33);
  const int32_t table[] = {4, 1, 3};  // logical page i lives in physical page table[i]
  std::vector<float> kp = random_floats(static_cast<size_t>(5 * P * k_row), 34);
  std::vector<float> vp = random_floats(static_cast<size_t>(5 * P * v_row), 35);
  for (int64_t j = 0; j < n_kv; ++j) {
    std::copy_n(k.data() + j * k_row, k_row, kp.data() + (table[j / P] * P + j % P) * k_row);
    std::copy_n(v.data() + j * v_row, v_row, vp.data() + (table[j / P] * P + j % P) * v_row);
  }
  const int32_t q_pos[] = {6, 9, 10};
  for (bool causal : {true, false}) {
    ThreadPool pool(2);
    AttentionArgs a;
    a.q = q.data();
    a.k = k.data();
    a.v = v.data();
    a.n_tokens = n_tokens;
    a.n_kv = n_kv;
    a.n_head = n_head;
    a.n_head_kv = n_head_kv;
    a.head_dim_k = dk;
    a.head_dim_v = dv;
    a.q_pos = q_pos;
    a.causal = causal;
    a.scale = 0.125f;
    std::vector<float> flat(static_cast<size_t>(n_tokens * n_head * dv)), paged(flat.size());
    a.out = flat.data();
    attention(pool, a);
    a.k = kp.data();
    a.v = vp.data();
    a.page_table = table;
    a.page_size = P;
    a.k_page_stride = P * k_row;
    a.v_page_stride = P * v_row;
    a.out = paged.data();
    attention(pool, a);
    EXPECT_EQ(flat, paged) << "causal=" << causal;
  }
}

// Several calls in one run (a batched decode step: one call per sequence, each with its own
// cache length, tokens, heads and masking) give each call's own results bit for bit, whatever
// the thread count; an empty call among them is skipped.
TEST(Attention, CallsInOneRunEqualEachCallAlone) {
  struct Shape {
    int64_t n_tokens, n_kv, n_head, n_head_kv;
    bool causal;
  };
  struct Seq : Shape {
    std::vector<float> q, k, v;
    std::vector<int32_t> pos;
  };
  const Shape shapes[] = {{1, 9, 6, 2, true}, {3, 17, 6, 3, true}, {0, 5, 4, 1, true},
                          {2, 70, 8, 2, false}, {1, 1, 6, 2, true}};
  std::vector<Seq> seqs;
  for (const Shape& sh : shapes) seqs.push_back({sh, {}, {}, {}, {}});
  const int64_t dk = 40, dv = 24;
  uint32_t seed = 60;
  for (Seq& sq : seqs) {
    sq.q = random_floats(static_cast<size_t>(std::max<int64_t>(sq.n_tokens, 1) * sq.n_head * dk), seed++);
    sq.k = random_floats(static_cast<size_t>(sq.n_kv * sq.n_head_kv * dk), seed++);
    sq.v = random_floats(static_cast<size_t>(sq.n_kv * sq.n_head_kv * dv), seed++);
    for (int64_t t = 0; t < sq.n_tokens; ++t) {
      sq.pos.push_back(static_cast<int32_t>(sq.n_kv - sq.n_tokens + t));
    }
    sq.pos.push_back(0);  // never empty
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::vector<float>> alone(seqs.size()), together(seqs.size());
    std::vector<AttentionArgs> calls;
    for (size_t i = 0; i < seqs.size(); ++i) {
      const Seq& sq = seqs[i];
      const size_t n_out = static_cast<size_t>(sq.n_tokens * sq.n_head * dv);
      alone[i].assign(n_out, NAN);
      together[i].assign(n_out, NAN);
      AttentionArgs a = gqa_args(sq.q, sq.k, sq.v, alone[i], sq.n_tokens, sq.n_kv, sq.n_head,
                                 sq.n_head_kv, dk, dv, sq.pos.data(), sq.causal);
      attention(pool, a);
      a.out = together[i].data();
      calls.push_back(a);
    }
    attention(pool, calls);
    for (size_t i = 0; i < seqs.size(); ++i) {
      EXPECT_EQ(alone[i], together[i]) << "threads=" << threads << " call " << i;
      const auto ref = naive_attention(calls[i]);
      for (size_t e = 0; e < ref.size(); ++e) ASSERT_NEAR(together[i][e], ref[e], 1e-5);
    }
  }
}

// At every SIMD level: rows in several blocks of the blocked kernels (150 > 64), head widths with
// 64-, 8- and 1-float tails, 6 query heads per KV head. Close to the double-precision reference,
// and each head bit for bit what it gives when attended alone (one query head, one KV head), so
// grouping the heads that share a KV head changes no result.
TEST(Attention, GroupedHeadsEqualOneHeadAloneAtEveryLevel) {
  test::IsaGuard guard;
  const int64_t n_tokens = 4, n_kv = 150, n_head = 12, n_head_kv = 2;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kNeonDot}) {
    if (!isa_available(isa)) continue;
    set_active_isa(isa);
    for (auto [dk, dv] : {std::pair<int64_t, int64_t>{128, 128}, {192, 130}, {40, 27}}) {
      const auto q = random_floats(static_cast<size_t>(n_tokens * n_head * dk), 41);
      const auto k = random_floats(static_cast<size_t>(n_kv * n_head_kv * dk), 42);
      const auto v = random_floats(static_cast<size_t>(n_kv * n_head_kv * dv), 43);
      const int32_t q_pos[] = {70, 100, 148, 149};
      ThreadPool pool(2);
      std::vector<float> out(static_cast<size_t>(n_tokens * n_head * dv), NAN);
      const AttentionArgs a =
          gqa_args(q, k, v, out, n_tokens, n_kv, n_head, n_head_kv, dk, dv, q_pos, true);
      attention(pool, a);
      const auto ref = naive_attention(a);
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_NEAR(out[i], ref[i], 1e-5) << "isa=" << static_cast<int>(isa) << " i=" << i;
      }
      const int64_t group = n_head / n_head_kv;
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t h = 0; h < n_head; ++h) {
          // Head h of token t alone: its query, and its KV head's columns as a one-head cache.
          const int64_t hk = h / group;
          std::vector<float> k1(static_cast<size_t>(n_kv * dk)), v1(static_cast<size_t>(n_kv * dv));
          for (int64_t j = 0; j < n_kv; ++j) {
            std::copy_n(k.data() + (j * n_head_kv + hk) * dk, dk, k1.data() + j * dk);
            std::copy_n(v.data() + (j * n_head_kv + hk) * dv, dv, v1.data() + j * dv);
          }
          std::vector<float> o1(static_cast<size_t>(dv), NAN);
          AttentionArgs b = a;
          b.q = q.data() + (t * n_head + h) * dk;
          b.k = k1.data();
          b.v = v1.data();
          b.out = o1.data();
          b.n_tokens = 1;
          b.n_head = 1;
          b.n_head_kv = 1;
          b.q_pos = q_pos + t;
          attention(pool, b);
          const float* got = out.data() + (t * n_head + h) * dv;
          ASSERT_TRUE(std::equal(o1.begin(), o1.end(), got))
              << "isa=" << static_cast<int>(isa) << " dk=" << dk << " t=" << t << " h=" << h;
        }
      }
    }
  }
}

TEST(Attention, CausalMaskActuallyMasks) {
  // Token at position 0 must see only cache row 0: output equals v[0].
  ThreadPool pool(2);
  const std::vector<float> q = {1, 2}, k = {1, 0, 100, 100}, v = {3, 4, 50, 60};
  std::vector<float> out(2);
  const int32_t pos[] = {0};
  AttentionArgs a;
  a.q = q.data();
  a.k = k.data();
  a.v = v.data();
  a.out = out.data();
  a.n_tokens = 1;
  a.n_kv = 2;
  a.n_head = 1;
  a.n_head_kv = 1;
  a.head_dim_k = 2;
  a.head_dim_v = 2;
  a.q_pos = pos;
  attention(pool, a);
  EXPECT_EQ(out, (std::vector<float>{3, 4}));
}

// MLA's absorbed form: one KV head whose rows [pe, latent] also hold V (the latent, at an offset
// in the same rows), read with row strides. Equals the same attention over packed copies bit for
// bit, at 1, 2 and 5 threads (one token: its query heads split over the threads).
TEST(Attention, SharedStridedRowsEqualPackedCopiesBitForBit) {
  const int64_t n_kv = 9, n_head = 6, pe = 8, lat = 24, row = pe + lat;
  const auto rows = random_floats(static_cast<size_t>(n_kv * row), 41);
  std::vector<float> k(rows), v(static_cast<size_t>(n_kv * lat));
  for (int64_t j = 0; j < n_kv; ++j) {
    std::copy_n(rows.data() + j * row + pe, lat, v.data() + j * lat);
  }
  for (int64_t n_tokens : {1, 3}) {
    const auto q = random_floats(static_cast<size_t>(n_tokens * n_head * row), 42);
    const int32_t q_pos[] = {6, 7, 8};
    for (int threads : {1, 2, 5}) {
      ThreadPool pool(threads);
      std::vector<float> packed(static_cast<size_t>(n_tokens * n_head * lat), NAN), strided(packed);
      AttentionArgs a = gqa_args(q, k, v, packed, n_tokens, n_kv, n_head, 1, row, lat,
                                 q_pos + 3 - n_tokens, true);
      attention(pool, a);
      const auto ref = naive_attention(a);
      a.k = rows.data();
      a.v = rows.data() + pe;
      a.k_row_stride = a.v_row_stride = row;
      a.out = strided.data();
      attention(pool, a);
      EXPECT_TRUE(strided == packed) << "tokens " << n_tokens << " threads " << threads;
      for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(packed[i], ref[i], 1e-5) << i;
    }
  }
}

// head_matmul_xw / head_matmul_wx against plain loops, strided tokens and heads, any threads.
TEST(HeadMatmul, MatchesPlainLoops) {
  const int64_t n_head = 5, rows = 7, cols = 33, stride = rows + 2, T = 3;
  const auto w = random_floats(static_cast<size_t>(n_head * stride * cols), 51);
  const HeadWeights hw{TensorType::kF32, w.data(), n_head, rows, cols, stride};
  // xw: x[t][h] has rows values at x + t * (n_head * 10) + h * 10; y[t][h] cols values.
  const auto x1 = random_floats(static_cast<size_t>(T * n_head * 10), 52);
  // wx: x[t][h] has cols values.
  const auto x2 = random_floats(static_cast<size_t>(T * n_head * cols), 53);
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    std::vector<float> y1(static_cast<size_t>(T * n_head * cols), NAN);
    head_matmul_xw(pool, hw, x1.data(), {n_head * 10, 10}, y1.data(), {n_head * cols, cols}, T);
    std::vector<float> y2(static_cast<size_t>(T * n_head * rows), NAN);
    head_matmul_wx(pool, hw, x2.data(), {n_head * cols, cols}, y2.data(), {n_head * rows, rows}, T);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < n_head; ++h) {
        const float* wh = w.data() + h * stride * cols;
        for (int64_t c = 0; c < cols; ++c) {
          double want = 0;
          for (int64_t d = 0; d < rows; ++d) {
            want += static_cast<double>(x1[t * n_head * 10 + h * 10 + d]) * wh[d * cols + c];
          }
          ASSERT_NEAR(y1[(t * n_head + h) * cols + c], want, 1e-5) << t << " " << h << " " << c;
        }
        for (int64_t e = 0; e < rows; ++e) {
          double want = 0;
          for (int64_t c = 0; c < cols; ++c) {
            want += static_cast<double>(wh[e * cols + c]) * x2[(t * n_head + h) * cols + c];
          }
          ASSERT_NEAR(y2[(t * n_head + h) * rows + e], want, 1e-5) << t << " " << h << " " << e;
        }
      }
    }
  }
}

// Quantized heads (dequantized a row at a time inside the kernels) give, at every level, the bits
// of the same products over the matrix dequantized beforehand.
TEST(HeadMatmul, QuantizedRowsEqualTheirDequantizedMatrixBitForBit) {
  test::IsaGuard guard;
  const int64_t n_head = 3, rows = 5, stride = rows + 1, T = 2;
  for (int64_t cols : {512, 256 + 96}) {  // (the in-register loops: 8-block tiles, then single blocks)
  const auto src = random_floats(static_cast<size_t>(n_head * stride * cols), 54);
  const auto x1 = random_floats(static_cast<size_t>(T * n_head * rows), 55);
  const auto x2 = random_floats(static_cast<size_t>(T * n_head * cols), 56);
  for (Isa isa : test::kAllIsas) {
    if (!isa_available(isa)) continue;
    set_active_isa(isa);
    for (TensorType type : {TensorType::kF16, TensorType::kBF16, TensorType::kQ4_0, TensorType::kQ8_0,
                            TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K}) {
      if (cols % tensor_type_traits(type)->block_size != 0) continue;
      const size_t rb = tensor_row_size(type, cols);
      std::vector<uint8_t> q(rb * static_cast<size_t>(n_head * stride));
      std::vector<float> deq(src.size());
      for (int64_t r = 0; r < n_head * stride; ++r) {
        quantize_row(type, src.data() + r * cols, q.data() + r * rb, cols);
        dequantize_row(type, q.data() + r * rb, deq.data() + r * cols, cols);
      }
      const HeadWeights hq{type, q.data(), n_head, rows, cols, stride};
      const HeadWeights hf{TensorType::kF32, deq.data(), n_head, rows, cols, stride};
      ThreadPool pool(2);
      std::vector<float> a(static_cast<size_t>(T * n_head * cols)), b(a.size());
      head_matmul_xw(pool, hq, x1.data(), {n_head * rows, rows}, a.data(), {n_head * cols, cols}, T);
      head_matmul_xw(pool, hf, x1.data(), {n_head * rows, rows}, b.data(), {n_head * cols, cols}, T);
      EXPECT_EQ(a, b) << "isa " << static_cast<int>(isa) << " " << tensor_type_name(type) << " " << cols;
      std::vector<float> c(static_cast<size_t>(T * n_head * rows)), d(c.size());
      head_matmul_wx(pool, hq, x2.data(), {n_head * cols, cols}, c.data(), {n_head * rows, rows}, T);
      head_matmul_wx(pool, hf, x2.data(), {n_head * cols, cols}, d.data(), {n_head * rows, rows}, T);
      EXPECT_EQ(c, d) << "isa " << static_cast<int>(isa) << " " << tensor_type_name(type) << " " << cols;
    }
  }
  }
}

// Every level's dequantizer gives the scalar reference's bits (the SIMD ones: F16, BF16, Q4_0,
// Q8_0, Q4_K, Q6_K at the x86-64 levels), for values of every magnitude the formats hold.
TEST(Dequantize, EveryLevelGivesTheScalarBits) {
  test::IsaGuard guard;
  const int64_t n = 768;
  auto src = random_floats(static_cast<size_t>(n), 57, -3.0f, 3.0f);
  for (int64_t i = 0; i < n; i += 5) src[i] *= 1e-6f;  // subnormal halves, tiny scales
  for (TensorType type : {TensorType::kF16, TensorType::kBF16, TensorType::kQ4_0, TensorType::kQ4_1,
                          TensorType::kQ5_0, TensorType::kQ8_0, TensorType::kQ2_K, TensorType::kQ3_K,
                          TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K}) {
    std::vector<uint8_t> q(tensor_row_size(type, n));
    quantize_row(type, src.data(), q.data(), n);
    set_active_isa(Isa::kScalar);
    std::vector<float> want(static_cast<size_t>(n));
    dequantize_row(type, q.data(), want.data(), n);
    for (Isa isa : test::kAllIsas) {
      if (!isa_available(isa)) continue;
      set_active_isa(isa);
      std::vector<float> got(static_cast<size_t>(n), NAN);
      dequantize_row(type, q.data(), got.data(), n);
      EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
          << "isa " << static_cast<int>(isa) << " " << tensor_type_name(type);
    }
  }
}

// At the x86-64 levels and the scalar one, one query head's attention is, bit for bit, the
// level's F32 vec_dot per row, its softmax, then per output element the rows' terms in row order
// (x86 SIMD: an FMA for the elements below dv rounded down to 8, a multiply and an add for the
// rest; scalar: a multiply and an add).
TEST(Attention, EqualsTheLevelsDotSoftmaxAndRowTerms) {
  test::IsaGuard guard;
  const int64_t n_kv = 77, n_head = 7;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_available(isa)) continue;
    set_active_isa(isa);
    for (auto [dk, dv] : {std::pair<int64_t, int64_t>{128, 128}, {130, 27}, {40, 152}}) {
      const auto q = random_floats(static_cast<size_t>(n_head * dk), 61);
      const auto k = random_floats(static_cast<size_t>(n_kv * dk), 62);
      const auto v = random_floats(static_cast<size_t>(n_kv * dv), 63);
      const int32_t q_pos[] = {static_cast<int32_t>(n_kv - 1)};
      ThreadPool pool(2);
      std::vector<float> out(static_cast<size_t>(n_head * dv), NAN);
      AttentionArgs a = gqa_args(q, k, v, out, 1, n_kv, n_head, 1, dk, dv, q_pos, true);
      attention(pool, a);
      const int64_t fma_end = isa == Isa::kScalar ? 0 : dv / 8 * 8;
      for (int64_t h = 0; h < n_head; ++h) {
        std::vector<float> s(static_cast<size_t>(n_kv));
        for (int64_t j = 0; j < n_kv; ++j) {
          s[j] = vec_dot_with(isa, TensorType::kF32, dk, k.data() + j * dk, q.data() + h * dk);
        }
        softmax(s.data(), n_kv, a.scale);
        for (int64_t d = 0; d < dv; ++d) {
          float y = 0.0f;
          for (int64_t j = 0; j < n_kv; ++j) {
            const float vj = v[j * dv + d];
            if (d < fma_end) {
              y = std::fma(s[j], vj, y);
            } else {
              const float t = s[j] * vj;
              y = y + t;
            }
          }
          ASSERT_EQ(out[h * dv + d], y) << "isa=" << static_cast<int>(isa) << " dk=" << dk
                                        << " h=" << h << " d=" << d;
        }
      }
    }
  }
}

// Softmax at every level: within a few ulp of the scalar level's (std::exp) values, summing to 1.
TEST(Softmax, SimdLevelsAgreeWithTheScalarLevel) {
  test::IsaGuard guard;
  for (int64_t n : {1, 7, 8, 16, 37, 2048}) {
    auto x = random_floats(static_cast<size_t>(n), 71);
    for (auto& e : x) e *= 30.0f;  // scores over a wide range
    set_active_isa(Isa::kScalar);
    auto ref = x;
    softmax(ref.data(), n, 0.7f);
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kNeonDot}) {
      if (!isa_available(isa)) continue;
      set_active_isa(isa);
      auto y = x;
      softmax(y.data(), n, 0.7f);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(y[i], ref[i], 4e-7f * std::max(1.0f, ref[i]) + 1e-30f) << n << " " << i;
        sum += y[i];
      }
      EXPECT_NEAR(sum, 1.0, 1e-5) << n;
    }
  }
}

// Masked scores (-inf) at every level: a row with one finite score is one-hot whether that score
// sits in the vector part or the scalar tail, and a fully masked row is all zeros.
TEST(Softmax, MaskedScoresAtEveryLevel) {
  test::IsaGuard guard;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kNeonDot}) {
    if (!isa_available(isa)) continue;
    set_active_isa(isa);
    for (int64_t n : {5, 16, 37}) {
      std::vector<float> all(static_cast<size_t>(n), -INFINITY);
      softmax(all.data(), n, 0.5f);
      for (float v : all) ASSERT_EQ(v, 0.0f) << static_cast<int>(isa) << " " << n;
      for (int64_t hot : {int64_t{0}, n - 1}) {
        std::vector<float> x(static_cast<size_t>(n), -INFINITY);
        x[static_cast<size_t>(hot)] = -3.0f;
        softmax(x.data(), n, 0.5f);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(x[static_cast<size_t>(i)], i == hot ? 1.0f : 0.0f)
              << static_cast<int>(isa) << " " << n << " " << hot;
        }
      }
    }
  }
}

// Several tokens of one call (prefill) share each K and V row's reads (attend_group): every
// (token, head) output is, bit for bit, that token's attention alone, at every level, for grouped
// (6 heads per KV head) and plain (1 per KV head) heads, with causal rows that differ from token
// to token (one token attending to nothing past position 0, one to fewer rows than the tokens
// before it) and the rows on pages.
TEST(Attention, TokensTogetherEqualEachTokenAloneBitForBit) {
  test::IsaGuard guard;
  const int64_t n_kv = 37, dk = 40, dv = 72, P = 4, n_pages = (n_kv + P - 1) / P;
  const int32_t q_pos[] = {36, 0, 20, 21, 22, 23, 9, 24, 30, 31, 35, 36, 12};
  const int64_t n_tokens = static_cast<int64_t>(std::size(q_pos));
  std::vector<int32_t> table(static_cast<size_t>(n_pages));
  for (int64_t p = 0; p < n_pages; ++p) table[p] = static_cast<int32_t>((p * 5 + 3) % n_pages);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_available(isa)) continue;
    set_active_isa(isa);
    for (auto [n_head, n_head_kv] : {std::pair<int64_t, int64_t>{12, 2}, {4, 4}}) {
      const auto q = random_floats(static_cast<size_t>(n_tokens * n_head * dk), 91);
      const auto k = random_floats(static_cast<size_t>(n_pages * P * n_head_kv * dk), 92);
      const auto v = random_floats(static_cast<size_t>(n_pages * P * n_head_kv * dv), 93);
      std::vector<float> all(static_cast<size_t>(n_tokens * n_head * dv), NAN),
          one(all.size(), NAN);
      ThreadPool pool(2);
      AttentionArgs a =
          gqa_args(q, k, v, all, n_tokens, n_kv, n_head, n_head_kv, dk, dv, q_pos, true);
      set_head_major_pages(a, table.data(), P);
      attention(pool, a);
      for (int64_t t = 0; t < n_tokens; ++t) {
        AttentionArgs b = a;
        b.q = q.data() + t * n_head * dk;
        b.out = one.data() + t * n_head * dv;
        b.q_pos = q_pos + t;
        b.n_tokens = 1;
        attention(pool, b);
      }
      for (size_t i = 0; i < all.size(); ++i) {
        ASSERT_EQ(all[i], one[i]) << "isa=" << static_cast<int>(isa) << " heads=" << n_head
                                  << " token=" << i / static_cast<size_t>(n_head * dv);
      }
    }
  }
}

// Pages stored head-major (each KV head's rows of a page together: the engine's KV pages) give the
// contiguous cache's result bit for bit.
TEST(Attention, HeadMajorPagesEqualContiguousBitForBit) {
  const int64_t n_tokens = 2, n_kv = 11, n_head = 6, n_head_kv = 3, dk = 40, dv = 24, P = 4;
  const auto q = random_floats(static_cast<size_t>(n_tokens * n_head * dk), 81);
  const auto k = random_floats(static_cast<size_t>(n_kv * n_head_kv * dk), 82);
  const auto v = random_floats(static_cast<size_t>(n_kv * n_head_kv * dv), 83);
  const int32_t table[] = {2, 0, 3};
  std::vector<float> kp = random_floats(static_cast<size_t>(4 * P * n_head_kv * dk), 84);
  std::vector<float> vp = random_floats(static_cast<size_t>(4 * P * n_head_kv * dv), 85);
  for (int64_t j = 0; j < n_kv; ++j) {
    const int64_t page = table[j / P], r = j % P;
    for (int64_t h = 0; h < n_head_kv; ++h) {
      std::copy_n(k.data() + (j * n_head_kv + h) * dk, dk,
                  kp.data() + page * P * n_head_kv * dk + (h * P + r) * dk);
      std::copy_n(v.data() + (j * n_head_kv + h) * dv, dv,
                  vp.data() + page * P * n_head_kv * dv + (h * P + r) * dv);
    }
  }
  const int32_t q_pos[] = {7, 10};
  ThreadPool pool(2);
  std::vector<float> flat(static_cast<size_t>(n_tokens * n_head * dv)), paged(flat.size());
  AttentionArgs a = gqa_args(q, k, v, flat, n_tokens, n_kv, n_head, n_head_kv, dk, dv, q_pos, true);
  attention(pool, a);
  a.k = kp.data();
  a.v = vp.data();
  a.out = paged.data();
  set_head_major_pages(a, table, P);
  attention(pool, a);
  EXPECT_TRUE(paged == flat);
}

// An f16 cache (k16, v16: the engine's --cache-type f16) gives, bit for bit, what an f32 cache
// holding the same (widened) values gives: at every level (the AVX-512 loops widen as they load,
// the others a block of rows at a time), for decode and prefill items, grouped and plain heads,
// with the 64-, 8- and 1-element tails, on head-major pages.
TEST(Attention, F16CacheEqualsF32CacheOfItsValuesAtEveryLevel) {
  test::IsaGuard guard;
  const int64_t n_kv = 53, P = 16, n_pages = (n_kv + P - 1) / P;
  const int32_t q_pos[] = {52, 0, 20, 21, 30, 52, 7};
  std::vector<int32_t> table(static_cast<size_t>(n_pages));
  for (int64_t p = 0; p < n_pages; ++p) table[p] = static_cast<int32_t>((p * 3 + 1) % n_pages);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kNeonDot}) {
    if (!isa_available(isa)) continue;
    set_active_isa(isa);
    for (auto [dk, dv] : {std::pair<int64_t, int64_t>{128, 128}, {40, 72}, {192, 130}}) {
      for (auto [n_head, n_head_kv] : {std::pair<int64_t, int64_t>{12, 2}, {4, 4}}) {
        for (int64_t n_tokens : {int64_t{1}, static_cast<int64_t>(std::size(q_pos))}) {
          const auto q = random_floats(static_cast<size_t>(n_tokens * n_head * dk), 101);
          const auto k = random_floats(static_cast<size_t>(n_pages * P * n_head_kv * dk), 102);
          const auto v = random_floats(static_cast<size_t>(n_pages * P * n_head_kv * dv), 103);
          std::vector<uint16_t> k16(k.size()), v16(v.size());
          quantize_row(TensorType::kF16, k.data(), k16.data(), static_cast<int64_t>(k.size()));
          quantize_row(TensorType::kF16, v.data(), v16.data(), static_cast<int64_t>(v.size()));
          std::vector<float> kw(k.size()), vw(v.size());
          for (size_t i = 0; i < k.size(); ++i) kw[i] = fp16_to_fp32(k16[i]);
          for (size_t i = 0; i < v.size(); ++i) vw[i] = fp16_to_fp32(v16[i]);
          std::vector<float> want(static_cast<size_t>(n_tokens * n_head * dv), NAN),
              got(want.size(), NAN);
          ThreadPool pool(2);
          AttentionArgs a =
              gqa_args(q, kw, vw, want, n_tokens, n_kv, n_head, n_head_kv, dk, dv, q_pos, true);
          set_head_major_pages(a, table.data(), P);
          attention(pool, a);
          a.k = a.v = nullptr;
          a.k16 = k16.data();
          a.v16 = v16.data();
          a.out = got.data();
          attention(pool, a);
          for (size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(got[i], want[i])
                << "isa=" << static_cast<int>(isa) << " dk=" << dk << " heads=" << n_head
                << " tokens=" << n_tokens << " i=" << i;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace dkb::kernels
