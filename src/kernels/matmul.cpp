// matmul: activations are converted once to the weight type's vec-dot format (threaded over
// tokens), then output rows are split over threads.
// - Tile path (up to 16 tokens at AVX2; at AVX-512 16 tokens for Q4_0/Q5_0, 24 for the
//   K-quants, 48 for Q8_0, tile_max_tokens_avx512; a type with tiles: decode, batched decode,
//   short prompts): the threads take chunks of rows (run_chunked: a contiguous share each, then
//   help the others from the back) and run unpack-on-the-fly tiles of rows x tokens straight
//   from the weight rows (tile_impl.h): one read of each weight byte, with a software prefetch
//   of the next tile, no packing pass.
// - GEMM path (more tokens: prefill): the threads take panels of weight rows sized to stay in
//   L2 (run_chunked), unpack ("pack") a panel once into int8 blocks and run the
//   register-blocked micro-kernel over all tokens (gemm_avx2.cpp; at the AVX-512 level the VNNI
//   GEMMs of gemm_avx512.cpp / gemm_k_avx512.cpp, 16 rows interleaved per instruction).
// - Otherwise (scalar and NEON levels; other types): each thread walks its rows in tiles and,
//   within a tile, loops over all tokens with the row dot product, so a weight tile is read
//   from memory once and reused from cache for every token.
// - Interleaved weights (WeightLayout::kInterleaved16, rewritten at load): at the AVX-512 level
//   one kernel per type for every token count (gemm_interleaved*_avx512.cpp, run_tile_jobs: the
//   groups of 16 rows in chunks of at most an L2-sized panel, dealt by run_chunked); at other
//   levels each group is de-interleaved into a scratch buffer and its rows take vec_dot
//   (correct, for tests and forced levels).
// The tile and GEMM paths exist at the x86 AVX2 and AVX-512 levels only.
#include <algorithm>
#include <atomic>
#include <span>
#include <vector>

#include "base/status.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels {
namespace {

// Rows per weight tile: 16 rows of a 4096-wide Q4_K matrix are ~36 KiB, which stays in L2.
constexpr int64_t kRowTile = 16;

using detail::GemmKind;

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
  // Tile path (decode) or GEMM path.
  GemmKind tile = GemmKind::kNone;
  bool vnni = false;  // tile or GEMM path at the AVX-512 level (VNNI)
  GemmKind gemm = GemmKind::kNone;
  int64_t panel_rows = 0;
  size_t panel_bytes = 0;  // per thread
  uint8_t* panels = nullptr;
  float* x_extra = nullptr;  // x_extra_n floats per token (GEMM or tile path)
  size_t x_extra_n = 0;
  // Weights in WeightLayout::kInterleaved16: ilv runs the AVX-512 interleaved kernel
  // (run_tile_jobs); at other levels each group of 16 rows is de-interleaved first
  // (deinterleaved_part).
  WeightLayout layout = WeightLayout::kRows;
  bool ilv = false;
};

constexpr int64_t kIlvRows = detail::kInterleaveRows;

// Rows [o0, o1) (whole groups) and all tokens of an interleaved job at a level without its
// kernel: each group de-interleaved into buf (16 rows), then the level's vec_dot per row.
// buf: room for two groups (the second gathers a sliced group).
void deinterleaved_rows(const MatmulJob& job, int64_t o0, int64_t o1, uint8_t* buf) {
  uint8_t* gather = buf + job.w_row * kIlvRows;
  for (int64_t o = o0; o < o1; o += kIlvRows) {
    const uint8_t* group =
        detail::ilv_group(job.wtype, job.n_in, job.n_out, job.w, o / kIlvRows, gather);
    detail::deinterleave_group(job.wtype, job.n_in, group, buf);
    for (int64_t t = 0; t < job.n_tokens; ++t) {
      const uint8_t* xr = job.xq + t * job.x_row;
      for (int64_t r = 0; r < kIlvRows; ++r) {
        job.y[t * job.n_out + o + r] = job.dot(job.n_in, buf + r * job.w_row, xr);
      }
    }
  }
}

