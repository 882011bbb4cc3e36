// Decoder: the pre-norm transformer shared by the llama and qwen2 families
// (RMSNorm → attention with RoPE and GQA → residual → RMSNorm → SwiGLU FFN → residual).
// Differences between families are data: rope style and optional Q/K/V biases.
#pragma once

#include <memory>
#include <vector>

#include "engine/architecture.h"
#include "engine/weights.h"

namespace dkb::models {

struct DecoderOptions {
  bool rope_neox = false;  // qwen2: NeoX rotation; llama: normal (pairs 2i, 2i+1)
};

struct DecoderLayer {
  engine::Weight attn_norm;                // [n_embd]
  engine::Weight wq, wk, wv, wo;           // [n_embd, n_head*hd], [n_embd, n_kv*hd] x2, [n_head*hd, n_embd]
  engine::Weight bq, bk, bv;               // optional biases
  engine::Weight ffn_norm;                 // [n_embd]
  engine::Weight ffn_gate, ffn_up;         // [n_embd, n_ff]
  engine::Weight ffn_down;                 // [n_ff, n_embd]
};

class Decoder : public engine::Architecture {
 public:
  static Result<std::unique_ptr<engine::Architecture>> create(gguf::File& file,
                                                              engine::Hparams hp,
                                                              DecoderOptions opt);

  const engine::Hparams& hparams() const override { return hp_; }
  engine::KvShape kv_shape() const override;
  size_t workspace_floats(int64_t n_tokens, int64_t n_ctx) const override;
  Status forward(engine::ForwardState& st, std::span<const int32_t> tokens, int64_t n_past,
                 bool all_logits, float* logits) const override;
  Status forward_batch(engine::ForwardState& st,
                       std::span<const engine::SeqChunk> chunks) const override;

 private:
  // all_logits: logits for every token of a single chunk (teacher forcing).
  Status run(engine::ForwardState& st, std::span<const engine::SeqChunk> chunks,
             bool all_logits) const;

  engine::Hparams hp_;
  DecoderOptions opt_;
  engine::Weight tok_embd_;     // [n_embd, n_vocab]
  engine::Weight output_norm_;  // [n_embd]
  engine::Weight output_;       // [n_embd, n_vocab] (token_embd when tied)
  std::vector<DecoderLayer> layers_;
};

}  // namespace dkb::models
