// deepkb chat: interactive chat with the model's own chat template. Each turn re-renders the
// conversation and reuses the KV cache for the unchanged prefix.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "commands.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "model_options.h"
#include "tokenizer/chat_template.h"

namespace dkb::cli {
namespace {


}  // namespace

Runner add_chat(CLI::App& app) {
  struct Opts {
    ModelOptions model;
    std::string system;
    int32_t n_predict = 512;
    engine::SamplingParams sampling;
  };
  auto o = std::make_shared<Opts>();
  o->model.add_to(app);
  app.add_option("-s,--system", o->system, "system prompt");
  app.add_option("-n,--n-predict", o->n_predict, "most tokens per answer");
  app.add_option("--temp", o->sampling.temperature, "temperature (0: greedy)");
  app.add_option("--seed", o->sampling.seed, "random seed");
  return [o]() -> int {
    auto model = o->model.load();
    if (!model.is_ok()) return fail(model.status().to_string());
    const auto& tok = (*model)->tokenizer();
    std::string source = (*model)->chat_template().value_or(tokenizer::kChatMlTemplate);
    auto tmpl = tokenizer::ChatTemplate::parse(source);
    if (!tmpl.is_ok()) return fail("chat template: " + tmpl.status().to_string());
    ThreadPool pool(o->model.threads);
    engine::Context ctx(*model, pool,
                        {.n_ctx = o->model.ctx_size, .kv_f16 = o->model.load_flags.kv_f16()});
    nlohmann::json messages = nlohmann::json::array();
    if (!o->system.empty()) messages.push_back({{"role", "system"}, {"content", o->system}});
    std::vector<int32_t> in_cache;
    const std::string bos = tok.bos() >= 0 ? std::string(tok.text(tok.bos())) : "";
    const std::string eos = tok.eos() >= 0 ? std::string(tok.text(tok.eos())) : "";
    std::string line;
    std::fprintf(stderr, "chat with %s — empty line or Ctrl-D to quit\n", (*model)->name().c_str());
    while (true) {
      std::fprintf(stderr, "> ");
      if (!std::getline(std::cin, line) || line.empty()) break;
      messages.push_back({{"role", "user"}, {"content", line}});
      nlohmann::json context = {{"messages", messages}, {"add_generation_prompt", true},
                                {"bos_token", bos}, {"eos_token", eos}};
      auto rendered = tmpl->render(context);
      if (!rendered.is_ok()) return fail(rendered.status().to_string());
      bool has_bos = !bos.empty() && rendered->rfind(bos, 0) == 0;
      auto ids = tok.encode(*rendered, {.add_special = !has_bos, .parse_special = true});
      size_t common = 0;
      while (common < ids.size() && common < in_cache.size() && ids[common] == in_cache[common]) ++common;
      if (common == ids.size()) --common;  // always evaluate at least one token
      common = static_cast<size_t>(ctx.truncate(static_cast<int64_t>(common)));
      std::vector<int32_t> rest(ids.begin() + common, ids.end());
      engine::GenerateParams gp;
      gp.max_tokens = o->n_predict;
      gp.sampling = o->sampling;
      auto res = engine::generate(ctx, rest, gp, [](const std::string& piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        return true;
      });
      std::fputc('\n', stdout);
      if (!res.is_ok()) return fail(res.status().to_string());
      in_cache = ids;
      in_cache.insert(in_cache.end(), res->tokens.begin(), res->tokens.end());
      // A token that ended generation (EOS, stop string) was sampled but never evaluated.
      in_cache.resize(static_cast<size_t>(ctx.n_past()));
      messages.push_back({{"role", "assistant"}, {"content", res->text}});
    }
    return 0;
  };
}

}  // namespace dkb::cli
