#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <vector>

#include "test_util.h"

namespace dkb::kernels {
namespace {

using test::kWeightTypes;
using test::random_floats;
using test::random_row;

// Naive reference: the same dot kernel, one (token, row) at a time.
std::vector<float> naive(TensorType t, const std::vector<uint8_t>& w, int64_t n_in, int64_t n_out,
                         const std::vector<float>& x, int64_t n_tokens) {
  const TensorType vt = vec_dot_type(t);
  const size_t w_row = tensor_row_size(t, n_in);
  std::vector<float> y(static_cast<size_t>(n_tokens * n_out));
  for (int64_t tok = 0; tok < n_tokens; ++tok) {
    const auto xq = test::quantized(vt, x.data() + tok * n_in, n_in);
    for (int64_t o = 0; o < n_out; ++o) {
      y[tok * n_out + o] = vec_dot(t, n_in, w.data() + o * w_row, xq.data());
    }
  }
  return y;
}

std::vector<uint8_t> random_matrix(TensorType t, int64_t n_in, int64_t n_out, uint32_t seed) {
  std::vector<uint8_t> w;
  for (int64_t o = 0; o < n_out; ++o) {
    const auto row = random_row(t, n_in, seed + static_cast<uint32_t>(o));
    w.insert(w.end(), row.begin(), row.end());
  }
  return w;
}

TEST(Matmul, MatchesNaiveLoopForAllTypesAndThreadCounts) {
  struct Shape {
    int64_t n_out, n_tokens;
  };
  const Shape shapes[] = {{1, 1}, {37, 1}, {5, 7}, {53, 3}, {3, 9}};
  for (Isa isa : test::kAllIsas) {
    if (!isa_available(isa)) continue;
    test::IsaGuard guard;
    set_active_isa(isa);
    for (int n_threads = 1; n_threads <= 7; n_threads += (isa != Isa::kScalar ? 1 : 3)) {
      ThreadPool pool(n_threads);
      MatmulScratch scratch;
      uint32_t seed = 11;
      for (TensorType t : kWeightTypes) {
        const int64_t n_in = tensor_type_traits(t)->block_size == 256 ? 512 : 96;
        for (const Shape& s : shapes) {
          const auto w = random_matrix(t, n_in, s.n_out, seed);
          const auto x = random_floats(static_cast<size_t>(n_in * s.n_tokens), seed + 999);
          seed += 7;
          std::vector<float> y(static_cast<size_t>(s.n_out * s.n_tokens), NAN);
          matmul(pool, scratch, t, w.data(), n_in, s.n_out, x.data(), s.n_tokens, y.data());
          EXPECT_EQ(y, naive(t, w, n_in, s.n_out, x, s.n_tokens))
              << tensor_type_name(t) << " threads=" << n_threads << " n_out=" << s.n_out
              << " n_tokens=" << s.n_tokens;
        }
      }
    }
  }
}

TEST(Matmul, CloseToFloatMatmul) {
  ThreadPool pool(3);
  MatmulScratch scratch;
  const int64_t n_in = 256, n_out = 19, n_tokens = 5;
  for (TensorType t : kWeightTypes) {
    const auto w = random_matrix(t, n_in, n_out, 77);
    const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), 78);
    std::vector<float> y(static_cast<size_t>(n_out * n_tokens));
    matmul(pool, scratch, t, w.data(), n_in, n_out, x.data(), n_tokens, y.data());
    const size_t w_row = tensor_row_size(t, n_in);
    for (int64_t tok = 0; tok < n_tokens; ++tok) {
      for (int64_t o = 0; o < n_out; ++o) {
        const auto wd = test::dequantized(t, w.data() + o * w_row, n_in);
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < n_in; ++i) {
          ref += static_cast<double>(wd[i]) * x[tok * n_in + i];
          mag += std::fabs(static_cast<double>(wd[i]) * x[tok * n_in + i]);
        }
        // Activation quantization (8-bit) dominates the error.
        EXPECT_NEAR(y[tok * n_out + o], ref, 0.02 * mag + 1e-6) << tensor_type_name(t);
      }
    }
  }
}

