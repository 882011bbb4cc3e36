// deepkb embed: pooled embeddings of texts from an embedding model, printed as JSON.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "commands.h"
#include "engine/context.h"
#include "model_options.h"

namespace dkb::cli {

Runner add_embed(CLI::App& app) {
  struct Opts {
    ModelOptions model;
    std::vector<std::string> texts;
    bool no_normalize = false;
  };
  auto o = std::make_shared<Opts>();
  o->model.add_to(app);
  app.add_option("texts", o->texts, "texts to embed")->required();
  app.add_flag("--no-normalize", o->no_normalize, "print raw pooled vectors (default: L2-normalised)");
  return [o]() -> int {
    auto model = o->model.load();
    if (!model.is_ok()) return fail(model.status().to_string());
    if ((*model)->arch().embedding_dim() <= 0) {
      return fail("'" + o->model.model_path + "' (" + (*model)->hparams().arch +
                  ") is not an embedding model");
    }
    ThreadPool pool(o->model.threads);
    engine::Context ctx(*model, pool,
                        {.n_ctx = o->model.ctx_size, .kv_f16 = o->model.load_flags.kv_f16()});
    nlohmann::json out = nlohmann::json::array();
    const int64_t n_max = (*model)->hparams().n_ctx_train;
    std::vector<std::vector<int32_t>> inputs;
    for (const std::string& text : o->texts) {
      auto ids = (*model)->tokenizer().encode(text, {.add_special = true, .parse_special = false});
      if (static_cast<int64_t>(ids.size()) > n_max) {
        // Truncate at the model's context, keeping the final [SEP].
        int32_t last = ids.back();
        ids.resize(static_cast<size_t>(n_max));
        ids.back() = last;
      }
      inputs.push_back(std::move(ids));
    }
    // All texts go through the model together, batched into forward passes.
    auto embs = ctx.embed_batch(inputs, !o->no_normalize);
    if (!embs.is_ok()) return fail(embs.status().to_string());
    for (size_t i = 0; i < inputs.size(); ++i) {
      out.push_back({{"text", o->texts[i]}, {"n_tokens", inputs[i].size()}, {"embedding", (*embs)[i]}});
    }
    std::printf("%s\n", out.dump().c_str());
    return 0;
  };
}

}  // namespace dkb::cli