void deinterleaved_part(const MatmulJob& job, int ith, int nth) {
  auto [g0, g1] = ThreadPool::split(job.n_out / kIlvRows, ith, nth);
  deinterleaved_rows(job, g0 * kIlvRows, g1 * kIlvRows,
                     job.panels + static_cast<size_t>(ith) * job.panel_bytes);
}

#if defined(__x86_64__)
// ---- the tiled paths of the AVX2 and AVX-512 levels ----------------------------------------

// Target bytes of one packed GEMM panel (per thread; L2 is >= 512 KiB on current x86 cores).
constexpr size_t kPanelBytes = 256 * 1024;
constexpr int64_t kMaxPanelRows = 64;
// Up to this many tokens (decode, small batches) the unpack-on-the-fly tiles beat packing a
// panel first (one thread, weights streamed from memory; bench/README.md): at AVX2 up to 16-24
// tokens depending on the type.
constexpr int64_t kTileMaxTokensAvx2 = 16;
// At the AVX-512 level the VNNI GEMM of Q4_0/Q5_0 (gemm_avx512.cpp, with its packing pass, in the
// level's block order) overtakes the tiles (tile_legacy_tokens from 5 tokens) past 16 tokens; one
// thread, 1536 x 8960, weights from memory, GMAC/s tiles vs GEMM: 16 tokens 74.5 vs 69.3, 20
// 62.5 vs 76.9, 32 75.2 vs 98.9, 512: GEMM 166 (the lane-order GEMM it replaced: 92.8). Q8_0
// (the AVX2 vec_dot's lane order; its GEMM packing moves the most bytes) past 48: 32 tokens 69.3
// vs 60.9, 48 70.1 vs 67.9, 64 70.6 vs 74.7. The K-quants (block order too: tile_vnni_k.h's
// batch tiles vs gemm_k_avx512.cpp) past 24: Q4_K 16 tokens 76.1 vs 58.8, 32 71.6 vs 87.3, 64
// 72.4 vs 115.0, 512 73.1 vs 161.0; Q6_K 16 70.1 vs 58.9, 32 70.0 vs 84.7, 512 72.1 vs 155.5.
int64_t tile_max_tokens_avx512(TensorType t) {
  switch (t) {
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
      return 16;
    case TensorType::kQ8_0:
      return 48;
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
      return 24;
    default:
      return 64;
  }
}

GemmKind gemm_kind(TensorType t) {
  switch (t) {
    case TensorType::kQ4_0:
      return GemmKind::kQ4_0;
    case TensorType::kQ5_0:
      return GemmKind::kQ5_0;
    case TensorType::kQ8_0:
      return GemmKind::kQ8_0;
    case TensorType::kQ4_K:
      return GemmKind::kQ4_K;
    case TensorType::kQ5_K:
      return GemmKind::kQ5_K;
    case TensorType::kQ6_K:
      return GemmKind::kQ6_K;
    default:
      return GemmKind::kNone;
  }
}

// Whether the GEMM path runs the AVX-512 VNNI GEMM (gemm_avx512.cpp) rather than the AVX2 one.
bool vnni_gemm(const MatmulJob& job) {
  return job.vnni && job.gemm != GemmKind::kNone && detail::gemm_vnni_supports(job.gemm);
}

// The per-token extra floats of the tile / GEMM kernels for token t (after its quantization).
void prepare_x_extra(const MatmulJob& job, int64_t t) {
  if (job.ilv) {
    detail::interleaved_prepare_x(job.wtype, job.n_in, job.xq + t * job.x_row,
                                  job.x_extra + t * job.x_extra_n);
    return;
  }
  if (vnni_gemm(job)) {
    detail::gemm_vnni_prepare_x(job.gemm, job.n_in, job.xq + t * job.x_row,
                                job.x_extra + t * job.x_extra_n);
    return;
  }
  const uint8_t* xq = job.xq + t * job.x_row;
  if (job.gemm != GemmKind::kNone) {
    detail::gemm_prepare_x_avx2(job.gemm, job.n_in, xq, job.x_extra + t * job.x_extra_n);
  } else {
    (job.vnni ? detail::tile_prepare_x_avx512 : detail::tile_prepare_x_avx2)(
        job.tile, job.n_in, job.n_tokens, t, xq, job.x_extra);
  }
}