// One weight of a matmul_shared_input check: its type and layout.
struct SharedTarget {
  TensorType type;
  WeightLayout layout = WeightLayout::kRows;
};

// matmul_shared_input over random weights of the given types, layouts and row counts (target i
// has n_outs[i] rows) gives each target matmul()'s bits.
void expect_shared_input_matches_matmul(ThreadPool& pool, MatmulScratch& scratch,
                                        MatmulScratch& scratch1,
                                        const std::vector<SharedTarget>& group,
                                        const int64_t* n_outs, int64_t n_in, int64_t n_tokens,
                                        uint32_t& seed, const std::string& what) {
  const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), seed++);
  std::vector<std::vector<uint8_t>> ws;
  std::vector<std::vector<float>> ys;
  std::vector<MatmulTarget> targets;
  for (size_t i = 0; i < group.size(); ++i) {
    ws.push_back(random_matrix(group[i].type, n_in, n_outs[i], seed++));
    if (group[i].layout == WeightLayout::kInterleaved16) {
      interleave_rows(group[i].type, n_in, n_outs[i], ws.back().data());
    }
    ys.emplace_back(static_cast<size_t>(n_outs[i] * n_tokens), NAN);
  }
  for (size_t i = 0; i < group.size(); ++i) {
    targets.push_back({group[i].type, ws[i].data(), n_outs[i], ys[i].data(), group[i].layout});
  }
  matmul_shared_input(pool, scratch, targets, n_in, x.data(), n_tokens);
  for (size_t i = 0; i < group.size(); ++i) {
    std::vector<float> y(static_cast<size_t>(n_outs[i] * n_tokens), NAN);
    matmul(pool, scratch1, group[i].type, ws[i].data(), n_in, n_outs[i], x.data(), n_tokens,
           y.data(), group[i].layout);
    EXPECT_EQ(ys[i], y) << tensor_type_name(group[i].type) << " target " << i << " " << what
                        << " tokens=" << n_tokens;
  }
}

// expect_shared_input_matches_matmul for every group and token count (n_in 512), at every level
// and 1..max_threads threads; seeds from seed0.
void expect_shared_groups_match_matmul(const std::vector<std::vector<SharedTarget>>& groups,
                                       const int64_t* n_outs, int max_threads,
                                       std::initializer_list<int64_t> token_counts,
                                       uint32_t seed0) {
  for (Isa isa : test::kAllIsas) {
    if (!isa_available(isa)) continue;
    test::IsaGuard guard;
    set_active_isa(isa);
    for (int n_threads = 1; n_threads <= max_threads; ++n_threads) {
      ThreadPool pool(n_threads);
      MatmulScratch scratch, scratch1;
      uint32_t seed = seed0;
      for (const auto& group : groups) {
        for (int64_t n_tokens : token_counts) {
          expect_shared_input_matches_matmul(
              pool, scratch, scratch1, group, n_outs, 512, n_tokens, seed,
              "isa=" + std::to_string(static_cast<int>(isa)) + " threads=" +
                  std::to_string(n_threads));
        }
      }
    }
  }
}

// matmul_shared_input gives each target matmul()'s bits: same-type groups (fused into one pool
// run where they take the tile path), mixed types with one activation format (Q4_K + Q6_K, as in
// Q4_K_M's q/k/v; fused), mixed formats (Q4_0 + Q6_K; one matmul each), odd row counts, tokens
// from 1 up to the GEMM path, every level and 1-3 threads.
TEST(Matmul, SharedInputMatchesMatmulPerTarget) {
  const std::vector<std::vector<SharedTarget>> groups = {
      {{TensorType::kQ4_0}, {TensorType::kQ4_0}, {TensorType::kQ4_0}},
      {{TensorType::kQ8_0}, {TensorType::kQ8_0}},
      {{TensorType::kQ4_K}, {TensorType::kQ4_K}, {TensorType::kQ6_K}},
      {{TensorType::kQ5_0}, {TensorType::kQ5_K}},
      {{TensorType::kQ4_0}, {TensorType::kQ6_K}},
      {{TensorType::kF16}, {TensorType::kQ4_1}, {TensorType::kQ5_K}, {TensorType::kQ8_0}}};
  const int64_t n_outs[] = {37, 8, 61, 4};
  expect_shared_groups_match_matmul(groups, n_outs, 3, {1, 3, 70}, 5);
}

