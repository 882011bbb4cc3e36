// deepkb quantize IN.gguf OUT.gguf TYPE: llama-quantize's file conversion (see
// engine/quantize.h), printing each tensor's type change and the sizes before/after.
#include <chrono>
#include <cstdio>
#include <memory>

#include "commands.h"
#include "engine/quantize.h"

namespace dkb::cli {
namespace {

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s;
  for (int64_t d : ne) s += (s.empty() ? "" : ", ") + std::to_string(d);
  return "[" + s + "]";
}

double mib(uint64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

}  // namespace

Runner add_quantize(CLI::App& app) {
  struct Opts {
    std::string in, out, type;
    int threads = 0;
    bool allow_requantize = false;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("input", o->in, "input GGUF (F16/BF16/F32 weights)")->required();
  app.add_option("output", o->out, "output GGUF")->required();
  app.add_option("type", o->type, "target: " + engine::supported_file_type_names())->required();
  app.add_option("-t,--threads", o->threads, "threads (default: all cores)");
  app.add_flag("--allow-requantize", o->allow_requantize,
               "allow converting tensors that are already quantized (loses quality)");
  app.add_flag("-q,--quiet", o->quiet, "do not list tensors");
  return [o]() -> int {
    auto ftype = engine::file_type_from_name(o->type);
    if (!ftype) {
      return fail("unknown quantization type '" + o->type +
                  "' (supported: " + engine::supported_file_type_names() + ")");
    }
    engine::QuantizeOptions qo;
    qo.ftype = *ftype;
    qo.threads = o->threads;
    qo.allow_requantize = o->allow_requantize;
    size_t n_done = 0;
    if (!o->quiet) {
      qo.on_tensor = [&n_done](const engine::TensorQuantReport& t) {
        ++n_done;
        std::printf("[%4zu] %-36s %-18s %6s -> %-6s %9.3f MiB -> %9.3f MiB%s\n", n_done,
                    t.name.c_str(), shape_str(t.ne).c_str(),
                    std::string(tensor_type_name(t.from)).c_str(),
                    std::string(tensor_type_name(t.to)).c_str(), mib(t.bytes_in), mib(t.bytes_out),
                    t.fallback ? " (fallback)" : "");
        std::fflush(stdout);
      };
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto rep = engine::quantize_model_file(o->in, o->out, qo);
    if (!rep.is_ok()) return fail(rep.status().to_string());
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("quantized %s -> %s as %s: %d of %zu tensors converted in %.2f s\n", o->in.c_str(),
                o->out.c_str(), std::string(engine::file_type_name(*ftype)).c_str(),
                rep->n_converted, rep->tensors.size(), secs);
    std::printf("model size: %10.2f MiB -> %10.2f MiB (tensor data, %.1f%%)\n",
                mib(rep->tensor_bytes_in), mib(rep->tensor_bytes_out),
                100.0 * static_cast<double>(rep->tensor_bytes_out) /
                    static_cast<double>(std::max<uint64_t>(1, rep->tensor_bytes_in)));
    std::printf("file size:  %10llu B   -> %10llu B\n",
                static_cast<unsigned long long>(rep->file_bytes_in),
                static_cast<unsigned long long>(rep->file_bytes_out));
    if (rep->n_fallback > 0) {
      std::printf(
          "warning: %d tensor(s) used a fallback type (row length not a multiple of "
          "the block size)\n",
          rep->n_fallback);
    }
    return 0;
  };
}

}  // namespace dkb::cli
