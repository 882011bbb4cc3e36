// deepkb run: tokenise a prompt, generate, stream the continuation to stdout.
#include <cstdio>

#include "base/thread_pool.h"
#include "commands.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "model_options.h"

namespace dkb::cli {

Runner add_run(CLI::App& app) {
  struct Opts {
    ModelOptions model;
    std::string prompt;
    int32_t n_predict = 128;
    engine::SamplingParams sampling;
    std::vector<std::string> stop;
    bool echo = false;
    bool ignore_eos = false;
  };
  auto o = std::make_shared<Opts>();
  o->model.add_to(app);
  app.add_option("-p,--prompt", o->prompt, "prompt text")->required();
  app.add_option("-n,--n-predict", o->n_predict, "tokens to generate (-1: until EOS)");
  app.add_option("--temp", o->sampling.temperature, "temperature (0: greedy)");
  app.add_option("--seed", o->sampling.seed, "random seed");
  app.add_option("--top-k", o->sampling.top_k, "top-k (0: off)");
  app.add_option("--top-p", o->sampling.top_p, "top-p (1: off)");
  app.add_option("--min-p", o->sampling.min_p, "min-p (0: off)");
  app.add_option("--repeat-penalty", o->sampling.repeat_penalty, "repetition penalty (1: off)");
  app.add_option("--repeat-last-n", o->sampling.repeat_last_n, "penalty window");
  app.add_option("--frequency-penalty", o->sampling.frequency_penalty, "frequency penalty");
  app.add_option("--presence-penalty", o->sampling.presence_penalty, "presence penalty");
  app.add_option("--stop", o->stop, "stop string (repeatable)");
  app.add_flag("--echo", o->echo, "print the prompt before the continuation");
  app.add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-sequence");
  return [o]() -> int {
    auto model = o->model.load();
    if (!model.is_ok()) return fail(model.status().to_string());
    ThreadPool pool(o->model.threads);
    engine::Context ctx(*model, pool,
                        {.n_ctx = o->model.ctx_size, .kv_f16 = o->model.load_flags.kv_f16()});
    const auto& tok = (*model)->tokenizer();
    std::vector<int32_t> prompt = tok.encode(o->prompt, {.add_special = true, .parse_special = true});
    if (o->echo) std::fputs(o->prompt.c_str(), stdout);
    engine::GenerateParams gp;
    gp.max_tokens = o->n_predict;
    gp.sampling = o->sampling;
    gp.stop = o->stop;
    gp.ignore_eos = o->ignore_eos;
    auto res = engine::generate(ctx, prompt, gp, [](const std::string& piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!res.is_ok()) return fail(res.status().to_string());
    std::fprintf(stderr, "prompt: %lld tokens, %.1f ms (%.2f t/s); generated: %lld tokens, %.1f ms (%.2f t/s); finish: %s\n",
                 static_cast<long long>(res->n_prompt), res->prompt_ms,
                 res->n_prompt * 1000.0 / std::max(res->prompt_ms, 1e-3),
                 static_cast<long long>(res->n_generated), res->generate_ms,
                 res->n_generated * 1000.0 / std::max(res->generate_ms, 1e-3),
                 engine::finish_reason_name(res->finish));
    return 0;
  };
}

}  // namespace dkb::cli
