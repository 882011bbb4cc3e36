// EngineEmbedder: kb::Embedder backed by a loaded embedding model's scheduler, so the
// knowledge base gets embeddings through the engine (DESIGN §2) without depending on it.
// Thread-safe (the scheduler serialises the work). Texts longer than the model's context are
// truncated at the context, keeping the final separator token.
#pragma once

#include "engine/model.h"
#include "engine/scheduler.h"
#include "kb/embedder.h"

namespace dkb::server {

class EngineEmbedder : public kb::Embedder {
 public:
  EngineEmbedder(std::shared_ptr<const engine::Model> model, engine::Scheduler& scheduler)
      : model_(std::move(model)), scheduler_(scheduler) {}
  size_t dimension() const override { return static_cast<size_t>(model_->arch().embedding_dim()); }
  size_t max_batch() const override { return 64; }
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) override;
  // The model's own tokenizer, without special tokens.
  kb::TokenCounter token_counter() const override;
  // The scheduler's context less the special tokens embed() adds (e.g. [CLS] and [SEP]).
  size_t max_input_tokens() const override;

 private:
  std::shared_ptr<const engine::Model> model_;
  engine::Scheduler& scheduler_;
};

}  // namespace dkb::server
