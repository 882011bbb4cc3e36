#include "engine/scheduler.h"

#include <algorithm>
#include <chrono>

#include "engine/text_stream.h"

namespace dkb::engine {
namespace {
using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

struct Scheduler::Slot {
  std::unique_ptr<Context> ctx;
  std::vector<int32_t> cached;     // tokens whose K/V the context holds (prefix cache)
  bool active = false;
  GenerationRequest req;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<TextStream> stream;
  size_t prompt_done = 0;          // prompt tokens evaluated (including reused ones)
  int64_t n_cached = 0;
  int32_t next_token = 0;          // sampled, to be evaluated this step
  std::vector<TokenLogprob> pending_logprobs;  // not yet attached to a text event
  GenerateResult result;
  Clock::time_point submitted, first_token, gen_start;
  bool got_first = false;
};

Scheduler::Scheduler(std::shared_ptr<const Model> model, ThreadPool& pool, SchedulerOptions opt)
    : model_(std::move(model)), pool_(pool), opt_(opt) {
  n_ctx_ = opt_.n_ctx > 0 ? opt_.n_ctx : std::min<int64_t>(model_->hparams().n_ctx_train, 8192);
  int n_slots = model_->arch().embedding_dim() > 0 ? 1 : std::max(1, opt_.n_parallel);
  for (int i = 0; i < n_slots; ++i) {
    auto s = std::make_unique<Slot>();
    s->ctx = std::make_unique<Context>(model_, pool_,
                                       ContextParams{.n_ctx = n_ctx_, .n_batch = opt_.n_batch});
    slots_.push_back(std::move(s));
  }
  stats_.kv_capacity = n_ctx_ * n_slots;
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  shutdown(0);
  if (thread_.joinable()) thread_.join();
}

void Scheduler::shutdown(int64_t grace_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (grace_ms > 0) {
    auto deadline = Clock::now() + std::chrono::milliseconds(grace_ms);
    while (Clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stats_.running == 0 && queue_.empty() && embed_queue_.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  cancel_all_.store(true);
  cv_.notify_all();
}

Status Scheduler::submit(GenerationRequest req) {
  if (model_->arch().embedding_dim() > 0) {
    return invalid_argument("model '" + model_->name() + "' is an embedding model; it cannot generate");
  }
  if (req.prompt.empty()) return invalid_argument("the prompt is empty");
  DKB_RETURN_IF_ERROR(req.params.sampling.validate());
  if (static_cast<int64_t>(req.prompt.size()) >= n_ctx_) {
    return invalid_argument("the prompt has " + std::to_string(req.prompt.size()) +
                            " tokens but the context holds " + std::to_string(n_ctx_) +
                            " (at least one more is needed to generate)");
  }
  if (!req.cancel) req.cancel = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return failed_precondition("the server is shutting down");
    if (static_cast<int>(queue_.size()) >= opt_.max_queue) {
      return resource_exhausted("the request queue is full (" + std::to_string(opt_.max_queue) +
                                " waiting)");
    }
    req.submitted = Clock::now();
    queue_.push_back(std::move(req));
    stats_.queued = static_cast<int64_t>(queue_.size());
  }
  cv_.notify_all();
  return Status::ok();
}

Status Scheduler::submit(EmbeddingRequest req) {
  if (model_->arch().embedding_dim() <= 0) {
    return invalid_argument("model '" + model_->name() + "' is not an embedding model");
  }
  for (const auto& in : req.inputs) {
    if (in.empty()) return invalid_argument("an input is empty");
    if (static_cast<int64_t>(in.size()) > n_ctx_) {
      return invalid_argument("an input has " + std::to_string(in.size()) +
                              " tokens but the model's context is " + std::to_string(n_ctx_));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return failed_precondition("the server is shutting down");
    if (static_cast<int>(embed_queue_.size()) >= opt_.max_queue) {
      return resource_exhausted("the embedding queue is full");
    }
    embed_queue_.push_back(std::move(req));
  }
  cv_.notify_all();
  return Status::ok();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool Scheduler::admit_locked() {
  bool admitted = false;
  while (!queue_.empty()) {
    // Free slot with the longest common prefix with the request's prompt.
    const std::vector<int32_t>& prompt = queue_.front().prompt;
    Slot* best = nullptr;
    size_t best_common = 0;
    for (auto& s : slots_) {
      if (s->active) continue;
      size_t c = 0;
      while (c < s->cached.size() && c < prompt.size() && s->cached[c] == prompt[c]) ++c;
      if (!best || c > best_common) {
        best = s.get();
        best_common = c;
      }
    }
    if (!best) break;
    Slot& s = *best;
    s.req = std::move(queue_.front());
    queue_.pop_front();
    // Always evaluate at least the last prompt token to get fresh logits.
    size_t reuse = std::min(best_common, s.req.prompt.size() - 1);
    s.ctx->truncate(static_cast<int64_t>(reuse));
    s.cached.resize(reuse);
    s.prompt_done = reuse;
    s.n_cached = static_cast<int64_t>(reuse);
    s.sampler = std::make_unique<Sampler>(s.req.params.sampling, s.ctx->n_vocab());
    for (int32_t t : s.req.prompt) s.sampler->accept(t);
    s.stream = std::make_unique<TextStream>(s.req.params.stop);
    s.pending_logprobs.clear();
    s.result = GenerateResult{};
    s.result.n_prompt = static_cast<int64_t>(s.req.prompt.size());
    s.submitted = s.req.submitted;
    s.got_first = false;
    s.active = true;
    ++stats_.running;
    ++stats_.requests_total;
    stats_.prompt_tokens_total += static_cast<int64_t>(s.req.prompt.size());
    stats_.cached_tokens_total += static_cast<int64_t>(reuse);
    admitted = true;
  }
  stats_.queued = static_cast<int64_t>(queue_.size());
  return admitted;
}

void Scheduler::finish_slot(Slot& s, FinishReason reason) {
  s.result.finish = reason;
  if (reason != FinishReason::kCancelled) {
    std::string rest = s.stream->flush();
    if (!rest.empty() || !s.pending_logprobs.empty()) {
      GenerationEvent ev;
      ev.kind = GenerationEvent::Kind::kText;
      ev.text = std::move(rest);
      ev.logprobs = std::move(s.pending_logprobs);
      s.req.on_event(std::move(ev));
    }
  }
  s.result.text = s.stream->text();
  s.result.generate_ms = s.got_first ? ms_between(s.first_token, Clock::now()) : 0;
  s.cached.resize(static_cast<size_t>(s.ctx->n_past()));
  GenerationEvent ev;
  ev.kind = GenerationEvent::Kind::kDone;
  ev.result = std::move(s.result);
  ev.n_cached = s.n_cached;
  ev.ttft_ms = s.got_first ? ms_between(s.submitted, s.first_token) : 0;
  s.req.on_event(std::move(ev));
  s.active = false;
  std::lock_guard<std::mutex> lock(mu_);
  --stats_.running;
}

void Scheduler::fail_slot(Slot& s, const Status& st) {
  GenerationEvent ev;
  ev.kind = GenerationEvent::Kind::kError;
  ev.error = st;
  s.req.on_event(std::move(ev));
  s.active = false;
  s.cached.resize(static_cast<size_t>(s.ctx->n_past()));
  std::lock_guard<std::mutex> lock(mu_);
  --stats_.running;
}

bool Scheduler::sample_slot(Slot& s) {
  const tokenizer::Tokenizer& tok = model_->tokenizer();
  int32_t id = s.sampler->sample(s.ctx->last_logits());
  s.sampler->accept(id);
  if (s.req.params.logprobs >= 0) {
    TokenLogprob lp = compute_logprobs(s.ctx->last_logits(), s.ctx->n_vocab(), id, s.req.params.logprobs);
    s.result.logprobs.push_back(lp);
    s.pending_logprobs.push_back(std::move(lp));
  }
  if (!s.got_first) {
    s.got_first = true;
    s.first_token = Clock::now();
  }
  s.result.tokens.push_back(id);
  ++s.result.n_generated;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.generated_tokens_total;
  }
  if (!s.req.params.ignore_eos && tok.is_eog(id)) {
    // The end-of-generation token is not part of the answer, nor of its logprobs.
    if (s.req.params.logprobs >= 0) {
      s.result.logprobs.pop_back();
      s.pending_logprobs.pop_back();
    }
    finish_slot(s, FinishReason::kStop);
    return false;
  }
  bool stopped = false;
  std::string text = s.stream->push(tok.token_to_piece(id), &stopped);
  if (!text.empty()) {
    GenerationEvent ev;
    ev.kind = GenerationEvent::Kind::kText;
    ev.text = std::move(text);
    ev.logprobs = std::move(s.pending_logprobs);
    s.pending_logprobs.clear();
    s.req.on_event(std::move(ev));
  }
  if (stopped) {
    finish_slot(s, FinishReason::kStop);
    return false;
  }
  const int32_t max = s.req.params.max_tokens;
  if ((max >= 0 && s.result.n_generated >= max) || s.ctx->n_past() >= s.ctx->n_ctx()) {
    finish_slot(s, FinishReason::kLength);
    return false;
  }
  s.next_token = id;
  return true;
}

void Scheduler::step() {
  // One batch per step: the next token of every decoding sequence first, then prompt chunks
  // of the others while the step's token budget (n_batch) lasts.
  // Per-step lists, reused (scheduler thread only): no allocation per step once warm.
  thread_local std::vector<Slot*> members;
  thread_local std::vector<Context*> ctxs;
  thread_local std::vector<std::span<const int32_t>> tokens;
  thread_local std::vector<size_t> prefill_len;
  members.clear();
  ctxs.clear();
  tokens.clear();
  prefill_len.clear();
  int64_t budget = opt_.n_batch;
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!s.active) continue;
    if (s.req.cancel->load() || cancel_all_.load()) {
      finish_slot(s, FinishReason::kCancelled);
      continue;
    }
    if (s.prompt_done < s.req.prompt.size()) continue;
    if (!sample_slot(s)) continue;
    members.push_back(&s);
    ctxs.push_back(s.ctx.get());
    tokens.emplace_back(&s.next_token, 1);
    prefill_len.push_back(0);
    --budget;
  }
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!s.active || s.prompt_done >= s.req.prompt.size()) continue;
    if (budget <= 0 && !ctxs.empty()) break;
    size_t n = std::min<size_t>(s.req.prompt.size() - s.prompt_done,
                                static_cast<size_t>(std::max<int64_t>(budget, 1)));
    members.push_back(&s);
    ctxs.push_back(s.ctx.get());
    tokens.emplace_back(s.req.prompt.data() + s.prompt_done, n);
    prefill_len.push_back(n);
    budget -= static_cast<int64_t>(n);
  }
  if (members.empty()) return;
  auto t0 = Clock::now();
  Status st = Context::eval_batch(ctxs, tokens, pool_, batch_);
  double ms = ms_between(t0, Clock::now());
  for (size_t i = 0; i < members.size(); ++i) {
    Slot& s = *members[i];
    if (!st.is_ok()) {
      fail_slot(s, st);
      continue;
    }
    if (prefill_len[i] == 0) {
      s.cached.push_back(s.next_token);
    } else {
      const auto& p = s.req.prompt;
      s.cached.insert(s.cached.end(), p.begin() + s.prompt_done, p.begin() + s.prompt_done + prefill_len[i]);
      s.prompt_done += prefill_len[i];
      s.result.prompt_ms += ms;
    }
  }
}

void Scheduler::run_embeddings(EmbeddingRequest& req) {
  req.on_done(slots_[0]->ctx->embed_batch(req.inputs, req.normalize));
}

void Scheduler::loop() {
  for (;;) {
    std::deque<EmbeddingRequest> embeds;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return cancel_all_.load() || !queue_.empty() || !embed_queue_.empty() ||
               stats_.running > 0;
      });
      if (cancel_all_.load()) {
        for (auto& r : queue_) {
          GenerationEvent ev;
          ev.kind = GenerationEvent::Kind::kError;
          ev.error = cancelled("the server is shutting down");
          r.on_event(std::move(ev));
        }
        queue_.clear();
        for (auto& r : embed_queue_) r.on_done(cancelled("the server is shutting down"));
        embed_queue_.clear();
      } else {
        admit_locked();
        embeds.swap(embed_queue_);
      }
    }
    for (auto& e : embeds) run_embeddings(e);
    step();
    {
      std::lock_guard<std::mutex> lock(mu_);
      int64_t used = 0;
      for (auto& s : slots_) used += s->ctx->n_past();
      stats_.kv_used = used;
      if (cancel_all_.load() && stats_.running == 0) return;
    }
  }
}

}  // namespace dkb::engine
