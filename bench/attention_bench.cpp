// Decode attention, one token, over a paged KV cache (bench/README.md, session 9): the time of one
// kernels::attention call per layer, the K/V either hot (one layer, in L3) or cold (cycling over
// enough layers to exceed L3), the pages either head-major (the engine's KV pages) or with the KV
// heads side by side in each row (the layout before session 9), on 4 KiB pages or (--huge) on
// transparent huge pages as the engine's KV pool; f32 rows, or (--f16) IEEE halves as an f16 cache.
// Usage: attention_bench [--kv N] [--layers L] [--heads H] [--kv-heads HK] [--dim D]
//                        [--page P] [--threads T] [--interleaved-rows] [--huge] [--f16] [--reps R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "base/huge_page_buffer.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"

using namespace dkb;

int main(int argc, char** argv) {
  int64_t n_kv = 2048, layers = 28, n_head = 12, n_head_kv = 2, hd = 128, page = 16;
  int threads = 2, reps = 10;
  bool interleaved_rows = false, huge = false, f16 = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> int64_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atoll(argv[++i]);
    };
    if (a == "--kv") n_kv = next();
    else if (a == "--layers") layers = next();
    else if (a == "--heads") n_head = next();
    else if (a == "--kv-heads") n_head_kv = next();
    else if (a == "--dim") hd = next();
    else if (a == "--page") page = next();
    else if (a == "--threads") threads = static_cast<int>(next());
    else if (a == "--reps") reps = static_cast<int>(next());
    else if (a == "--interleaved-rows") interleaved_rows = true;
    else if (a == "--huge") huge = true;
    else if (a == "--f16") f16 = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (n_kv < 1 || layers < 1 || n_head_kv < 1 || n_head % n_head_kv != 0 || hd < 1 || page < 1 ||
      threads < 1 || reps < 1) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  const int64_t n_pages = (n_kv + page - 1) / page, row = n_head_kv * hd;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  // Each layer's K and V: on huge pages (--huge, as the engine's KV pool) or on 4 KiB pages.
  const size_t n_floats = static_cast<size_t>(n_pages * page * row);
  std::vector<std::vector<float>> k_small(layers), v_small(layers);
  std::vector<HugePageBuffer> k_huge, v_huge;
  std::vector<float*> k(layers), v(layers);
  for (int64_t l = 0; l < layers; ++l) {
    if (huge) {
      for (auto* bufs : {&k_huge, &v_huge}) {
        auto b = HugePageBuffer::allocate(n_floats * sizeof(float));
        if (!b.is_ok()) {
          std::fprintf(stderr, "%s\n", b.status().message().c_str());
          return 1;
        }
        bufs->push_back(std::move(*b));
      }
      k[l] = reinterpret_cast<float*>(k_huge.back().data());
      v[l] = reinterpret_cast<float*>(v_huge.back().data());
    } else {
      k_small[l].resize(n_floats);
      v_small[l].resize(n_floats);
      k[l] = k_small[l].data();
      v[l] = v_small[l].data();
    }
    for (size_t i = 0; i < n_floats; ++i) k[l][i] = u(rng);
    for (size_t i = 0; i < n_floats; ++i) v[l][i] = u(rng);
    if (f16) {  // in place, into each buffer's first half (element i is read before it is written)
      for (float* b : {k[l], v[l]}) {
        for (size_t i = 0; i < n_floats; ++i) {
          const float x = b[i];
          kernels::quantize_row(TensorType::kF16, &x, reinterpret_cast<uint16_t*>(b) + i, 1);
        }
      }
    }
  }
  std::vector<float> q(static_cast<size_t>(n_head * hd)), out(q.size());
  for (auto& x : q) x = u(rng);
  std::vector<int32_t> table(static_cast<size_t>(n_pages));
  for (int64_t p = 0; p < n_pages; ++p) table[p] = static_cast<int32_t>(p);
  ThreadPool pool(threads);
  const int32_t pos = static_cast<int32_t>(n_kv - 1);
  kernels::AttentionArgs a;
  a.q = q.data();
  a.out = out.data();
  a.n_tokens = 1;
  a.n_kv = n_kv;
  a.n_head = n_head;
  a.n_head_kv = n_head_kv;
  a.head_dim_k = a.head_dim_v = hd;
  a.q_pos = &pos;
  a.scale = 1.0f / 11.3f;
  a.page_table = table.data();
  a.page_size = page;
  a.k_page_stride = a.v_page_stride = page * row;
  if (!interleaved_rows) {  // head-major pages, as KvView::set_attention_kv gives them
    a.k_row_stride = a.v_row_stride = hd;
    a.k_head_stride = a.v_head_stride = page * hd;
  }
  double best = 1e30;
  for (int rep = 0; rep < reps; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t l = 0; l < layers; ++l) {
      if (f16) {
        a.k16 = reinterpret_cast<const uint16_t*>(k[l]);
        a.v16 = reinterpret_cast<const uint16_t*>(v[l]);
      } else {
        a.k = k[l];
        a.v = v[l];
      }
      kernels::attention(pool, a);
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, dt / static_cast<double>(layers));
  }
  std::printf(
      "attention: %lld positions, %lld heads over %lld KV heads of %lld, pages of %lld "
      "(%s%s, %s), %d threads, %lld layers (%.0f MB of K/V): best %.1f us per layer\n",
      static_cast<long long>(n_kv), static_cast<long long>(n_head),
      static_cast<long long>(n_head_kv), static_cast<long long>(hd), static_cast<long long>(page),
      interleaved_rows ? "heads side by side" : "head-major", huge ? ", huge pages" : "",
      f16 ? "f16" : "f32", threads, static_cast<long long>(layers),
      2.0 * static_cast<double>(layers * n_pages * page * row) * (f16 ? 2 : 4) / 1e6, best * 1e6);
  return 0;
}
