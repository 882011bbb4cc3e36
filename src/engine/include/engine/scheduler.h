// Scheduler: one per loaded model; owns every sequence of that model and runs them on one
// thread (DESIGN §3).
//
// Requests queue up to max_queue; up to n_parallel run at once in slots, each slot with its
// own KV cache of n_ctx positions. Every step the scheduler advances all running slots —
// decode tokens first, then prompt chunks (n_batch tokens at most per step) — so a new
// request starts as soon as a slot is free and never waits for another to finish.
// Prefix cache: a finished slot keeps its tokens; a new request takes the free slot sharing
// the longest prefix with its prompt and evaluates only the rest.
//
// Thread-safety: submit()/stats()/shutdown() may be called from any thread. Event callbacks
// run on the scheduler thread and must not block (hand the event to the waiting thread).
// Errors: submit() returns kResourceExhausted when the queue is full, kInvalidArgument for a
// prompt that cannot fit n_ctx (both numbers in the message) and kFailedPrecondition after
// shutdown.
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
#include "engine/model.h"

namespace dkb::engine {

struct SchedulerOptions {
  int n_parallel = 4;       // slots (concurrent sequences)
  int64_t n_ctx = 0;        // positions per slot; 0: the model's training context (max 8192)
  int max_queue = 64;       // waiting requests beyond the running ones
  int64_t n_batch = 256;    // most prompt tokens per slot per step
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
  int64_t kv_used = 0;       // positions in use over all slots
  int64_t kv_capacity = 0;
};

class Scheduler {
 public:
  Scheduler(std::shared_ptr<const Model> model, ThreadPool& pool, SchedulerOptions opt);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Status submit(GenerationRequest req);
  Status submit(EmbeddingRequest req);
  SchedulerStats stats() const;
  int64_t n_ctx() const { return n_ctx_; }
  const Model& model() const { return *model_; }
  // Stops accepting; running and queued work is cancelled after `grace_ms` (0: at once).
  void shutdown(int64_t grace_ms);

 private:
  struct Slot;
  void loop();
  bool admit_locked();
  void step();
  // Samples the slot's next token and streams it; false when the sequence finished.
  bool sample_slot(Slot& s);
  void finish_slot(Slot& s, FinishReason reason);
  void fail_slot(Slot& s, const Status& st);
  void run_embeddings(EmbeddingRequest& req);

  std::shared_ptr<const Model> model_;
  ThreadPool& pool_;
  SchedulerOptions opt_;
  int64_t n_ctx_;
  std::vector<std::unique_ptr<Slot>> slots_;
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