// One task of a matmul_batch check.
struct BatchTask {
  TensorType type;
  WeightLayout layout;
  int64_t n_in, n_out;
};

// matmul_batch gives each task, over its own input, matmul()'s bits: tile-path tasks of several
// weight and activation types (fused), interleaved ones (fused, at the AVX-512 level), row and
// interleaved layouts side by side and a sliced layout (one matmul each), every level, 1-2
// threads, one token (decode) to more than a tile holds.
TEST(Matmul, BatchMatchesMatmulPerTask) {
  using T = TensorType;
  constexpr WeightLayout R = WeightLayout::kRows, I = WeightLayout::kInterleaved16;
  const std::vector<std::vector<BatchTask>> groups = {
      {{T::kQ4_0, R, 96, 37}, {T::kQ4_0, R, 256, 8}, {T::kQ8_0, R, 64, 61}, {T::kQ4_K, R, 256, 20}},
      {{T::kQ4_0, I, 96, 32}, {T::kQ4_0, I, 256, 16}, {T::kQ4_K, I, 256, 48}, {T::kQ6_K, I, 768, 16}},
      {{T::kQ4_0, I, 96, 32}, {T::kQ4_0, R, 96, 16}},
      {{T::kQ4_0, I, 32 * 200, 16}, {T::kQ4_0, I, 96, 16}},
      {{T::kF16, R, 64, 5}, {T::kQ8_0, R, 64, 9}}};
  for (Isa isa : test::kAllIsas) {
    if (!isa_available(isa)) continue;
    test::IsaGuard guard;
    set_active_isa(isa);
    for (int n_threads = 1; n_threads <= 2; ++n_threads) {
      ThreadPool pool(n_threads);
      MatmulScratch scratch, scratch1;
      uint32_t seed = 301;
      for (const auto& group : groups) {
        for (int64_t n_tokens : {1, 3, 20}) {
          std::vector<std::vector<uint8_t>> ws;
          std::vector<std::vector<float>> xs, ys;
          std::vector<MatmulTask> tasks;
          for (const BatchTask& b : group) {
            ws.push_back(random_matrix(b.type, b.n_in, b.n_out, seed++));
            if (b.layout == I) {
              ASSERT_TRUE(interleave_supported(b.type, b.n_in, b.n_out));
              interleave_rows(b.type, b.n_in, b.n_out, ws.back().data());
            }
            xs.push_back(random_floats(static_cast<size_t>(b.n_in * n_tokens), seed++));
            ys.emplace_back(static_cast<size_t>(b.n_out * n_tokens), NAN);
          }
          for (size_t i = 0; i < group.size(); ++i) {
            tasks.push_back({group[i].type, ws[i].data(), group[i].n_in, group[i].n_out,
                             xs[i].data(), ys[i].data(), group[i].layout});
          }
          matmul_batch(pool, scratch, tasks, n_tokens);
          for (size_t i = 0; i < group.size(); ++i) {
            std::vector<float> y(ys[i].size(), NAN);
            matmul(pool, scratch1, group[i].type, ws[i].data(), group[i].n_in, group[i].n_out,
                   xs[i].data(), n_tokens, y.data(), group[i].layout);
            EXPECT_EQ(ys[i], y) << tensor_type_name(group[i].type) << " task " << i
                                << " isa=" << static_cast<int>(isa) << " threads=" << n_threads
                                << " tokens=" << n_tokens;
          }
        }
      }
    }
  }
}

