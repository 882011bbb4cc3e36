// MLA's absorbed products alone (bench/README.md, session 10): the time of one
// kernels::head_matmul_xw and one head_matmul_wx call per layer for one token, over quantized
// attn_kv_b matrices of DeepSeek-V2-Lite's shape (16 heads, 128 + 128 rows of 512 per head), hot
// (--layers 1) or cold (cycling over enough layers to exceed L3; 27 is V2-Lite's count).
// Usage: head_matmul_bench [--type q4_0|q8_0|q4_k|q6_k|f16] [--layers L] [--threads T]
//                          [--heads H] [--rows R] [--cols C] [--reps N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernels.h"

using namespace dkb;
using namespace dkb::kernels;

int main(int argc, char** argv) {
  std::string type_name = "q4_0";
  int64_t layers = 27, heads = 16, rows = 128, cols = 512;
  int threads = 2, reps = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value for %s\n", a.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--type") type_name = v;
    else if (a == "--layers") layers = std::atoll(v);
    else if (a == "--threads") threads = std::atoi(v);
    else if (a == "--heads") heads = std::atoll(v);
    else if (a == "--rows") rows = std::atoll(v);
    else if (a == "--cols") cols = std::atoll(v);
    else if (a == "--reps") reps = std::atoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const auto type = tensor_type_from_name(type_name);
  if (!type || !can_quantize(*type) || layers < 1 || threads < 1 || heads < 1 || rows < 1 ||
      reps < 1 || cols < 1 || cols % tensor_type_traits(*type)->block_size != 0) {
    std::fprintf(stderr, "bad arguments (type %s, cols a multiple of its block)\n", type_name.c_str());
    return 2;
  }
  // Per head: W_UK (rows of cols) then W_UV (rows of cols), as attn_kv_b stores them.
  const int64_t stride = 2 * rows;
  const size_t rb = tensor_row_size(*type, cols);
  std::mt19937 g(1);
  std::normal_distribution<float> nd;
  std::vector<float> row(static_cast<size_t>(cols));
  std::vector<std::vector<uint8_t>> w(static_cast<size_t>(layers),
                                      std::vector<uint8_t>(rb * static_cast<size_t>(heads * stride)));
  for (auto& m : w) {
    for (int64_t r = 0; r < heads * stride; ++r) {
      for (auto& x : row) x = nd(g);
      quantize_row(*type, row.data(), m.data() + r * rb, cols);
    }
  }
  std::vector<float> q(static_cast<size_t>(heads * rows)), u(static_cast<size_t>(heads * cols));
  std::vector<float> q_abs(u.size()), o(q.size());
  for (auto& x : q) x = nd(g);
  for (auto& x : u) x = nd(g);
  ThreadPool pool(threads);
  double best_xw = 1e30, best_wx = 1e30;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1: warm-up
    double t_xw = 0, t_wx = 0;
    for (int64_t l = 0; l < layers; ++l) {
      const HeadWeights uk{*type, w[l].data(), heads, rows, cols, stride};
      const HeadWeights uv{*type, w[l].data() + rows * rb, heads, rows, cols, stride};
      const auto t0 = std::chrono::steady_clock::now();
      head_matmul_xw(pool, uk, q.data(), {heads * rows, rows}, q_abs.data(), {heads * cols, cols}, 1);
      const auto t1 = std::chrono::steady_clock::now();
      head_matmul_wx(pool, uv, u.data(), {heads * cols, cols}, o.data(), {heads * rows, rows}, 1);
      const auto t2 = std::chrono::steady_clock::now();
      t_xw += std::chrono::duration<double>(t1 - t0).count();
      t_wx += std::chrono::duration<double>(t2 - t1).count();
    }
    if (rep >= 0) {
      best_xw = std::min(best_xw, t_xw / static_cast<double>(layers));
      best_wx = std::min(best_wx, t_wx / static_cast<double>(layers));
    }
  }
  const double bytes = static_cast<double>(rb) * static_cast<double>(heads * rows);
  std::printf("head_matmul %s: %lld heads x %lld rows x %lld, %d threads, %lld layers: best xw %.1f us "
              "(%.1f GB/s), wx %.1f us (%.1f GB/s) per layer; checksum %.4f\n",
              type_name.c_str(), static_cast<long long>(heads), static_cast<long long>(rows),
              static_cast<long long>(cols), threads, static_cast<long long>(layers), best_xw * 1e6,
              bytes / best_xw / 1e9, best_wx * 1e6, bytes / best_wx / 1e9,
              static_cast<double>(q_abs[0] + o[0]));
  return 0;
}