// Rows [o0, o1) of the job with the unpack-on-the-fly tiles, straight from the weight rows.
void tile_rows(const MatmulJob& job, int64_t o0, int64_t o1) {
  if (o1 <= o0) return;
  (job.vnni ? detail::tile_avx512 : detail::tile_avx2)(
      job.tile, job.n_in, job.w + o0 * job.w_row, job.w_row, o1 - o0, job.xq, job.x_row,
      job.x_extra, job.n_tokens, job.y + o0, job.n_out);
}

// 4-row groups [g0, g1) of several tile jobs with the same activations, their groups
// concatenated (the last group of a job may be short), all tokens.
void tile_groups(const MatmulJob* jobs, size_t n, int64_t g0, int64_t g1) {
  for (size_t i = 0; i < n && g0 < g1; ++i) {
    const int64_t jg = (jobs[i].n_out + 3) / 4;
    if (g0 < jg) tile_rows(jobs[i], g0 * 4, std::min(jobs[i].n_out, std::min(g1, jg) * 4));
    g0 = std::max<int64_t>(0, g0 - jg);
    g1 -= jg;
  }
}

// Rows [o0, o1) (whole groups of 16; whole panels when the layout is sliced) of an interleaved
// job with the AVX-512 kernel, all tokens, in panels of groups that stay in L2 while the kernel
// goes over the tokens in chunks.
void ilv_rows(const MatmulJob& job, int64_t o0, int64_t o1) {
  const int64_t step = kIlvRows * detail::ilv_panel_groups(job.wtype, job.n_in);
  for (int64_t o = o0; o < o1; o += step) {
    const int64_t oe = std::min(o1, o + step);
    detail::interleaved_vnni(job.wtype, job.n_in, job.w + o * job.w_row, oe - o, job.xq,
                             job.x_row, job.x_extra, job.n_tokens, job.y + o, job.n_out);
  }
}

// Groups [g0, g1) of several interleaved jobs with the same activations, their groups of 16
// rows concatenated.
void ilv_groups(const MatmulJob* jobs, size_t n, int64_t g0, int64_t g1) {
  for (size_t i = 0; i < n && g0 < g1; ++i) {
    const int64_t jg = jobs[i].n_out / kIlvRows;
    if (g0 < jg) ilv_rows(jobs[i], g0 * kIlvRows, std::min(g1, jg) * kIlvRows);
    g0 = std::max<int64_t>(0, g0 - jg);
    g1 -= jg;
  }
}

// One thread's share of a matmul's chunks, [front, back), packed in one atomic (front in the
// low 32 bits): the owner takes chunks from the front, the other threads, once their own share
// is done, from the back. On its own cache line.
struct alignas(64) ChunkRange {
  std::atomic<uint64_t> front_back{0};

  static uint64_t pack(int64_t front, int64_t back) {
    return static_cast<uint64_t>(front) | static_cast<uint64_t>(back) << 32;
  }
  // The chunk taken from the front (owner) or the back (a thief), or -1 when none is left.
  int64_t take(bool from_front) {
    uint64_t v = front_back.load(std::memory_order_relaxed);
    for (;;) {
      const auto front = static_cast<int64_t>(v & 0xffffffffu), back = static_cast<int64_t>(v >> 32);
      if (front >= back) return -1;
      const uint64_t next = from_front ? pack(front + 1, back) : pack(front, back - 1);
      if (front_back.compare_exchange_weak(v, next, std::memory_order_relaxed)) {
        return from_front ? front : back - 1;
      }
    }
  }
};

