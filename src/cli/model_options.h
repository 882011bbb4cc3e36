// Options shared by commands that load a model (-m, --threads, --ctx-size).
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

  void add_to(CLI::App& app);
  Result<std::shared_ptr<const engine::Model>> load() const;
};

}  // namespace dkb::cli
