// deepkb bench: prefill / decode throughput in llama-bench's formats, plus the machine's read
// bandwidth and how close decode gets to it; and synthetic model generation.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "commands.h"
#include "model_options.h"
#include "engine/context.h"
#include "engine/hparams.h"
#include "engine/model.h"
#include "kernels/kernels.h"
#include "synthetic_model.h"

namespace dkb::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Streaming read bandwidth (GB/s) over the bytes decode streams: the model's weight tensors
// (larger than the caches, on the pages the model got: huge pages by default), split evenly
// over the threads and read the way decode reads them (kernels::stream_sum: the active level's
// widest loads and a prefetch); the best of `passes`. (A 1 GiB buffer allocated after the load
// did not always get huge pages and read ~20% slower than decode itself streamed.)
double measure_read_bandwidth(ThreadPool& pool, const gguf::File& f, int passes = 5) {
  std::vector<std::pair<const uint8_t*, size_t>> spans;
  size_t total = 0;
  for (const auto& t : f.tensors()) {
    spans.emplace_back(t.data, t.n_bytes);
    total += t.n_bytes;
  }
  if (total == 0) return 0.0;
  std::vector<uint64_t> sums(pool.n_threads());
  double best = 0;
  for (int rep = 0; rep < passes; ++rep) {
    auto t0 = Clock::now();
    pool.run([&](int ith, int nth) {
      // Thread ith reads bytes [b, e) of the tensors laid end to end.
      auto [b, e] = ThreadPool::split(static_cast<int64_t>(total), ith, nth);
      uint64_t sum = 0;
      int64_t at = 0;
      for (const auto& [data, n] : spans) {
        const int64_t lo = std::max<int64_t>(b, at), hi = std::min<int64_t>(e, at + n);
        if (lo < hi) sum += kernels::stream_sum(data + (lo - at), static_cast<size_t>(hi - lo));
        at += static_cast<int64_t>(n);
      }
      sums[ith] = sum;
    });
    double dt = seconds_since(t0);
    best = std::max(best, static_cast<double>(total) / dt / 1e9);
  }
  if (std::accumulate(sums.begin(), sums.end(), uint64_t{0}) == 0) std::fputs("", stderr);
  return best;
}

struct Stat {
  double mean = 0, sd = 0;
  std::vector<double> samples;
};

Stat stats(const std::vector<double>& v) {
  Stat s;
  s.samples = v;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

}  // namespace