// The weight types with the interleaved layout, and row lengths for them: odd and even block
// counts.
std::vector<TensorType> interleaved_types() {
  std::vector<TensorType> v;
  for (TensorType t : kWeightTypes) {
    if (interleave_supported(t, tensor_type_traits(t)->block_size, 16)) v.push_back(t);
  }
  return v;
}
std::vector<int64_t> interleave_lengths(TensorType t) {
  const int64_t bs = tensor_type_traits(t)->block_size;
  return bs == 256 ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{96, 256};
}

// The interleaved layout: interleave_rows then deinterleave_rows gives the rows back, and it
// changes the bytes (so a matmul that ignored the layout would fail below).
TEST(Interleave, RoundTripsAndReordersTheBytes) {
  ASSERT_FALSE(interleaved_types().empty());
  for (TensorType t : interleaved_types()) {
    for (int64_t n_in : interleave_lengths(t)) {
      const int64_t n_rows = 48;
      const auto w = random_matrix(t, n_in, n_rows, 3);
      ASSERT_TRUE(interleave_supported(t, n_in, n_rows));
      auto v = w;
      interleave_rows(t, n_in, n_rows, v.data());
      EXPECT_NE(v, w) << tensor_type_name(t) << " " << n_in;
      deinterleave_rows(t, n_in, n_rows, v.data());
      EXPECT_EQ(v, w) << tensor_type_name(t) << " " << n_in;
    }
    EXPECT_FALSE(interleave_supported(t, interleave_lengths(t)[0], 40));  // not whole groups
  }
  EXPECT_FALSE(interleave_supported(TensorType::kQ4_0, 48, 32));  // not whole blocks
  EXPECT_FALSE(interleave_supported(TensorType::kF16, 256, 32));
}

// matmul over interleaved weights gives the row layout's bits at every level (the AVX-512
// level's kernel, the others' de-interleaving) for 1 and 2 threads (chunks of groups dealt out
// as threads ask: 1 group each for 80 rows, 2 and a last 1 for 400), token counts from decode
// through the kernel's chunks (24) and tails, odd and even block counts, and through
// matmul_shared_input (fused with a second interleaved target, or beside a row-layout one).
TEST(Interleave, MatmulMatchesRowLayoutAtEveryLevel) {
  for (Isa isa : test::kAllIsas) {
    if (!isa_available(isa)) continue;
    test::IsaGuard guard;
    set_active_isa(isa);
    for (int n_threads = 1; n_threads <= 2; ++n_threads) {
      ThreadPool pool(n_threads);
      MatmulScratch scratch, scratch1;
      uint32_t seed = 101;
      for (TensorType t : interleaved_types()) {
        for (int64_t n_in : interleave_lengths(t)) {
          for (int64_t n_out : {16, 80, 400}) {
            if (n_out == 400 && n_in != interleave_lengths(t)[0]) continue;  // (test time)
            const auto w = random_matrix(t, n_in, n_out, seed++);
            auto wi = w;
            interleave_rows(t, n_in, n_out, wi.data());
            const auto w2 = random_matrix(t, n_in, 32, seed++);
            auto w2i = w2;
            interleave_rows(t, n_in, 32, w2i.data());
            for (int64_t n_tokens : {1, 2, 5, 8, 17, 24, 31, 70}) {
              const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), seed++);
              std::vector<float> ref(static_cast<size_t>(n_out * n_tokens), NAN), y = ref;
              matmul(pool, scratch, t, w.data(), n_in, n_out, x.data(), n_tokens, ref.data());
              matmul(pool, scratch1, t, wi.data(), n_in, n_out, x.data(), n_tokens, y.data(),
                     WeightLayout::kInterleaved16);
              const std::string what =
                  std::string(tensor_type_name(t)) + " isa=" +
                  std::to_string(static_cast<int>(isa)) + " threads=" + std::to_string(n_threads) +
                  " n_in=" + std::to_string(n_in) + " n_out=" + std::to_string(n_out) +
                  " tokens=" + std::to_string(n_tokens);
              EXPECT_EQ(y, ref) << what;
              std::vector<float> ref2(static_cast<size_t>(32 * n_tokens), NAN);
              matmul(pool, scratch, t, w2.data(), n_in, 32, x.data(), n_tokens, ref2.data());
              for (WeightLayout second : {WeightLayout::kInterleaved16, WeightLayout::kRows}) {
                std::vector<float> ya(y.size(), NAN), yb(ref2.size(), NAN);
                const MatmulTarget targets[] = {
                    {t, wi.data(), n_out, ya.data(), WeightLayout::kInterleaved16},
                    {t, second == WeightLayout::kRows ? w2.data() : w2i.data(), 32, yb.data(),
                     second}};
                matmul_shared_input(pool, scratch1, targets, n_in, x.data(), n_tokens);
                EXPECT_EQ(ya, ref) << what << " shared";
                EXPECT_EQ(yb, ref2) << what << " shared, second target";
              }
            }
          }
        }
      }
    }
  }
}

