#include "engine/scheduler.h"

#include <algorithm>
#include <chrono>

#include "engine/text_stream.h"
#include "scheduler_seq.h"

namespace dkb::engine {
Scheduler::Scheduler(std::shared_ptr<const Model> model, ThreadPool& pool, SchedulerOptions opt)
    : model_(std::move(model)), pool_(pool), opt_(opt) {
  const int64_t n_train = model_->hparams().n_ctx_train > 0 ? model_->hparams().n_ctx_train : 8192;
  const int n_par = std::max(1, opt_.n_parallel);
  if (model_->arch().embedding_dim() > 0) {
    // An embedding model never sees more than its training context (BERT's learned
    // positions end there); longer inputs are truncated by the caller.
    n_ctx_ = opt_.n_ctx > 0 ? std::min(opt_.n_ctx, n_train) : std::min<int64_t>(n_train, 8192);
    embed_ctx_ = std::make_unique<Context>(model_, pool_,
                                           ContextParams{.n_ctx = n_ctx_, .n_batch = opt_.n_batch});
    thread_ = std::thread([this] { loop(); });
    return;
  }
  const int64_t P = std::max<int64_t>(1, opt_.page_size);
  const int64_t want = opt_.n_ctx > 0 ? opt_.n_ctx : n_par * std::min<int64_t>(n_train, 8192);
  const int64_t n_pages = (want + P - 1) / P;
  kv_pool_ = std::make_unique<KvPool>(model_->arch().kv_shape().with_f16(opt_.kv_f16), n_pages, P);
  pool_positions_ = kv_pool_->n_positions();
  // A sequence may use the whole pool, but not beyond the training context unless the pool's
  // per-sequence share already is (llama-server's -c / --parallel).
  n_ctx_ = std::min(pool_positions_, std::max(n_train, pool_positions_ / n_par));
  for (int i = 0; i < n_par; ++i) {
    auto s = std::make_unique<Slot>();
    s->ctx = std::make_unique<Context>(model_, pool_,
                                       ContextParams{.n_ctx = n_ctx_, .n_batch = opt_.n_batch},
                                       *kv_pool_);
    slots_.push_back(std::move(s));
  }
  stats_.kv_capacity = pool_positions_;
  stats_.kv_pages_total = n_pages;
  stats_.kv_page_size = P;
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
        if (stats_.running == 0 && queue_.empty() && preempted_.empty() && embed_queue_.empty()) break;
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
  const int64_t n_vocab = model_->tokenizer().n_vocab();
  for (const auto& [id, bias] : req.params.sampling.logit_bias) {
    if (id < 0 || id >= n_vocab) {
      return invalid_argument("'logit_bias' token " + std::to_string(id) + " is outside the vocabulary of " +
                              std::to_string(n_vocab) + " tokens");
    }
  }
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
    stats_.queued = static_cast<int64_t>(queue_.size() + preempted_.size());
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

void Scheduler::run_embeddings(EmbeddingRequest& req) {
  req.on_done(embed_ctx_->embed_batch(req.inputs, req.normalize));
}

void Scheduler::loop() {
  for (;;) {
    std::deque<EmbeddingRequest> embeds;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return cancel_all_.load() || !queue_.empty() || !preempted_.empty() ||
               !embed_queue_.empty() || stats_.running > 0;
      });
      if (cancel_all_.load()) {
        for (auto& r : queue_) {
          GenerationEvent ev;
          ev.kind = GenerationEvent::Kind::kError;
          ev.error = cancelled("the server is shutting down");
          r.on_event(std::move(ev));
        }
        queue_.clear();
        for (auto& s : preempted_) {
          GenerationEvent ev;
          ev.kind = GenerationEvent::Kind::kError;
          ev.error = cancelled("the server is shutting down");
          s->req.on_event(std::move(ev));
        }
        preempted_.clear();
        stats_.queued = 0;
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
      if (kv_pool_) refresh_kv_stats_locked();
      if (cancel_all_.load() && stats_.running == 0) return;
    }
  }
}

}  // namespace dkb::engine
