#include "engine/generator.h"

#include <chrono>

#include "engine/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace dkb::engine {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "stop";
}

Result<GenerateResult> generate(Context& ctx, const std::vector<int32_t>& prompt,
                                const GenerateParams& params,
                                const std::function<bool(const std::string&)>& on_text) {
  DKB_RETURN_IF_ERROR(params.sampling.validate());
  for (const std::string& s : params.stop) {
    if (s.empty()) return invalid_argument("stop strings must not be empty");
  }
  if (prompt.empty()) return invalid_argument("empty prompt");
  const tokenizer::Tokenizer& tok = ctx.model().tokenizer();
  GenerateResult res;
  res.n_prompt = static_cast<int64_t>(prompt.size());

  auto t0 = Clock::now();
  DKB_RETURN_IF_ERROR(ctx.eval(prompt));
  res.prompt_ms = ms_since(t0);

  Sampler sampler(params.sampling, ctx.n_vocab());
  for (int32_t t : prompt) sampler.accept(t);

  TextStream stream(params.stop);
  auto emit = [&](const std::string& piece) -> bool {
    if (piece.empty()) return true;
    return on_text ? on_text(piece) : true;
  };

  auto t1 = Clock::now();
  res.finish = FinishReason::kLength;
  for (int32_t i = 0; params.max_tokens < 0 || i < params.max_tokens; ++i) {
    if (params.cancel && params.cancel->load()) {
      res.finish = FinishReason::kCancelled;
      break;
    }
    int32_t id = sampler.sample(ctx.last_logits());
    sampler.accept(id);
    res.tokens.push_back(id);
    ++res.n_generated;
    if (!params.ignore_eos && tok.is_eog(id)) {
      res.finish = FinishReason::kStop;
      break;
    }
    bool stopped = false;
    std::string piece = stream.push(tok.token_to_piece(id), &stopped);
    if (!emit(piece)) {
      res.finish = FinishReason::kCancelled;
      break;
    }
    if (stopped) {
      res.finish = FinishReason::kStop;
      break;
    }
    if (ctx.n_past() >= ctx.n_ctx()) {
      res.finish = FinishReason::kLength;
      break;
    }
    DKB_RETURN_IF_ERROR(ctx.eval(std::span<const int32_t>(&id, 1)));
  }
  // Flush what was held back. A trailing incomplete character is passed on as raw bytes
  // (callers that need valid UTF-8 sanitise); the stream never splits one mid-way.
  if (res.finish != FinishReason::kCancelled) emit(stream.flush());
  res.text = stream.text();
  res.generate_ms = ms_since(t1);
  return res;
}

}  // namespace dkb::engine
