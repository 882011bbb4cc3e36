// Context: one sequence being evaluated on a Model — its KV pages, activation buffers and
// logits. eval() appends tokens at n_past(); truncate() rewinds, reset() empties it.
//
// KV memory is paged (kv_pool.h). A standalone Context owns a pool sized for n_ctx positions;
// a Context made on a shared KvPool (the scheduler's) takes pages from it as it grows, and
// may start from the pool's prefix cache (start_from_prefix). page_size 0 stores the whole
// context in one page, i.e. a contiguous cache (the reference the paged layout is tested
// against). Activation memory is sized for up to n_batch tokens per eval call; the decode
// loop allocates nothing. Not thread-safe: one owner thread at a time.
// Errors: eval() beyond n_ctx is kResourceExhausted (both numbers in the message), as is a
// shared pool without free pages; a token id outside the vocabulary is kInvalidArgument.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/kv_cache.h"
#include "engine/kv_pool.h"
#include "engine/kv_sequence.h"
#include "engine/model.h"
#include "kernels/kernels.h"

namespace dkb::engine {

struct ContextParams {
  int64_t n_ctx = 0;     // 0: the model's training context
  int64_t n_batch = 512; // most tokens per forward call (longer evals are split)
  int64_t page_size = 16;  // KV positions per page (standalone); 0: one page of n_ctx
  // Standalone: an f16 KV cache where the architecture can keep one (KvShape::with_f16: llama,
  // qwen2, deepseek2; half the memory, values rounded to f16 as llama.cpp's default cache), else
  // f32.
  bool kv_f16 = false;
};

// Scratch memory shared by batched evaluations (owned by a scheduler).
struct BatchScratch {
  kernels::MatmulScratch matmul;
  std::vector<float> work;
  std::vector<int32_t> positions;
  std::vector<float> logits;
};

class Context {
 public:
  Context(std::shared_ptr<const Model> model, ThreadPool& pool, ContextParams params);
  // A sequence in a shared pool (params.page_size is the pool's); n_ctx limits this sequence.
  Context(std::shared_ptr<const Model> model, ThreadPool& pool, ContextParams params,
          KvPool& shared);

  // Evaluates tokens after the current position. With all_logits, logits(i) is available for
  // every token of this call; otherwise only for the last one (i = 0).
  Status eval(std::span<const int32_t> tokens, bool all_logits = false);
  // Evaluates tokens[i] for ctxs[i] (all of the same model) in one forward pass, so every
  // weight is read once for the whole batch; each context's last_logits() then belongs to
  // its last token. On error no context advances.
  static Status eval_batch(std::span<Context* const> ctxs,
                           std::span<const std::span<const int32_t>> tokens, ThreadPool& pool,
                           BatchScratch& scratch);
  // Checks ids against the vocabulary and n_past + n against n_ctx.
  Status check_tokens(std::span<const int32_t> tokens, int64_t n_past) const;
  const float* logits(int64_t i = 0) const { return logits_.data() + i * n_vocab_; }
  // Logits of the last evaluated token.
  const float* last_logits() const { return logits(n_logits_ - 1); }
  int64_t n_vocab() const { return n_vocab_; }

  // Embedding models: pooled embedding of tokens (independent of the cache position),
  // L2-normalised when normalize. kInvalidArgument past n_ctx or outside the vocabulary.
  Result<std::vector<float>> embed(std::span<const int32_t> tokens, bool normalize);
  // Several inputs, batched into forward passes of up to n_batch tokens.
  Result<std::vector<std::vector<float>>> embed_batch(const std::vector<std::vector<int32_t>>& inputs,
                                                     bool normalize);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return params_.n_ctx; }
  // Rewinds to position n (prefix reuse, retries); pages after it return to the pool. A
  // shared pool without a page for a copy-on-write rewinds further (to a page boundary);
  // returns the new n_past().
  int64_t truncate(int64_t n);
  // Returns every KV page and starts over at position 0.
  void reset();
  // On an empty context: reuses the prefix cache's KV for the longest cached prefix of
  // tokens, at most max_reuse positions; returns n_past() afterwards.
  int64_t start_from_prefix(std::span<const int32_t> tokens, int64_t max_reuse);
  KvSequence& kv() { return *kv_; }
  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
  ThreadPool& pool_;
  ContextParams params_;
  std::unique_ptr<KvPool> own_pool_;  // standalone contexts
  std::unique_ptr<KvSequence> kv_;
  kernels::MatmulScratch matmul_;
  std::vector<float> work_;
  std::vector<int32_t> positions_;
  std::vector<float> logits_;
  int64_t n_vocab_ = 0;
  int64_t n_past_ = 0;
  int64_t n_logits_ = 0;
};

}  // namespace dkb::engine