// Calls part(ith, c) once for every chunk c in [0, n_chunks) over the pool's threads (ith: the
// thread, for per-thread scratch). Each thread streams its contiguous share of chunks front to
// back, then takes chunks from the back of the others' shares, so a thread that starts late
// (the caller quantized the activations) or streams slower is helped at the end.
// - One contiguous range per thread and nothing else: the other thread spun for ~12% of a
//   decode (perf, Q4_0 interleaved, two threads).
// - Every chunk from one shared counter (the threads' chunks interleaved in memory): no spin,
//   but decode streamed ~8% slower than two contiguous ranges when the VM gave ~60 GB/s.
// Each row's result is the same whichever thread computes it.
template <class Part>
void run_chunked(ThreadPool& pool, int64_t n_chunks, const Part& part) {
  const int threads = pool.n_threads();
  if (threads == 1 || n_chunks <= 1) {
    for (int64_t c = 0; c < n_chunks; ++c) part(0, c);
    return;
  }
  thread_local std::vector<ChunkRange> ranges;  // grows once per thread count
  if (ranges.size() < static_cast<size_t>(threads)) ranges = std::vector<ChunkRange>(threads);
  for (int t = 0; t < threads; ++t) {
    const auto [b, e] = ThreadPool::split(n_chunks, t, threads);
    ranges[t].front_back.store(ChunkRange::pack(b, e), std::memory_order_relaxed);
  }
  ChunkRange* r = ranges.data();
  pool.run([r, &part](int ith, int nth) {
    for (int k = 0; k < nth; ++k) {
      ChunkRange& range = r[(ith + k) % nth];
      for (int64_t c; (c = range.take(k == 0)) >= 0;) part(ith, c);
    }
  });
}

// Runs tile jobs (or interleaved ones) that share their activations (already quantized), their
// groups of rows concatenated, in chunks (run_chunked). Interleaved: a chunk is at most an L2
// panel (ilv_rows) and about a quarter of a thread's share. Tiles: 4-row groups, chunks of at
// least 64 rows.
void run_tile_jobs(ThreadPool& pool, const MatmulJob* jobs, size_t n) {
  const int threads = pool.n_threads();
  int64_t groups = 0;
  if (!jobs[0].ilv) {
    for (size_t i = 0; i < n; ++i) groups += (jobs[i].n_out + 3) / 4;
    const int64_t chunk = std::max<int64_t>(16, groups / (4 * threads));
    run_chunked(pool, (groups + chunk - 1) / chunk, [=](int, int64_t c) {
      tile_groups(jobs, n, c * chunk, std::min(groups, (c + 1) * chunk));
    });
    return;
  }
  for (size_t i = 0; i < n; ++i) groups += jobs[i].n_out / kIlvRows;
  const size_t group_bytes = jobs[0].w_row * kIlvRows;
  const int64_t panel = std::max<int64_t>(2, static_cast<int64_t>(kPanelBytes / group_bytes));
  int64_t chunk = std::clamp<int64_t>(groups / (4 * threads), 1, panel);
  // A sliced layout (one job: matmul_shared_input does not fuse them) in whole panels.
  const detail::IlvSlicing sl = detail::ilv_slicing(jobs[0].wtype, jobs[0].n_in);
  if (sl.slice_blocks > 0) {
    DKB_CHECK(n == 1);
    chunk = sl.panel_groups;
  }
  run_chunked(pool, (groups + chunk - 1) / chunk, [=](int, int64_t c) {
    ilv_groups(jobs, n, c * chunk, std::min(groups, (c + 1) * chunk));
  });
}

