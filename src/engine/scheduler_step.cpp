// Scheduler: admission, preemption and one batched step (the scheduler thread's side).
#include <algorithm>

#include "engine/scheduler.h"
#include "scheduler_seq.h"

namespace dkb::engine {
namespace {
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

// kDone for a sequence that ends (also one that never ran, or was preempted).
void Scheduler::emit_done(Seq& q, FinishReason reason) {
  q.result.finish = reason;
  if (reason != FinishReason::kCancelled) {
    std::string rest = q.stream->flush();
    if (!rest.empty() || !q.pending_logprobs.empty()) {
      GenerationEvent ev;
      ev.kind = GenerationEvent::Kind::kText;
      ev.text = std::move(rest);
      ev.logprobs = std::move(q.pending_logprobs);
      q.req.on_event(std::move(ev));
    }
  }
  q.result.text = q.stream->text();
  q.result.generate_ms = q.got_first ? ms_between(q.first_token, Clock::now()) : 0;
  GenerationEvent ev;
  ev.kind = GenerationEvent::Kind::kDone;
  ev.result = std::move(q.result);
  ev.n_cached = q.n_cached;
  ev.ttft_ms = q.got_first ? ms_between(q.req.submitted, q.first_token) : 0;
  q.req.on_event(std::move(ev));
}
std::unique_ptr<Scheduler::Seq> Scheduler::make_seq(GenerationRequest req) const {
  auto q = std::make_unique<Seq>();
  q->req = std::move(req);
  q->tokens.reserve(static_cast<size_t>(n_ctx_) + 1);  // no growth while decoding
  q->tokens = q->req.prompt;
  q->sampler = std::make_unique<Sampler>(q->req.params.sampling, model_->hparams().n_vocab);
  for (int32_t t : q->req.prompt) q->sampler->accept(t);
  q->stream = std::make_unique<TextStream>(q->req.params.stop);
  q->result.n_prompt = static_cast<int64_t>(q->req.prompt.size());
  return q;
}

bool Scheduler::admit_locked() {
  bool admitted = false;
  for (;;) {
    // Waiting work whose client went away ends here, without ever taking pages.
    while (!preempted_.empty() && preempted_.front()->req.cancel->load()) {
      emit_done(*preempted_.front(), FinishReason::kCancelled);
      preempted_.pop_front();
      blocked_ = false;
    }
    while (!queue_.empty() && queue_.front().cancel->load()) {
      auto q = make_seq(std::move(queue_.front()));
      queue_.pop_front();
      emit_done(*q, FinishReason::kCancelled);
      blocked_ = false;
    }
    if (preempted_.empty() && queue_.empty()) break;
    Slot* slot = nullptr;
    for (auto& s : slots_) {
      if (!s->seq) {
        slot = s.get();
        break;
      }
    }
    if (!slot) break;
    // A head that did not fit waits until pages were released (or the running set shrank).
    const int64_t available = kv_pool_->n_available();
    if (blocked_ && available <= blocked_available_ && stats_.running >= blocked_running_) break;
    const bool resumed = !preempted_.empty();
    const std::vector<int32_t>& toks = resumed ? preempted_.front()->tokens : queue_.front().prompt;
    const int64_t n = static_cast<int64_t>(toks.size());
    // Always evaluate at least the last token to get fresh logits.
    const int64_t reuse = slot->ctx->start_from_prefix(toks, n - 1);
    // One page of headroom per running sequence, so admitting does not force a preemption at
    // the next page boundary.
    if (slot->ctx->kv().pages_needed(n) + stats_.running > kv_pool_->n_available() ||
        !slot->ctx->kv().reserve(n).is_ok()) {
      slot->ctx->reset();
      blocked_ = true;
      blocked_available_ = available;
      blocked_running_ = stats_.running;
      break;
    }
    blocked_ = false;
    std::unique_ptr<Seq> q;
    if (resumed) {
      q = std::move(preempted_.front());
      preempted_.pop_front();
    } else {
      q = make_seq(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (!q->admitted_before) {
      q->admitted_before = true;
      q->n_cached = reuse;
      ++stats_.requests_total;
      stats_.prompt_tokens_total += n;
      stats_.cached_tokens_total += reuse;
      ++(reuse > 0 ? stats_.prefix_cache_hits : stats_.prefix_cache_misses);
    }
    slot->seq = std::move(q);
    slot->admitted = ++admissions_;
    slot->has_next = false;
    ++stats_.running;
    admitted = true;
  }
  stats_.queued = static_cast<int64_t>(queue_.size() + preempted_.size());
  return admitted;
}

std::unique_ptr<Scheduler::Seq> Scheduler::release_slot(Slot& s, bool publish) {
  if (publish) {
    s.ctx->kv().publish(std::span<const int32_t>(s.seq->tokens.data(), s.ctx->n_past()), true);
  }
  s.ctx->reset();
  s.has_next = false;
  std::lock_guard<std::mutex> lock(mu_);
  --stats_.running;
  refresh_kv_stats_locked();
  return std::move(s.seq);
}

void Scheduler::refresh_kv_stats_locked() {
  int64_t used = 0;
  for (auto& sl : slots_) used += sl->ctx->n_past();
  stats_.kv_used = used;
  const KvPoolStats ps = kv_pool_->stats();
  stats_.kv_pages_used = ps.used;
  stats_.kv_pages_cached = ps.cached;
  stats_.kv_evictions = ps.evictions;
}

// The pages are back in the pool (and the stats say so) before the client hears "done".
void Scheduler::finish_slot(Slot& s, FinishReason reason) {
  std::unique_ptr<Seq> q = release_slot(s, true);
  emit_done(*q, reason);
}

void Scheduler::fail_slot(Slot& s, const Status& st) {
  std::unique_ptr<Seq> q = release_slot(s, false);
  GenerationEvent ev;
  ev.kind = GenerationEvent::Kind::kError;
  ev.error = st;
  q->req.on_event(std::move(ev));
}

void Scheduler::preempt(Slot& s) {
  Seq& q = *s.seq;
  // The sampled token was streamed already; it is evaluated when the sequence resumes, after
  // which sampling continues where it stopped.
  if (s.has_next) q.tokens.push_back(s.next_token);
  s.ctx->kv().publish(std::span<const int32_t>(q.tokens.data(), s.ctx->n_past()), true);
  s.ctx->reset();
  s.has_next = false;
  std::lock_guard<std::mutex> lock(mu_);
  preempted_.push_front(std::move(s.seq));
  --stats_.running;
  ++stats_.preemptions;
  stats_.queued = static_cast<int64_t>(queue_.size() + preempted_.size());
}

bool Scheduler::sample_slot(Slot& s) {
  Seq& q = *s.seq;
  const tokenizer::Tokenizer& tok = model_->tokenizer();
  int32_t id = q.sampler->sample(s.ctx->last_logits());
  q.sampler->accept(id);
  if (q.req.params.logprobs >= 0) {
    TokenLogprob lp = compute_logprobs(s.ctx->last_logits(), s.ctx->n_vocab(), id, q.req.params.logprobs);
    q.result.logprobs.push_back(lp);
    q.pending_logprobs.push_back(std::move(lp));
  }
  if (!q.got_first) {
    q.got_first = true;
    q.first_token = Clock::now();
  }
  q.result.tokens.push_back(id);
  ++q.result.n_generated;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.generated_tokens_total;
  }
  if (!q.req.params.ignore_eos && tok.is_eog(id)) {
    // The end-of-generation token is not part of the answer, nor of its logprobs.
    if (q.req.params.logprobs >= 0) {
      q.result.logprobs.pop_back();
      q.pending_logprobs.pop_back();
    }
    finish_slot(s, FinishReason::kStop);
    return false;
  }
  bool stopped = false;
  std::string text = q.stream->push(tok.token_to_piece(id), &stopped);
  if (!text.empty()) {
    GenerationEvent ev;
    ev.kind = GenerationEvent::Kind::kText;
    ev.text = std::move(text);
    ev.logprobs = std::move(q.pending_logprobs);
    q.pending_logprobs.clear();
    q.req.on_event(std::move(ev));
  }
  if (stopped) {
    finish_slot(s, FinishReason::kStop);
    return false;
  }
  const int32_t max = q.req.params.max_tokens;
  if ((max >= 0 && q.result.n_generated >= max) || s.ctx->n_past() >= s.ctx->n_ctx()) {
    finish_slot(s, FinishReason::kLength);
    return false;
  }
  s.next_token = id;
  s.has_next = true;
  return true;
}

void Scheduler::ensure_decode_pages(std::vector<Slot*>& decoding) {
  std::sort(decoding.begin(), decoding.end(),
            [](const Slot* a, const Slot* b) { return a->admitted < b->admitted; });
  for (Slot* s : decoding) {
    if (!s->seq) continue;  // preempted for an older one
    const int64_t n = s->ctx->n_past() + 1;
    while (s->ctx->kv().pages_needed(n) > kv_pool_->n_available()) {
      Slot* victim = nullptr;
      for (auto& o : slots_) {
        if (o->seq && (!victim || o->admitted > victim->admitted)) victim = o.get();
      }
      preempt(*victim);
      if (victim == s) break;
    }
    // Cannot fail: a sequence never needs more than the pool (n_ctx_ <= pool positions).
    if (s->seq && !s->ctx->kv().reserve(n).is_ok()) fail_slot(*s, resource_exhausted("KV pool exhausted"));
  }
}

void Scheduler::step() {
  // One batch per step: the next token of every decoding sequence first, then prompt chunks
  // of the others while the step's token budget (n_batch) lasts.
  // Per-step lists, reused (scheduler thread only): no allocation per step once warm.
  thread_local std::vector<Slot*> decoding, members;
  thread_local std::vector<Context*> ctxs;
  thread_local std::vector<std::span<const int32_t>> tokens;
  thread_local std::vector<size_t> prefill_len;
  decoding.clear();
  members.clear();
  ctxs.clear();
  tokens.clear();
  prefill_len.clear();
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!s.seq) continue;
    if (s.seq->req.cancel->load() || cancel_all_.load()) {
      finish_slot(s, FinishReason::kCancelled);
      continue;
    }
    if (s.prefilling()) continue;
    if (sample_slot(s)) decoding.push_back(&s);
  }
  if (!decoding.empty()) ensure_decode_pages(decoding);
  int64_t budget = opt_.n_batch;
  for (Slot* s : decoding) {
    if (!s->seq) continue;
    members.push_back(s);
    ctxs.push_back(s->ctx.get());
    tokens.emplace_back(&s->next_token, 1);
    prefill_len.push_back(0);
    --budget;
  }
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!s.seq || !s.prefilling()) continue;
    if (budget <= 0 && !ctxs.empty()) break;
    const int64_t done = s.ctx->n_past();
    const size_t n = std::min<size_t>(s.seq->tokens.size() - static_cast<size_t>(done),
                                      static_cast<size_t>(std::max<int64_t>(budget, 1)));
    members.push_back(&s);
    ctxs.push_back(s.ctx.get());
    tokens.emplace_back(s.seq->tokens.data() + done, n);
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
      s.seq->tokens.push_back(s.next_token);
      s.has_next = false;
    } else {
      s.seq->result.prompt_ms += ms;
    }
    // Filled pages become shareable at once (requests arriving together share a prefix).
    s.ctx->kv().publish(std::span<const int32_t>(s.seq->tokens.data(), s.ctx->n_past()), false);
  }
}

}  // namespace dkb::engine
