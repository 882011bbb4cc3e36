#include "model_options.h"

namespace dkb::cli {

void ModelOptions::add_to(CLI::App& app) {
  app.add_option("-m,--model", model_path, "GGUF model file")->required();
  app.add_option("-t,--threads", threads, "compute threads (default: all cores)");
  app.add_option("-c,--ctx-size", ctx_size, "context size (default: the model's)");
}

Result<std::shared_ptr<const engine::Model>> ModelOptions::load() const {
  return engine::Model::load(model_path);
}

}  // namespace dkb::cli