// Panel p of a GEMM job (rows [p * panel_rows, ..)), packed into thread ith's panel buffer and
// run over all tokens.
void gemm_panel(const MatmulJob& job, int ith, int64_t p) {
  uint8_t* panel = job.panels + static_cast<size_t>(ith) * job.panel_bytes;
  const int64_t o0 = p * job.panel_rows;
  const int64_t nr = std::min(job.panel_rows, job.n_out - o0);
  if (vnni_gemm(job)) {
    detail::gemm_vnni_pack(job.gemm, job.w + o0 * job.w_row, job.w_row, nr, job.n_in, panel);
    detail::gemm_vnni_packed(job.gemm, job.n_in, panel, nr, job.xq, job.x_row, job.x_extra,
                             job.n_tokens, job.y + o0, job.n_out);
    return;
  }
  detail::gemm_pack_avx2(job.gemm, job.w + o0 * job.w_row, job.w_row, nr, job.n_in, panel);
  detail::gemm_packed_avx2(job.gemm, job.n_in, panel, nr, job.xq, job.x_row, job.x_extra,
                           job.n_tokens, job.y + o0, job.n_out);
}

// Panel height: as many rows as fit kPanelBytes (a multiple of the micro-tile height), but
// small enough that every thread gets at least one panel when there are enough rows.
int64_t panel_rows_for(const MatmulJob& job, int nth) {
  const GemmKind k = job.gemm;
  const int64_t n_in = job.n_in, n_out = job.n_out;
  const bool vnni = vnni_gemm(job);
  const int64_t tile = vnni ? 32 : detail::gemm_tile_rows(k);
  const size_t row = vnni ? detail::gemm_vnni_packed_bytes(k, n_in, 16) / 16
                          : detail::gemm_packed_row_bytes(k, n_in);
  int64_t rows = static_cast<int64_t>(kPanelBytes / std::max<size_t>(row, 1));
  rows = std::clamp<int64_t>(rows, tile, kMaxPanelRows);
  const int64_t per_thread = (n_out + nth - 1) / nth;
  rows = std::min(rows, std::max<int64_t>(tile, per_thread));
  return std::max<int64_t>(tile, rows / tile * tile);
}

// At the AVX2 and AVX-512 levels, picks the tile or the GEMM path for types that have them
// (sets job.tile or job.gemm, and job.x_extra_n).
void choose_tiled_path(MatmulJob& job) {
  const Isa isa = active_isa();
  if (isa != Isa::kAvx2 && isa != Isa::kAvx512) return;
  if (job.layout == WeightLayout::kInterleaved16) {  // its kernel, or de-interleaving (AVX2)
    if (isa != Isa::kAvx512) return;
    job.ilv = job.vnni = true;
    job.x_extra_n = detail::interleaved_x_extra_floats(job.wtype, job.n_in);
    return;
  }
  // One token too: with the weights on huge pages the VNNI tiles measured 10-18% faster from
  // memory than the AVX2 ones for Q4_0 with two threads (on 4 KiB pages ~5% slower). The
  // K-quants with one token take tile_impl.h's 256-bit VNNI tiles (vpdpbusd + vpdpwssd; no
  // x_extra, like the AVX2 ones): two threads, weights from memory on huge pages, GB/s AVX2 vs
  // VNNI tiles: Q4_K 1536 -> 8960 ~36 vs ~43, 8960 -> 1536 ~35.5 vs ~41.5; Q6_K ~45.5 vs ~54.5,
  // ~42 vs ~49; one thread from L2 +17-24%. With more tokens: tile_vnni_k.h's 512-bit batch
  // tiles.
  const bool avx512 = isa == Isa::kAvx512;
  job.vnni = avx512;
  const int64_t tile_max = avx512 ? tile_max_tokens_avx512(job.wtype) : kTileMaxTokensAvx2;
  (job.n_tokens <= tile_max ? job.tile : job.gemm) = gemm_kind(job.wtype);
  if (vnni_gemm(job)) {
    job.x_extra_n = detail::gemm_vnni_x_extra_floats(job.gemm, job.n_in);
  } else if (job.gemm != GemmKind::kNone) {
    job.x_extra_n = detail::gemm_x_extra_floats(job.gemm, job.n_in);
  } else if (job.tile != GemmKind::kNone) {
    job.x_extra_n = detail::tile_x_extra_floats(job.tile, job.n_in, job.n_tokens, job.vnni);
  }
}