Runner add_bench(CLI::App& app) {
  struct Opts {
    std::string model;
    LoadFlags load_flags;
    std::string synthetic, type = "q4_0", out;
    int n_prompt = 512, n_gen = 128, threads = 0, reps = 5, parallel = 1, depth = 0;
    int64_t batch = 512;
    std::string format = "md";
    bool no_bandwidth = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("-m,--model", o->model, "GGUF model to measure");
  o->load_flags.add_to(app);
  app.add_option("--synthetic", o->synthetic, "write a random-weight model of this shape instead");
  app.add_option("--type", o->type, "synthetic weight type: f16, q8_0, q4_0, q4_k_m, q6_k");
  app.add_option("--out", o->out, "synthetic output path (default NAME-TYPE.gguf)");
  app.add_option("-p,--n-prompt", o->n_prompt, "prompt tokens (pp test; 0 skips)");
  app.add_option("-n,--n-gen", o->n_gen, "generated tokens (tg test; 0 skips)");
  app.add_option("-d,--n-depth", o->depth,
                 "tokens already in the context when each pp/tg test starts (filled untimed "
                 "before every repetition; llama-bench's -d)");
  app.add_option("-t,--threads", o->threads, "threads (default: all cores)");
  app.add_option("-r,--repetitions", o->reps, "repetitions");
  app.add_option("-b,--batch-size", o->batch, "prompt tokens per forward");
  app.add_option("--parallel", o->parallel,
                 "also measure N sequences decoding together (one forward pass per step)");
  app.add_option("-o,--output", o->format, "md or json");
  app.add_flag("--no-bandwidth", o->no_bandwidth, "skip the memory bandwidth measurement");
  return [o]() -> int {
    if (!o->synthetic.empty()) {
      std::string path = o->out.empty() ? o->synthetic + "-" + o->type + ".gguf" : o->out;
      Status s = write_synthetic_model(o->synthetic, o->type, path);
      if (!s.is_ok()) return fail(s.to_string());
      std::printf("wrote %s (%.1f MiB)\n", path.c_str(),
                  static_cast<double>(std::filesystem::file_size(path)) / 1048576.0);
      return 0;
    }
    if (o->model.empty()) return fail("give -m MODEL or --synthetic NAME");
    if (o->format != "md" && o->format != "json") return fail("-o must be md or json");
    if (o->reps < 1 || o->n_prompt < 0 || o->n_gen < 0 || o->depth < 0) {
      return fail("bad -r/-p/-n/-d");
    }
    auto lo = o->load_flags.load_options(o->threads);
    if (!lo.is_ok()) return fail(lo.status().to_string());
    auto model = engine::Model::load(o->model, *lo);
    if (!model.is_ok()) return fail(model.status().to_string());
    ThreadPool pool(o->threads);
    const auto& f = (*model)->file();
    size_t weight_bytes = 0, embd_row = 0;
    int64_t n_params = 0;
    std::map<std::string, size_t> type_bytes;
    // MoE: a token reads expert_used_count of the expert_count matrices of each expert tensor.
    const std::string arch = (*model)->hparams().arch;
    const int64_t n_expert = engine::optional_int(f, arch + ".expert_count", 0);
    const int64_t n_expert_used = engine::optional_int(f, arch + ".expert_used_count", 0);
    double expert_bytes = 0;
    for (const auto& t : f.tensors()) {
      n_params += t.n_elements();
      type_bytes[std::string(tensor_type_name(t.type))] += t.n_bytes;
      if (t.name == "token_embd.weight") {
        embd_row = t.n_bytes / static_cast<size_t>(t.n_rows());
        if (!f.find_tensor("output.weight")) weight_bytes += t.n_bytes;  // tied: read as output
      } else if (n_expert > 0 && n_expert_used > 0 && t.name.find("_exps.") != std::string::npos) {
        expert_bytes += static_cast<double>(t.n_bytes) * static_cast<double>(n_expert_used) /
                        static_cast<double>(n_expert);
      } else {
        weight_bytes += t.n_bytes;
      }
    }
    // Decode reads every weight once per token (the embedding table: one row; MoE: the experts
    // a token selects).
    const double bytes_per_token = static_cast<double>(weight_bytes + embd_row) + expert_bytes;
    std::string type_desc;
    size_t best = 0;
    for (const auto& [name, b] : type_bytes) {
      if (b > best) {
        best = b;
        type_desc = name;
      }
    }
    const int64_t n_vocab = (*model)->hparams().n_vocab;
    engine::Context ctx(*model, pool,
                        {.n_ctx = o->depth + o->n_prompt + o->n_gen + 8,
                         .n_batch = std::max<int64_t>(1, o->batch),
                         .kv_f16 = o->load_flags.kv_f16()});
    std::mt19937 rng(42);
    auto random_tokens = [&](int n) {
      std::vector<int32_t> t(n);
      for (auto& x : t) x = static_cast<int32_t>(rng() % n_vocab);
      return t;
    };
    nlohmann::json results = nlohmann::json::array();
    const std::string kv_type =
        (*model)->arch().kv_shape().with_f16(o->load_flags.kv_f16()).f16 ? "f16" : "f32";
    auto add_row = [&](const std::string& name, int n_p, int n_g,
                       const Stat& st) -> nlohmann::json& {
      results.push_back({{"model_filename", o->model},
                         {"model_type", (*model)->hparams().arch + " " + type_desc},
                         {"model_size", f.file_size()},
                         {"model_n_params", n_params},
                         {"n_threads", pool.n_threads()},
                         {"n_batch", o->batch},
                         {"n_prompt", n_p},
                         {"n_gen", n_g},
                         {"n_depth", o->depth},
                         // llama-bench's fields: the KV cache's element type as used (f32 for an
                         // architecture without f16 rows, whatever --cache-type asks).
                         {"type_k", kv_type},
                         {"type_v", kv_type},
                         {"test", name},
                         {"avg_ts", st.mean},
                         {"stddev_ts", st.sd},
                         {"samples_ts", st.samples}});
      return results.back();
    };
    // Decode's share of the bandwidth per repetition, against the higher of the probes just
    // before and just after it (2 passes each): the VM's bandwidth changes state within
    // seconds, so one probe for the whole run could meet another state than a repetition did.
    std::vector<double> decode_share, decode_probes;
    double bw_seen = 0;
    auto run_test = [&](const std::string& name, int n_p, int n_g) -> Status {
      std::vector<double> ts;
      const bool probe = n_p == 0 && !o->no_bandwidth;
      std::vector<double> probes;  // before each repetition, and after the last
      for (int rep = -1; rep < o->reps; ++rep) {  // rep -1: warm-up
        if (probe && rep >= 0) probes.push_back(measure_read_bandwidth(pool, f, 2));
        ctx.reset();
        if (o->depth > 0) DKB_RETURN_IF_ERROR(ctx.eval(random_tokens(o->depth)));
        auto toks = random_tokens(std::max(n_p, 1));
        auto t0 = Clock::now();
        if (n_p > 0) {
          DKB_RETURN_IF_ERROR(ctx.eval(toks));
        } else {
          for (int i = 0; i < n_g; ++i) {
            int32_t t = toks[0];
            DKB_RETURN_IF_ERROR(ctx.eval(std::span<const int32_t>(&t, 1)));
          }
        }
        double dt = seconds_since(t0);
        if (rep >= 0) ts.push_back((n_p > 0 ? n_p : n_g) / dt);
      }
      if (probe) {
        probes.push_back(measure_read_bandwidth(pool, f, 2));
        for (size_t k = 0; k < ts.size(); ++k) {
          decode_share.push_back(bytes_per_token * ts[k] /
                                 (std::max(probes[k], probes[k + 1]) * 1e9));
        }
        bw_seen = std::max(bw_seen, *std::max_element(probes.begin(), probes.end()));
        decode_probes = probes;
      }
      add_row(name, n_p, n_g, stats(ts));
      return Status::ok();
    };
    // The VM's memory bandwidth here swings between ~33 and ~67 GB/s from one minute to the
    // next: the probe runs before and after the tests, and the higher reading counts.
    // llama-bench's test names: "tg128 @ d4096" after a filled context.
    const std::string at_depth = o->depth > 0 ? " @ d" + std::to_string(o->depth) : "";
    const double bw_before = o->no_bandwidth ? 0.0 : measure_read_bandwidth(pool, f);
    if (o->n_prompt > 0) {
      Status s = run_test("pp" + std::to_string(o->n_prompt) + at_depth, o->n_prompt, 0);
      if (!s.is_ok()) return fail(s.to_string());
    }
    if (o->n_gen > 0) {
      Status s = run_test("tg" + std::to_string(o->n_gen) + at_depth, 0, o->n_gen);
      if (!s.is_ok()) return fail(s.to_string());
    }
    if (o->n_gen > 0 && o->parallel > 1) {
      // Batched decode: N sequences, each one token per step, in one forward pass per step
      // (what the server's continuous batching does); reports aggregate tokens/s.
      const int np = o->parallel;
      std::vector<std::unique_ptr<engine::Context>> ctxs;
      for (int i = 0; i < np; ++i) {
        ctxs.push_back(std::make_unique<engine::Context>(
            *model, pool,
            engine::ContextParams{
                .n_ctx = o->n_gen + 8, .n_batch = 8, .kv_f16 = o->load_flags.kv_f16()}));
      }
      engine::BatchScratch scratch;
      std::vector<double> ts;
      for (int rep = -1; rep < o->reps; ++rep) {
        std::vector<engine::Context*> cs;
        for (auto& c : ctxs) {
          c->reset();
          cs.push_back(c.get());
        }
        std::vector<int32_t> toks(np);
        for (auto& t : toks) t = static_cast<int32_t>(rng() % n_vocab);
        auto t0 = Clock::now();
        for (int i = 0; i < o->n_gen; ++i) {
          std::vector<std::span<const int32_t>> spans;
          for (int k = 0; k < np; ++k) spans.emplace_back(&toks[k], 1);
          Status s = engine::Context::eval_batch(cs, spans, pool, scratch);
          if (!s.is_ok()) return fail(s.to_string());
        }
        double dt = seconds_since(t0);
        if (rep >= 0) ts.push_back(static_cast<double>(np) * o->n_gen / dt);
      }
      add_row("tg" + std::to_string(o->n_gen) + "x" + std::to_string(np), 0, o->n_gen, stats(ts))["n_parallel"] = np;
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double peak_rss = static_cast<double>(ru.ru_maxrss) * 1024.0;
    const double bw = o->no_bandwidth ? 0.0
                                      : std::max({bw_before, bw_seen, measure_read_bandwidth(pool, f)});
    const Stat share = stats(decode_share);
    for (auto& r : results) {
      r["peak_rss_bytes"] = peak_rss;
      if (bw > 0) {
        r["mem_read_gbs"] = bw;
        if (r["n_gen"].get<int>() > 0 && !r.contains("n_parallel")) {
          r["bytes_per_token"] = bytes_per_token;
          r["bandwidth_efficiency"] = share.mean;
          r["bandwidth_efficiency_samples"] = share.samples;
          r["mem_read_gbs_probes"] = decode_probes;  // before each repetition, after the last
        }
      }
    }
    if (o->format == "json") {
      std::printf("%s\n", results.dump(2).c_str());
      return 0;
    }
    std::printf("| model | size | params | threads | test | t/s |\n|---|---:|---:|---:|---:|---:|\n");
    for (const auto& r : results) {
      std::printf("| %s | %.2f MiB | %.2f B | %d | %s | %.2f ± %.2f |\n",
                  r["model_type"].get<std::string>().c_str(),
                  r["model_size"].get<double>() / 1048576.0, r["model_n_params"].get<double>() / 1e9,
                  r["n_threads"].get<int>(), r["test"].get<std::string>().c_str(),
                  r["avg_ts"].get<double>(), r["stddev_ts"].get<double>());
    }
    std::printf("\npeak RSS %.1f MiB", peak_rss / 1048576.0);
    if (bw > 0) {
      std::printf("; read bandwidth %.1f GB/s", bw);
      for (const auto& r : results) {
        if (r.contains("bandwidth_efficiency")) {
          std::printf("; decode reads %.1f MB/token = %.1f GB/s = %.0f%% of bandwidth (per "
                      "repetition, against the probes beside it:",
                      bytes_per_token / 1e6, bytes_per_token * r["avg_ts"].get<double>() / 1e9,
                      100.0 * r["bandwidth_efficiency"].get<double>());
          for (double x : r["bandwidth_efficiency_samples"]) std::printf(" %.0f%%", 100.0 * x);
          std::printf(")");
        }
      }
    }
    std::printf("\n");
    return 0;
  };
}

}  // namespace dkb::cli
