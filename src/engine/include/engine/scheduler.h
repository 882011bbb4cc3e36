// Scheduler: one per loaded model; owns every sequence of that model, its KV pages and its
// batches, and runs them on one thread (DESIGN §3).
//
// Requests queue up to max_queue; up to n_parallel sequences run at once. Every step the
// scheduler advances all running sequences in one forward pass — decode tokens first, then
// prompt chunks (n_batch tokens at most per step) — so a new request starts as soon as it is
// admitted and never waits for another to finish (continuous batching).
//
// KV memory: one KvPool of n_ctx positions (pages of page_size) shared by all sequences; a
// sequence takes pages as it grows and returns them when it ends. Prefix cache: filled pages
// are published (kv_pool.h) and a new request starts from the longest cached prefix of its
// prompt — shared system prompts and earlier chat turns are not recomputed, also after the
// sequence that computed them ended; unreferenced cached pages are evicted least recently
// used first when memory is needed.
// Admission: a request is admitted when a sequence slot is free and the pool can hold its
// prompt (keeping one page of headroom per running sequence); otherwise it waits in the
// queue, in order. When a running sequence needs a page and none is left, the youngest
// running sequence is preempted: its KV goes to the prefix cache, and it is requeued ahead of
// new requests to resume (recomputing only what was evicted) — nothing is truncated.
//
// Thread-safety: submit()/stats()/shutdown() may be called from any thread. Event callbacks
// run on the scheduler thread and must not block (hand the event to the waiting thread).
// Errors: submit() returns kResourceExhausted when the queue is full, kInvalidArgument for a
// prompt that cannot fit one sequence's context (both numbers in the message) and
// kFailedPrecondition after shutdown.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/kv_pool.h"
#include "engine/model.h"

namespace dkb::engine {

struct SchedulerOptions {
  int n_parallel = 4;       // most sequences running at once
  // KV pool: positions shared by all sequences (rounded up to whole pages). 0: n_parallel ×
  // min(the model's training context, 8192). One sequence may use up to
  // min(n_ctx, max(training context, n_ctx / n_parallel)) positions (see n_ctx()). Embedding
  // models: n_ctx() is min(n_ctx, training context) positions per input.
  int64_t n_ctx = 0;
  int max_queue = 64;       // waiting requests beyond the running ones
  int64_t n_batch = 256;    // most prompt tokens per step
  int64_t page_size = 16;   // positions per KV page
  bool kv_f16 = false;      // f16 KV rows where the architecture can keep them (ContextParams)
};

struct GenerationEvent {
  enum class Kind { kText, kDone, kError };
  Kind kind = Kind::kText;
  std::string text;          // kText
  std::vector<TokenLogprob> logprobs;  // kText: tokens sampled since the previous event
  GenerateResult result;     // kDone: usage, finish reason, full text
  int64_t n_cached = 0;      // kDone: prompt tokens reused from the prefix cache
  double ttft_ms = 0;        // kDone: time from submit to first token
  Status error;              // kError
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  GenerateParams params;
  std::function<void(GenerationEvent&&)> on_event;
  std::shared_ptr<std::atomic<bool>> cancel;  // set by the client side (disconnect)
  std::chrono::steady_clock::time_point submitted;  // set by submit(): TTFT includes queueing
};

struct EmbeddingRequest {
  std::vector<std::vector<int32_t>> inputs;
  bool normalize = true;
  std::function<void(Result<std::vector<std::vector<float>>>&&)> on_done;
};

struct SchedulerStats {
  int64_t queued = 0;
  int64_t running = 0;
  int64_t requests_total = 0;
  int64_t prompt_tokens_total = 0;
  int64_t cached_tokens_total = 0;
  int64_t generated_tokens_total = 0;
  int64_t kv_used = 0;       // positions held by running sequences
  int64_t kv_capacity = 0;   // positions in the pool
  int64_t kv_pages_used = 0;     // referenced by running sequences
  int64_t kv_pages_cached = 0;   // unreferenced, kept for the prefix cache (evictable)
  int64_t kv_pages_total = 0;
  int64_t kv_page_size = 0;
  int64_t prefix_cache_hits = 0;     // admitted requests that reused cached KV
  int64_t prefix_cache_misses = 0;   // admitted requests that reused none
  int64_t kv_evictions = 0;          // cached pages reclaimed for new data
  int64_t preemptions = 0;           // running sequences requeued for lack of pages
};

class Scheduler {
 public:
  Scheduler(std::shared_ptr<const Model> model, ThreadPool& pool, SchedulerOptions opt);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a generation. kInvalidArgument (nothing queued): an embedding model, an empty
  // prompt, invalid sampling parameters, a logit_bias token outside the vocabulary, a prompt
  // the context cannot hold; kResourceExhausted: the queue is full; kFailedPrecondition:
  // shutting down.
  Status submit(GenerationRequest req);
  Status submit(EmbeddingRequest req);
  SchedulerStats stats() const;
  // Most positions one sequence may hold (prompt + generated).
  int64_t n_ctx() const { return n_ctx_; }
  // Positions in the shared KV pool.
  int64_t kv_positions() const { return pool_positions_; }
  const Model& model() const { return *model_; }
  // Stops accepting; running and queued work is cancelled after `grace_ms` (0: at once).
  void shutdown(int64_t grace_ms);

 private:
  struct Seq;   // scheduler_seq.h
  struct Slot;
  void loop();
  std::unique_ptr<Seq> make_seq(GenerationRequest req) const;
  bool admit_locked();
  void step();
  // Gives every decoding slot in `decoding` the page its next token needs, preempting the
  // youngest running sequences when the pool is short.
  void ensure_decode_pages(std::vector<Slot*>& decoding);
  void preempt(Slot& s);
  // Samples the slot's next token and streams it; false when the sequence finished.
  bool sample_slot(Slot& s);
  void finish_slot(Slot& s, FinishReason reason);
  void fail_slot(Slot& s, const Status& st);
  // Publishes the slot's KV to the prefix cache (unless failed), frees the slot and returns
  // its sequence.
  std::unique_ptr<Seq> release_slot(Slot& s, bool publish);
  void refresh_kv_stats_locked();
  // Final events of a sequence that ends (also one waiting in a queue).
  static void emit_done(Seq& q, FinishReason reason);
  void run_embeddings(EmbeddingRequest& req);

  std::shared_ptr<const Model> model_;
  ThreadPool& pool_;
  SchedulerOptions opt_;
  int64_t n_ctx_;
  int64_t pool_positions_ = 0;
  std::unique_ptr<KvPool> kv_pool_;          // generative models; scheduler thread only
  std::unique_ptr<Context> embed_ctx_;       // embedding models
  std::vector<std::unique_ptr<Slot>> slots_;
  std::deque<std::unique_ptr<Seq>> preempted_;  // scheduler thread only (under mu_ when admitting)
  uint64_t admissions_ = 0;
  // The queue's head did not fit the pool: retry only once pages were released or fewer
  // sequences run (admission tries cost a prefix lookup and possibly a page copy).
  bool blocked_ = false;
  int64_t blocked_available_ = 0;
  int64_t blocked_running_ = 0;
  BatchScratch batch_;  // scheduler thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GenerationRequest> queue_;
  std::deque<EmbeddingRequest> embed_queue_;
  bool stopping_ = false;
  std::atomic<bool> cancel_all_{false};
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace dkb::engine
