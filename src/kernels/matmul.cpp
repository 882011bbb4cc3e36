// matmul: activations are converted once to the weight type's vec-dot format (threaded over
// tokens), then output rows are split over threads. Each thread walks its rows in tiles and,
// within a tile, loops over all tokens, so a weight tile is read from memory once and reused
// from cache for every token.
#include <algorithm>

#include "base/status.h"
#include "kernels/kernels.h"

namespace dkb::kernels {
namespace {

// Rows per weight tile: 16 rows of a 4096-wide Q4_K matrix are ~36 KiB, which stays in L2.
constexpr int64_t kRowTile = 16;

struct MatmulJob {
  TensorType wtype;
  TensorType xtype;
  const uint8_t* w;
  size_t w_row;
  const float* x;
  uint8_t* xq;
  size_t x_row;
  int64_t n_in, n_out, n_tokens;
  float* y;
  VecDotKernel dot;
  bool split_tokens;
};

void quantize_part(const MatmulJob& job, int ith, int nth) {
  const auto [t0, t1] = ThreadPool::split(job.n_tokens, ith, nth);
  for (int64_t t = t0; t < t1; ++t) {
    quantize_row(job.xtype, job.x + t * job.n_in, job.xq + t * job.x_row, job.n_in);
  }
}

void compute_part(const MatmulJob& job, int ith, int nth) {
  int64_t o0 = 0, o1 = job.n_out, t0 = 0, t1 = job.n_tokens;
  if (job.split_tokens) {
    std::tie(t0, t1) = ThreadPool::split(job.n_tokens, ith, nth);
  } else {
    std::tie(o0, o1) = ThreadPool::split(job.n_out, ith, nth);
  }
  for (int64_t ob = o0; ob < o1; ob += kRowTile) {
    const int64_t oe = std::min(o1, ob + kRowTile);
    for (int64_t t = t0; t < t1; ++t) {
      const uint8_t* xr = job.xq + t * job.x_row;
      float* yr = job.y + t * job.n_out;
      for (int64_t o = ob; o < oe; ++o) {
        yr[o] = job.dot(job.n_in, job.w + o * job.w_row, xr);
      }
    }
  }
}

}  // namespace

void matmul(ThreadPool& pool, MatmulScratch& scratch, TensorType wtype, const void* w, int64_t n_in,
            int64_t n_out, const float* x, int64_t n_tokens, float* y) {
  DKB_CHECK(is_supported_weight_type(wtype));
  if (n_out <= 0 || n_tokens <= 0) return;
  MatmulJob job{};
  job.wtype = wtype;
  job.xtype = vec_dot_type(wtype);
  job.w = static_cast<const uint8_t*>(w);
  job.w_row = tensor_row_size(wtype, n_in);
  job.x = x;
  job.x_row = tensor_row_size(job.xtype, n_in);
  job.n_in = n_in;
  job.n_out = n_out;
  job.n_tokens = n_tokens;
  job.y = y;
  job.dot = vec_dot_kernel(wtype, active_isa());
  const int nth = pool.n_threads();
  // Few output rows (e.g. a small head) but many tokens: give each thread whole tokens.
  job.split_tokens = n_out < static_cast<int64_t>(nth) * kRowTile && n_tokens >= nth;

  if (job.xtype == TensorType::kF32) {
    job.xq = const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(x));
  } else {
    const size_t need = job.x_row * static_cast<size_t>(n_tokens);
    if (scratch.buf.size() < need) scratch.buf.resize(need);
    job.xq = scratch.buf.data();
    if (n_tokens == 1 || nth == 1) {
      quantize_part(job, 0, 1);
    } else {
      pool.run([&job](int ith, int n) { quantize_part(job, ith, n); });
    }
  }
  if (nth == 1 || (n_out * n_tokens < 64)) {
    compute_part(job, 0, 1);
  } else {
    pool.run([&job](int ith, int n) { compute_part(job, ith, n); });
  }
}

}  // namespace dkb::kernels
