// Options shared by commands that load a model (-m, --threads, --ctx-size, --quantize).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "base/status.h"
#include "engine/model.h"

namespace dkb::cli {

struct ModelOptions {
  std::string model_path;
  int threads = 0;
  int64_t ctx_size = 0;
  std::string quantize;  // load-time quantization type ("" = none)

  void add_to(CLI::App& app);
  Result<std::shared_ptr<const engine::Model>> load() const;
};

// Adds --quantize TYPE to a command (load-time quantization of an F16/BF16/F32 model).
void add_quantize_option(CLI::App& app, std::string& type);
// engine::LoadOptions for a --quantize value ("" = none); kInvalidArgument for an unknown type.
Result<engine::LoadOptions> load_options(const std::string& quantize, int threads);

}  // namespace dkb::cli
