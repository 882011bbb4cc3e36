// deepseek2 architecture: DeepSeek-V2, V2-Lite, V2.5, V3, R1 — Multi-head Latent Attention
// (MLA) and Mixture of Experts (MoE), computed as llama.cpp (build 4748) computes them.
//
// KV cache: per layer and token we keep only the compressed latent — the roped shared key part
// (n_rot) and the normalised kv_lora_rank vector as attn_kv_b's matmul sees it. Decode attends
// with attn_kv_b absorbed into the query and the output; prefill chunks rebuild per-head K/V
// from the latents (Deepseek2::attention). Memory per token = n_layer * (n_rot + kv_lora_rank) * 4 bytes: DeepSeek-V3
// (61 layers, 64 + 512) → 140 KB/token instead of 61 * 128 heads * (192 + 128) * 4 = 10 MB/token
// for full K/V.
#pragma once

#include <memory>
#include <vector>

#include "engine/architecture.h"
#include "engine/weights.h"

namespace dkb::models {

struct Deepseek2Params {
  int64_t n_layer_dense_lead = 1;
  int64_t n_lora_q = 0;       // 0: direct attn_q (V2-Lite)
  int64_t n_lora_kv = 0;
  int64_t n_ff_exp = 0;
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_expert_shared = 0;
  float expert_weights_scale = 1.0f;
  bool expert_weights_norm = false;
  int gating = 1;             // 1 softmax (V2), 2 sigmoid (V3/R1)
  float rope_yarn_log_mul = 0.0f;
};

struct Deepseek2Layer {
  engine::Weight attn_norm;                        // [n_embd]
  engine::Weight wq;                               // [n_embd, n_head*hd_k] (no q LoRA)
  engine::Weight wq_a, q_a_norm, wq_b;             // [n_embd, n_lora_q], [n_lora_q], [n_lora_q, n_head*hd_k]
  engine::Weight wkv_a_mqa;                        // [n_embd, n_lora_kv + n_rot]
  engine::Weight kv_a_norm;                        // [n_lora_kv]
  engine::Weight wkv_b;                            // [n_lora_kv, n_head*(nope + hd_v)], row layout: per head W_UK, W_UV
  engine::Weight wo;                               // [n_head*hd_v, n_embd]
  engine::Weight ffn_norm;                         // [n_embd]
  engine::Weight ffn_gate, ffn_up, ffn_down;       // dense layers
  engine::Weight gate_inp;                         // [n_embd, n_expert]
  engine::Weight exp_probs_b;                      // [n_expert] (optional)
  engine::Weight gate_exps, up_exps, down_exps;    // [n_embd, n_ff_exp, n_expert], [n_ff_exp, n_embd, n_expert]
  engine::Weight gate_shexp, up_shexp, down_shexp; // shared experts
};

class Deepseek2 : public engine::Architecture {
 public:
  static Result<std::unique_ptr<engine::Architecture>> create(gguf::File& file,
                                                              engine::Hparams hp);
  const engine::Hparams& hparams() const override { return hp_; }
  engine::KvShape kv_shape() const override;
  size_t workspace_floats(int64_t n_tokens, int64_t n_ctx) const override;
  Status forward(engine::ForwardState& st, std::span<const int32_t> tokens, int64_t n_past,
                 bool all_logits, float* logits) const override;

 private:
  void attention(engine::ForwardState& st, const Deepseek2Layer& L, int64_t il, const float* cur,
                 int64_t T, int64_t n_past, float* out, float* scratch) const;
  // Whether a chunk of T tokens over n_kv cached positions attends absorbed (cheaper) or
  // decompressing (deepseek2.cpp, attention()).
  bool mla_absorbs(int64_t T, int64_t n_kv) const;
  void moe(engine::ForwardState& st, const Deepseek2Layer& L, const float* cur, int64_t T,
           float* out, float* scratch) const;
  // moe() for one token (decode).
  void moe_one_token(engine::ForwardState& st, const Deepseek2Layer& L, const float* cur,
                     const int32_t* selected, const float* weights, float* out, float* gate,
                     float* up) const;

  engine::Hparams hp_;
  Deepseek2Params p_;
  engine::Weight tok_embd_, output_norm_, output_;
  std::vector<Deepseek2Layer> layers_;
  int mla_mode_ = 0;  // DKB_MLA: 1 absorb, -1 decompress, 0 by cost

};

}  // namespace dkb::models