// Long rows (more than two slices of ~18 KiB per group: each panel of groups is stored slice by
// slice, kernels_internal.h; Q8_0 is not sliced): the layout round-trips, and matmul gives the row
// layout's bits at every level (the AVX-512 kernels walking the slices with their sums carried
// through y; the others gathering each group), for decode, a batch, both kernels' token chunks
// and tails, 1-3 threads (AVX-512; other levels 2 threads, 1 and 25 tokens), one short panel (3 groups) and whole panels plus a short one (14
// groups), and beside another target in matmul_shared_input. Odd block counts (Q4_0, Q5_0 197, the
// K-quants 35 = 8960 and 9 .. 17), whose last paired block stands alone.
std::vector<int64_t> long_lengths(TensorType t) {
  switch (t) {
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
      return {32 * 130, 32 * 197};
    case TensorType::kQ8_0:
      return {32 * 197};
    case TensorType::kQ4_K:
      return {256 * 17, 8960};
    case TensorType::kQ5_K:
      return {256 * 13, 8960};
    default:
      return {256 * 9, 8960};
  }
}

TEST(Interleave, LongRowsMatchRowLayoutAtEveryLevel) {
  uint32_t seed = 900;
  for (TensorType t : interleaved_types()) {
    for (int64_t n_in : long_lengths(t)) {
      for (int64_t n_out : {48, 224}) {
        const std::string shape = std::string(tensor_type_name(t)) + " n_in=" +
                                  std::to_string(n_in) + " n_out=" + std::to_string(n_out);
        const auto w = random_matrix(t, n_in, n_out, seed++);
        auto wi = w;
        interleave_rows(t, n_in, n_out, wi.data());
        auto back = wi;
        deinterleave_rows(t, n_in, n_out, back.data());
        ASSERT_EQ(back, w) << shape;
        // Sliced: 16 rows alone (a panel of one group: slice-major is the plain group) are not
        // the first 16 rows' bytes of the whole matrix (group 0's slices among the others').
        const size_t group = tensor_row_size(t, n_in) * 16;
        std::vector<uint8_t> plain(w.begin(), w.begin() + group);
        interleave_rows(t, n_in, 16, plain.data());
        EXPECT_EQ(plain == std::vector<uint8_t>(wi.begin(), wi.begin() + group),
                  t == TensorType::kQ8_0)
            << shape;
        const auto w2 = random_matrix(t, n_in, 32, seed++);
        for (Isa isa : test::kAllIsas) {
          if (!isa_available(isa)) continue;
          test::IsaGuard guard;
          set_active_isa(isa);
          // Other levels share one gathering path: fewer cases (qemu runs them for aarch64).
          const bool kernel = isa == Isa::kAvx512;
          for (int n_threads = kernel ? 1 : 2; n_threads <= (kernel ? 3 : 2); ++n_threads) {
            ThreadPool pool(n_threads);
            MatmulScratch scratch, scratch1;
            for (int64_t n_tokens : kernel ? std::vector<int64_t>{1, 8, 25, 30}
                                           : std::vector<int64_t>{1, 25}) {
              const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), seed++);
              std::vector<float> ref(static_cast<size_t>(n_out * n_tokens), NAN), y = ref;
              matmul(pool, scratch, t, w.data(), n_in, n_out, x.data(), n_tokens, ref.data());
              matmul(pool, scratch1, t, wi.data(), n_in, n_out, x.data(), n_tokens, y.data(),
                     WeightLayout::kInterleaved16);
              const std::string what = shape + " isa=" + std::to_string(static_cast<int>(isa)) +
                                       " threads=" + std::to_string(n_threads) +
                                       " tokens=" + std::to_string(n_tokens);
              EXPECT_EQ(y, ref) << what;
              std::vector<float> ref2(static_cast<size_t>(32 * n_tokens), NAN);
              matmul(pool, scratch, t, w2.data(), n_in, 32, x.data(), n_tokens, ref2.data());
              std::vector<float> ya(y.size(), NAN), yb(ref2.size(), NAN);
              const MatmulTarget targets[] = {
                  {t, wi.data(), n_out, ya.data(), WeightLayout::kInterleaved16},
                  {t, w2.data(), 32, yb.data(), WeightLayout::kRows}};
              matmul_shared_input(pool, scratch1, targets, n_in, x.data(), n_tokens);
              EXPECT_EQ(ya, ref) << what << " shared";
              EXPECT_EQ(yb, ref2) << what << " shared, second target";
            }
          }
        }
      }
    }
  }
}