// Runs the path choose_tiled_path picked, after the activations are quantized; false if none.
bool run_tiled(ThreadPool& pool, MatmulScratch& scratch, MatmulJob& job) {
  const int nth = pool.n_threads();
  if (job.ilv) {
    run_tile_jobs(pool, &job, 1);
    return true;
  }
  if (job.gemm != GemmKind::kNone) {
    job.panel_rows = panel_rows_for(job, nth);
    job.panel_bytes = vnni_gemm(job)
                          ? detail::gemm_vnni_packed_bytes(job.gemm, job.n_in, job.panel_rows)
                          : detail::gemm_packed_row_bytes(job.gemm, job.n_in) *
                                static_cast<size_t>(job.panel_rows);
    const size_t need = job.panel_bytes * static_cast<size_t>(nth);
    if (scratch.panels.size() < need) scratch.panels.resize(need);
    job.panels = scratch.panels.data();
    const int64_t n_panels = (job.n_out + job.panel_rows - 1) / job.panel_rows;
    run_chunked(pool, n_panels, [&job](int ith, int64_t p) { gemm_panel(job, ith, p); });
    return true;
  }
  if (job.tile != GemmKind::kNone) {
    if (nth == 1 || job.n_out < 64) {
      tile_groups(&job, 1, 0, (job.n_out + 3) / 4);
    } else {
      run_tile_jobs(pool, &job, 1);
    }
    return true;
  }
  return false;
}
#else
// No tiled paths on this architecture: every level takes the per-row path.
void prepare_x_extra(const MatmulJob&, int64_t) {}
void choose_tiled_path(MatmulJob&) {}
void run_tile_jobs(ThreadPool&, const MatmulJob*, size_t) {}
bool run_tiled(ThreadPool&, MatmulScratch&, MatmulJob&) {
  return false;
}
#endif

void quantize_part(const MatmulJob& job, int ith, int nth) {
  const auto [t0, t1] = ThreadPool::split(job.n_tokens, ith, nth);
  for (int64_t t = t0; t < t1; ++t) {
    quantize_row(job.xtype, job.x + t * job.n_in, job.xq + t * job.x_row, job.n_in);
    if (job.x_extra_n > 0) prepare_x_extra(job, t);
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

// The job of one matmul, up to its activation buffers (set by quantize_activations).
MatmulJob make_job(const ThreadPool& pool, TensorType wtype, const void* w, int64_t n_in,
                   int64_t n_out, const float* x, int64_t n_tokens, float* y,
                   WeightLayout layout) {
  DKB_CHECK(is_supported_weight_type(wtype));
  DKB_CHECK(layout == WeightLayout::kRows || interleave_supported(wtype, n_in, n_out));
  MatmulJob job{};
  job.layout = layout;
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
  choose_tiled_path(job);
  return job;
}

// Converts job.x to job.xtype into scratch (then, tiled paths, the per-token extra floats).
void quantize_activations(ThreadPool& pool, MatmulScratch& scratch, MatmulJob& job) {
  if (job.xtype == TensorType::kF32) {
    job.xq = const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(job.x));
    return;
  }
  // Quantized rows, then (GEMM path) the per-row extra floats, 64-byte aligned.
  const size_t n_tokens = static_cast<size_t>(job.n_tokens);
  const size_t xq_bytes = (job.x_row * n_tokens + 63) / 64 * 64;
  // Room for whole token groups (the tiles' interleaved x_extra; kernels_internal.h).
  const size_t group = static_cast<size_t>(detail::kTileTokenGroup);
  const size_t extra_tokens = (n_tokens + group - 1) / group * group;
  const size_t need = xq_bytes + job.x_extra_n * sizeof(float) * extra_tokens;
  if (scratch.buf.size() < need) scratch.buf.resize(need);
  job.xq = scratch.buf.data();
  job.x_extra = reinterpret_cast<float*>(scratch.buf.data() + xq_bytes);
  if (job.n_tokens == 1 || pool.n_threads() == 1) {
    quantize_part(job, 0, 1);
  } else {
    pool.run([&job](int ith, int n) { quantize_part(job, ith, n); });
  }
}

}  // namespace

