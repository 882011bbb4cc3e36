// Options shared by commands that load a model (-m, --threads, --ctx-size, --quantize).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "base/status.h"
#include "engine/model.h"

namespace dkb::cli {

// How a command loads model weights: --quantize TYPE (load-time quantization of an
// F16/BF16/F32 model) and --mmap (map the file instead of copying it into huge pages); and
// --cache-type f32|f16, the KV cache's element type for its contexts.
struct LoadFlags {
  std::string quantize;  // "" = none
  bool mmap = false;
  std::string cache_type = "f32";

  // --cache-type f16 (ContextParams::kv_f16, SchedulerOptions::kv_f16).
  bool kv_f16() const { return cache_type == "f16"; }

  void add_to(CLI::App& app);
  // engine::LoadOptions for these flags; kInvalidArgument for an unknown --quantize type.
  Result<engine::LoadOptions> load_options(int threads) const;
};

struct ModelOptions {
  std::string model_path;
  int threads = 0;
  int64_t ctx_size = 0;
  LoadFlags load_flags;

  void add_to(CLI::App& app);
  Result<std::shared_ptr<const engine::Model>> load() const;
};

}  // namespace dkb::cli