// matmul_shared_input over interleaved targets of different weight types (Q4_K_M's q, k in
// Q4_K and v in Q6_K; with a row-layout one too), and rows of types whose extras differ: each
// target gets matmul()'s bits, at every level, 1-2 threads, decode to prefill.
TEST(Interleave, SharedInputOfMixedTypesMatchesMatmulPerTarget) {
  constexpr WeightLayout kIlv = WeightLayout::kInterleaved16;
  const std::vector<std::vector<SharedTarget>> groups = {
      {{TensorType::kQ4_K, kIlv}, {TensorType::kQ4_K, kIlv}, {TensorType::kQ6_K, kIlv}},
      {{TensorType::kQ6_K, kIlv},
       {TensorType::kQ5_K, kIlv},
       {TensorType::kQ4_K, kIlv},
       {TensorType::kQ6_K, kIlv}},
      {{TensorType::kQ4_K, kIlv}, {TensorType::kQ4_K, WeightLayout::kRows}}};
  const int64_t n_outs[] = {32, 16, 48, 16};
  expect_shared_groups_match_matmul(groups, n_outs, 2, {1, 3, 8, 70}, 41);
}

TEST(Matmul, ScratchIsReusedWithoutGrowing) {
  ThreadPool pool(2);
  MatmulScratch scratch;
  const int64_t n_in = 256, n_out = 8, n_tokens = 4;
  const auto w = random_matrix(TensorType::kQ4_K, n_in, n_out, 5);
  const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), 6);
  std::vector<float> y(static_cast<size_t>(n_out * n_tokens));
  matmul(pool, scratch, TensorType::kQ4_K, w.data(), n_in, n_out, x.data(), n_tokens, y.data());
  const auto* data = scratch.buf.data();
  const size_t cap = scratch.buf.capacity();
  matmul(pool, scratch, TensorType::kQ4_K, w.data(), n_in, n_out, x.data(), 1, y.data());
  EXPECT_EQ(scratch.buf.data(), data);
  EXPECT_EQ(scratch.buf.capacity(), cap);
}

}  // namespace
}  // namespace dkb::kernels