void matmul(ThreadPool& pool, MatmulScratch& scratch, TensorType wtype, const void* w, int64_t n_in,
            int64_t n_out, const float* x, int64_t n_tokens, float* y, WeightLayout layout) {
  DKB_CHECK(is_supported_weight_type(wtype));
  if (n_out <= 0 || n_tokens <= 0) return;
  MatmulJob job = make_job(pool, wtype, w, n_in, n_out, x, n_tokens, y, layout);
  quantize_activations(pool, scratch, job);
  if (run_tiled(pool, scratch, job)) return;
  const int nth = pool.n_threads();
  if (layout == WeightLayout::kInterleaved16) {
    job.panel_bytes = 2 * job.w_row * kIlvRows;
    const size_t need = job.panel_bytes * static_cast<size_t>(nth);
    if (scratch.panels.size() < need) scratch.panels.resize(need);
    job.panels = scratch.panels.data();
    if (nth == 1) {
      deinterleaved_part(job, 0, 1);
    } else {
      pool.run([&job](int ith, int n) { deinterleaved_part(job, ith, n); });
    }
    return;
  }
  if (nth == 1 || (n_out * n_tokens < 64)) {
    compute_part(job, 0, 1);
  } else {
    pool.run([&job](int ith, int n) { compute_part(job, ith, n); });
  }
}

void matmul_shared_input(ThreadPool& pool, MatmulScratch& scratch,
                         std::span<const MatmulTarget> targets, int64_t n_in, const float* x,
                         int64_t n_tokens) {
  constexpr size_t kMaxTargets = 16;
  if (n_tokens <= 0) return;
  MatmulJob jobs[kMaxTargets];
  bool fuse = targets.size() > 1 && targets.size() <= kMaxTargets;
  for (size_t i = 0; fuse && i < targets.size(); ++i) {
    const MatmulTarget& t = targets[i];
    jobs[i] = make_job(pool, t.wtype, t.w, n_in, t.n_out, x, n_tokens, t.y, t.layout);
    // One activation buffer serves all: the same vec-dot type and the same extra floats (none,
    // or those of the same tile kind at the same level: their content depends on both), tile
    // path; or all on the interleaved kernels (weight types with other extras get their own,
    // below: Q4_K_M's q, k (Q4_K) and v (Q6_K)).
    const bool ilv = jobs[i].ilv && jobs[0].ilv;
    // (A sliced layout's chunks are its panels, counted from its first row.)
    const bool sliced = jobs[i].ilv && detail::ilv_slicing(t.wtype, n_in).slice_blocks > 0;
    fuse = (jobs[i].tile != GemmKind::kNone || jobs[i].ilv) && t.n_out > 0 && !sliced &&
           jobs[i].ilv == jobs[0].ilv && jobs[i].xtype == jobs[0].xtype &&
           jobs[i].vnni == jobs[0].vnni &&
           (ilv || (jobs[i].x_extra_n == jobs[0].x_extra_n &&
                    (jobs[i].x_extra_n == 0 || jobs[i].tile == jobs[0].tile)));
  }
  if (!fuse) {
    for (const MatmulTarget& t : targets) {
      matmul(pool, scratch, t.wtype, t.w, n_in, t.n_out, x, n_tokens, t.y, t.layout);
    }
    return;
  }
  const size_t n = targets.size();
  quantize_activations(pool, scratch, jobs[0]);
  // Interleaved targets of another weight type than the first: their extras from the same
  // quantized rows, in scratch.panels (unused on that path), one region per target.
  size_t extra_floats = 0;
  for (size_t i = 1; i < n; ++i) {
    if (jobs[i].ilv && jobs[i].wtype != jobs[0].wtype) extra_floats += jobs[i].x_extra_n;
  }
  const size_t need = extra_floats * sizeof(float) * static_cast<size_t>(n_tokens);
  if (scratch.panels.size() < need) scratch.panels.resize(need);
  float* extra = reinterpret_cast<float*>(scratch.panels.data());
  for (size_t i = 1; i < n; ++i) {
    jobs[i].xq = jobs[0].xq;
    jobs[i].x_extra = jobs[0].x_extra;
    if (!jobs[i].ilv || jobs[i].wtype == jobs[0].wtype) continue;
    jobs[i].x_extra = extra;
    extra += jobs[i].x_extra_n * static_cast<size_t>(n_tokens);
    for (int64_t tok = 0; tok < n_tokens; ++tok) prepare_x_extra(jobs[i], tok);
  }
  run_tile_jobs(pool, jobs, n);
}

