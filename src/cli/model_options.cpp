#include "model_options.h"

namespace dkb::cli {

void ModelOptions::add_to(CLI::App& app) {
  app.add_option("-m,--model", model_path, "GGUF model file")->required();
  app.add_option("-t,--threads", threads, "compute threads (default: all cores)");
  app.add_option("-c,--ctx-size", ctx_size, "context size (default: the model's)");
  load_flags.add_to(app);
}

Result<std::shared_ptr<const engine::Model>> ModelOptions::load() const {
  DKB_ASSIGN_OR_RETURN(engine::LoadOptions lo, load_flags.load_options(threads));
  return engine::Model::load(model_path, lo);
}

void LoadFlags::add_to(CLI::App& app) {
  app.add_option("--quantize", quantize,
                 "quantize an F16/BF16/F32 model's weights in memory at load time: q4_0 or q8_0 "
                 "(also any `deepkb quantize` type, e.g. q4_k_m)");
  app.add_flag("--mmap", mmap,
               "map the model file instead of reading it into huge pages (starts faster, shares "
               "memory between processes; decode is slower, and the weights keep the file's row "
               "layout instead of the kernels' interleaved one)");
  app.add_option("--cache-type", cache_type,
                 "KV cache element type: f32 (default; the one checked against llama.cpp's "
                 "references) or f16 (half the memory and half the bytes attention reads, values "
                 "rounded as llama.cpp's default cache)")
      ->check(CLI::IsMember({"f32", "f16"}));
}

Result<engine::LoadOptions> LoadFlags::load_options(int threads) const {
  engine::LoadOptions lo;
  lo.threads = threads;
  lo.mmap = mmap;
  if (!quantize.empty()) {
    lo.quantize = engine::file_type_from_name(quantize);
    if (!lo.quantize) {
      return invalid_argument("unknown --quantize type '" + quantize +
                              "' (supported: " + engine::supported_file_type_names() + ")");
    }
  }
  return lo;
}

}  // namespace dkb::cli
