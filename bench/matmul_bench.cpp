// matmul_bench: throughput of kernels::matmul alone on random quantized weights, for tuning the
// decode (1 token) and small-batch paths without loading a model (numbers in bench/README.md).
//
//   matmul_bench --type q4_0 --n-in 1536 --n-out 8960 --tokens 1 --threads 1 --mb 512 --reps 5
//
// The weight matrix is replicated into as many copies as fit --mb MiB and the copies are
// multiplied in turn, so with --mb well above the last-level cache every weight byte comes
// from memory, as in decode; a small --mb measures the kernel with weights in cache. Reports
// the best rep by wall time and the whole run's process CPU time (all threads), as weight
// GB/s and GMAC/s.
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <span>
#include <vector>

#include "base/huge_page_buffer.h"
#include "base/tensor_type.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

int usage() {
  std::fputs(
      "usage: matmul_bench [--type T] [--n-in N] [--n-out M] [--tokens K] [--threads P]\n"
      "                    [--mb MIB] [--reps R] [--scalar] [--huge] [--interleaved] [--probe]\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dkb;
  std::string type_name = "q4_0";
  int64_t n_in = 1536, n_out = 8960, n_tokens = 1;
  int threads = 1, reps = 5;
  double mb = 512;
  bool scalar = false, huge = false, interleaved = false, probe = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--scalar") {
      scalar = true;
      continue;
    }
    if (a == "--interleaved") {
      interleaved = true;
      continue;
    }
    if (a == "--huge") {
      huge = true;
      continue;
    }
    if (a == "--probe") {
      probe = true;
      continue;
    }
    if ((v = next()) == nullptr) return usage();
    if (a == "--type")
      type_name = v;
    else if (a == "--n-in")
      n_in = std::atoll(v);
    else if (a == "--n-out")
      n_out = std::atoll(v);
    else if (a == "--tokens")
      n_tokens = std::atoll(v);
    else if (a == "--threads")
      threads = std::atoi(v);
    else if (a == "--mb")
      mb = std::atof(v);
    else if (a == "--reps")
      reps = std::atoi(v);
    else
      return usage();
  }
  const auto type = tensor_type_from_name(type_name);
  if (!type || !kernels::is_supported_weight_type(*type) || !kernels::can_quantize(*type) ||
      n_in <= 0 || n_out <= 0 || n_tokens <= 0 || threads <= 0 || reps <= 0) {
    return usage();
  }
  if (scalar) kernels::set_active_isa(kernels::Isa::kScalar);

  // 64 distinct quantized rows, tiled over the matrix and its copies.
  const size_t row = tensor_row_size(*type, n_in);
  const int64_t distinct = std::min<int64_t>(64, n_out);
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> f(static_cast<size_t>(n_in));
  std::vector<uint8_t> rows(row * static_cast<size_t>(distinct));
  for (int64_t r = 0; r < distinct; ++r) {
    for (float& e : f) e = nd(rng);
    kernels::quantize_row(*type, f.data(), rows.data() + r * row, n_in);
  }
  const size_t mat_bytes = row * static_cast<size_t>(n_out);
  const size_t copies = std::max<size_t>(1, static_cast<size_t>(mb * 1048576.0) / mat_bytes);
  // The weights on 2 MiB pages with --huge (as the engine loads them by default), else on
  // 4 KiB pages (as with --mmap).
  auto mem = HugePageBuffer::allocate(mat_bytes * copies);
  if (!mem.is_ok()) return 1;
  if (!huge) madvise(mem->data(), mem->size(), MADV_NOHUGEPAGE);
  std::span<uint8_t> w(mem->data(), mat_bytes * copies);
  for (size_t off = 0; off < w.size(); off += row) {
    std::memcpy(w.data() + off, rows.data() + (off / row % distinct) * row, row);
  }
  // --interleaved: the layout the engine gives matrices at load where it pays (kernels.h).
  const auto layout = interleaved ? kernels::WeightLayout::kInterleaved16 : kernels::WeightLayout::kRows;
  if (interleaved) {
    if (!kernels::interleave_supported(*type, n_in, n_out)) {
      std::fprintf(stderr, "--interleaved: not supported for this type and shape\n");
      return 2;
    }
    for (size_t c = 0; c < copies; ++c) {
      kernels::interleave_rows(*type, n_in, n_out, w.data() + c * mat_bytes);
    }
  }
  std::vector<float> x(static_cast<size_t>(n_in * n_tokens));
  for (float& e : x) e = nd(rng);
  std::vector<float> y(static_cast<size_t>(n_out * n_tokens));

  ThreadPool pool(threads);
  kernels::MatmulScratch scratch;
  auto pass = [&] {
    for (size_t c = 0; c < copies; ++c) {
      kernels::matmul(pool, scratch, *type, w.data() + c * mat_bytes, n_in, n_out, x.data(),
                      n_tokens, y.data(), layout);
    }
  };
  // --probe: the same bytes streamed by kernels::stream_sum, one contiguous half per thread (as
  // deepkb bench's bandwidth probe), after each matmul pass: the kernel's share of what the
  // memory gives in the same minute (this VM's bandwidth swings ~2x from minute to minute).
  std::atomic<uint64_t> probe_sum{0};
  auto probe_pass = [&] {
    pool.run([&](int ith, int nth) {
      auto [b, e] = ThreadPool::split(static_cast<int64_t>(w.size()), ith, nth);
      probe_sum += kernels::stream_sum(w.data() + b, static_cast<size_t>(e - b));
    });
  };
  auto seconds = [](auto t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  pass();  // warm-up: page faults, scratch growth
  double best = 1e30, best_probe = 1e30, cpu = 0;
  const auto t00 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) {
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    pass();
    best = std::min(best, seconds(t0));
    cpu += cpu_seconds() - cpu0;
    if (probe) {
      const auto t1 = std::chrono::steady_clock::now();
      probe_pass();
      best_probe = std::min(best_probe, seconds(t1));
    }
  }
  const double wall = seconds(t00);
  const double bytes = static_cast<double>(mat_bytes) * static_cast<double>(copies);
  const double macs = static_cast<double>(n_in) * static_cast<double>(n_out) *
                      static_cast<double>(n_tokens) * static_cast<double>(copies);
  std::printf(
      "%s %lldx%lld x%lld tok, %d thr, %zu copies (%.0f MiB): best %.2f GB/s %.1f GMAC/s wall; "
      "per CPU-second %.2f GB/s %.1f GMAC/s (cpu %.2fs / wall %.2fs); y[0]=%g\n",
      std::string(tensor_type_name(*type)).c_str(), static_cast<long long>(n_out),
      static_cast<long long>(n_in), static_cast<long long>(n_tokens), threads, copies,
      bytes / 1048576.0, bytes / best / 1e9, macs / best / 1e9, bytes * reps / cpu / 1e9,
      macs * reps / cpu / 1e9, cpu, wall, static_cast<double>(y[0]));
  if (probe) {
    std::printf("probe (stream_sum, same bytes, %d thr): best %.2f GB/s; matmul / probe %.0f%%%s\n",
                threads, bytes / best_probe / 1e9, 100.0 * best_probe / best,
                probe_sum.load() == 0 ? " (sum 0)" : "");
  }
  return 0;
}