void matmul_batch(ThreadPool& pool, MatmulScratch& scratch, std::span<const MatmulTask> tasks,
                  int64_t n_tokens) {
  constexpr size_t kMaxTasks = 16;
  if (n_tokens <= 0) return;
  MatmulJob jobs[kMaxTasks];
  bool fuse = tasks.size() > 1 && tasks.size() <= kMaxTasks;
  for (size_t i = 0; fuse && i < tasks.size(); ++i) {
    const MatmulTask& t = tasks[i];
    jobs[i] = make_job(pool, t.wtype, t.w, t.n_in, t.n_out, t.x, n_tokens, t.y, t.layout);
    // run_tile_jobs: all on the tile path or all interleaved; a sliced layout runs alone.
    const bool sliced = jobs[i].ilv && detail::ilv_slicing(t.wtype, t.n_in).slice_blocks > 0;
    fuse = (jobs[i].tile != GemmKind::kNone || jobs[i].ilv) && t.n_out > 0 && !sliced &&
           jobs[i].ilv == jobs[0].ilv;
  }
  if (!fuse) {
    for (const MatmulTask& t : tasks) {
      matmul(pool, scratch, t.wtype, t.w, t.n_in, t.n_out, t.x, n_tokens, t.y, t.layout);
    }
    return;
  }
  // Each job's quantized rows, then its extra floats (room for whole token groups, as
  // quantize_activations leaves), 64-byte aligned, one region per job.
  const size_t n = tasks.size();
  const size_t group = static_cast<size_t>(detail::kTileTokenGroup);
  const size_t extra_tokens = (static_cast<size_t>(n_tokens) + group - 1) / group * group;
  size_t offsets[kMaxTasks + 1] = {0};
  for (size_t i = 0; i < n; ++i) {
    const size_t xq = (jobs[i].x_row * static_cast<size_t>(n_tokens) + 63) / 64 * 64;
    const size_t extra = (jobs[i].x_extra_n * sizeof(float) * extra_tokens + 63) / 64 * 64;
    offsets[i + 1] = offsets[i] + xq + extra;
  }
  if (scratch.buf.size() < offsets[n]) scratch.buf.resize(offsets[n]);
  for (size_t i = 0; i < n; ++i) {
    jobs[i].xq = scratch.buf.data() + offsets[i];
    jobs[i].x_extra = reinterpret_cast<float*>(
        jobs[i].xq + (jobs[i].x_row * static_cast<size_t>(n_tokens) + 63) / 64 * 64);
  }
  if (n_tokens == 1 || pool.n_threads() == 1) {
    for (size_t i = 0; i < n; ++i) quantize_part(jobs[i], 0, 1);
  } else {
    // (Two words of captures: std::function keeps them without allocating.)
    pool.run([j = static_cast<const MatmulJob*>(jobs), n](int ith, int nth) {
      for (size_t i = 0; i < n; ++i) quantize_part(j[i], ith, nth);
    });
  }
  run_tile_jobs(pool, jobs, n);
}

}  // namespace dkb::kernels
