// bert architecture: BERT-style embedding models (bge, MiniLM, bge-small-zh).
// Token + position + token-type embeddings → LayerNorm → post-norm encoder layers with
// non-causal attention and a GELU FFN → pooling (CLS, mean or none) per pooling_type.
#include <cmath>
#include <cstring>

#include "engine/architecture.h"
#include "engine/hparams.h"
#include "engine/weights.h"
#include "kernels/kernels.h"
#include "layer_ops.h"

namespace dkb::models {
namespace {

using engine::Weight;

enum class Pooling { kNone = 0, kMean = 1, kCls = 2, kLast = 3 };

struct BertLayer {
  Weight wq, wk, wv, bq, bk, bv;   // [n_embd, n_embd], [n_embd]
  Weight wo, bo;                   // [n_embd, n_embd], [n_embd]
  Weight attn_norm, attn_norm_b;   // attn_output_norm
  Weight ffn_up, ffn_up_b;         // [n_embd, n_ff], [n_ff]
  Weight ffn_down, ffn_down_b;     // [n_ff, n_embd], [n_embd]
  Weight out_norm, out_norm_b;     // layer_output_norm
};




class Bert : public engine::Architecture {
 public:
  static Result<std::unique_ptr<engine::Architecture>> create(gguf::File& f,
                                                              engine::Hparams hp) {
    auto m = std::make_unique<Bert>();
    const std::string k = hp.arch + ".";
    int64_t pooling = engine::optional_int(f, k + "pooling_type", 0);
    if (pooling < 0 || pooling > 3) return invalid_argument("pooling_type out of range");
    m->pooling_ = static_cast<Pooling>(pooling);
    if (hp.n_ff <= 0) return invalid_argument("missing metadata key " + k + "feed_forward_length");
    const int64_t n_embd = hp.n_embd;
    engine::WeightLoader ld(f);
    const gguf::TensorInfo* te = f.find_tensor("token_embd.weight");
    if (!te || te->ne.size() < 2) return invalid_argument("missing tensor 'token_embd.weight'");
    if (hp.n_vocab <= 0) hp.n_vocab = te->ne[1];
    DKB_ASSIGN_OR_RETURN(m->tok_embd_, ld.require("token_embd.weight", {n_embd, hp.n_vocab}));
    DKB_ASSIGN_OR_RETURN(m->pos_embd_, ld.require("position_embd.weight", {n_embd, hp.n_ctx_train}));
    const gguf::TensorInfo* tt = f.find_tensor("token_types.weight");
    if (tt) {
      DKB_ASSIGN_OR_RETURN(m->type_embd_, ld.require("token_types.weight", {n_embd, tt->ne.size() > 1 ? tt->ne[1] : 1}));
    }
    DKB_ASSIGN_OR_RETURN(m->embd_norm_, ld.require_f32("token_embd_norm.weight", n_embd));
    DKB_ASSIGN_OR_RETURN(m->embd_norm_b_, ld.optional_f32("token_embd_norm.bias", n_embd));
    for (const Weight* w : {&m->tok_embd_, &m->pos_embd_, &m->type_embd_}) {
      if (*w && !kernels::is_supported_weight_type(w->type)) {
        return unimplemented("tensor type " + std::string(tensor_type_name(w->type)) + " is not supported");
      }
    }
    m->layers_.resize(hp.n_layer);
    for (int64_t l = 0; l < hp.n_layer; ++l) {
      BertLayer& L = m->layers_[l];
      const std::string b = "blk." + std::to_string(l) + ".";
      DKB_ASSIGN_OR_RETURN(L.wq, ld.matrix(b + "attn_q.weight", {n_embd, n_embd}));
      DKB_ASSIGN_OR_RETURN(L.wk, ld.matrix(b + "attn_k.weight", {n_embd, hp.n_embd_k_gqa()}));
      DKB_ASSIGN_OR_RETURN(L.wv, ld.matrix(b + "attn_v.weight", {n_embd, hp.n_embd_v_gqa()}));
      DKB_ASSIGN_OR_RETURN(L.bq, ld.optional_f32(b + "attn_q.bias", n_embd));
      DKB_ASSIGN_OR_RETURN(L.bk, ld.optional_f32(b + "attn_k.bias", hp.n_embd_k_gqa()));
      DKB_ASSIGN_OR_RETURN(L.bv, ld.optional_f32(b + "attn_v.bias", hp.n_embd_v_gqa()));
      DKB_ASSIGN_OR_RETURN(L.wo, ld.matrix(b + "attn_output.weight", {n_embd, n_embd}));
      DKB_ASSIGN_OR_RETURN(L.bo, ld.optional_f32(b + "attn_output.bias", n_embd));
      DKB_ASSIGN_OR_RETURN(L.attn_norm, ld.require_f32(b + "attn_output_norm.weight", n_embd));
      DKB_ASSIGN_OR_RETURN(L.attn_norm_b, ld.optional_f32(b + "attn_output_norm.bias", n_embd));
      DKB_ASSIGN_OR_RETURN(L.ffn_up, ld.matrix(b + "ffn_up.weight", {n_embd, hp.n_ff}));
      DKB_ASSIGN_OR_RETURN(L.ffn_up_b, ld.optional_f32(b + "ffn_up.bias", hp.n_ff));
      DKB_ASSIGN_OR_RETURN(L.ffn_down, ld.matrix(b + "ffn_down.weight", {hp.n_ff, n_embd}));
      DKB_ASSIGN_OR_RETURN(L.ffn_down_b, ld.optional_f32(b + "ffn_down.bias", n_embd));
      DKB_ASSIGN_OR_RETURN(L.out_norm, ld.require_f32(b + "layer_output_norm.weight", n_embd));
      DKB_ASSIGN_OR_RETURN(L.out_norm_b, ld.optional_f32(b + "layer_output_norm.bias", n_embd));
      for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_up, &L.ffn_down}) {
        if (!kernels::is_supported_weight_type(w->type)) {
          return unimplemented(b + ": tensor type " + std::string(tensor_type_name(w->type)) +
                               " is not supported");
        }
      }
    }
    m->hp_ = std::move(hp);
    return std::unique_ptr<engine::Architecture>(std::move(m));
  }

  const engine::Hparams& hparams() const override { return hp_; }
  engine::KvShape kv_shape() const override { return {hp_.n_layer, 0, 0}; }
  int64_t embedding_dim() const override { return hp_.n_embd; }

  size_t workspace_floats(int64_t T, int64_t /*n_ctx*/) const override {
    return static_cast<size_t>(T * (7 * hp_.n_embd + hp_.n_ff));
  }

  Status forward(engine::ForwardState&, std::span<const int32_t>, int64_t, bool,
                 float*) const override {
    return unimplemented("bert is an embedding model: use embed, not generation");
  }

  Status embed(engine::ForwardState& st, std::span<const std::vector<int32_t>> seqs,
               float* out) const override {
    const int64_t n = hp_.n_embd;
    // All sequences' tokens form one [T][n] activation matrix; starts[s] is sequence s's row.
    std::vector<int64_t> starts;
    std::vector<int32_t> tokens;
    for (const auto& seq : seqs) {
      if (seq.empty()) return invalid_argument("cannot embed an empty input");
      if (static_cast<int64_t>(seq.size()) > hp_.n_ctx_train) {
        return invalid_argument(std::to_string(seq.size()) + " tokens exceed the model's context of " +
                                std::to_string(hp_.n_ctx_train));
      }
      starts.push_back(static_cast<int64_t>(tokens.size()));
      tokens.insert(tokens.end(), seq.begin(), seq.end());
    }
    starts.push_back(static_cast<int64_t>(tokens.size()));
    const int64_t T = static_cast<int64_t>(tokens.size());
    std::vector<float>& work = *st.work;
    if (work.size() < workspace_floats(T, 0)) work.resize(workspace_floats(T, 0));
    float* x = work.data();      // [T][n]
    float* q = x + T * n;        // [T][n]
    float* k = q + T * n;
    float* v = k + T * n;
    float* attn = v + T * n;
    float* o = attn + T * n;
    float* tmp = o + T * n;      // [T][n] dequantised rows
    float* up = tmp + T * n;     // [T][n_ff]
    std::vector<int32_t>& pos = *st.positions;
    pos.resize(T);
    for (size_t sq = 0; sq + 1 < starts.size(); ++sq) {
      for (int64_t t = starts[sq]; t < starts[sq + 1]; ++t) pos[t] = static_cast<int32_t>(t - starts[sq]);
    }
    for (int64_t t = 0; t < T; ++t) {
      kernels::dequantize_row(tok_embd_.type,
                              static_cast<const uint8_t*>(tok_embd_.data) + tokens[t] * tok_embd_.row_bytes(),
                              x + t * n, n);
      kernels::dequantize_row(pos_embd_.type,
                              static_cast<const uint8_t*>(pos_embd_.data) + pos[t] * pos_embd_.row_bytes(),
                              tmp, n);
      for (int64_t i = 0; i < n; ++i) x[t * n + i] += tmp[i];
      if (type_embd_) {
        kernels::dequantize_row(type_embd_.type, type_embd_.data, tmp, n);  // token type 0
        for (int64_t i = 0; i < n; ++i) x[t * n + i] += tmp[i];
      }
    }
    const float eps = hp_.f_norm_eps;
    layer_norm_rows(x, embd_norm_, embd_norm_b_, T, n, eps);
    for (const BertLayer& L : layers_) {
      matmul(st, L.wq, x, T, q);
      matmul(st, L.wk, x, T, k);
      matmul(st, L.wv, x, T, v);
      add_bias(q, L.bq, T, n);
      add_bias(k, L.bk, T, hp_.n_embd_k_gqa());
      add_bias(v, L.bv, T, hp_.n_embd_v_gqa());
      // Attention stays within each sequence.
      for (size_t sq = 0; sq + 1 < starts.size(); ++sq) {
        const int64_t b = starts[sq], len = starts[sq + 1] - b;
        kernels::AttentionArgs a;
        a.q = q + b * n;
        a.k = k + b * hp_.n_embd_k_gqa();
        a.v = v + b * hp_.n_embd_v_gqa();
        a.out = attn + b * n;
        a.n_tokens = len;
        a.n_kv = len;
        a.n_head = hp_.n_head;
        a.n_head_kv = hp_.n_head_kv;
        a.head_dim_k = hp_.n_embd_head_k;
        a.head_dim_v = hp_.n_embd_head_v;
        a.q_pos = pos.data() + b;
        a.causal = false;
        a.scale = 1.0f / std::sqrt(static_cast<float>(hp_.n_embd_head_k));
        kernels::attention(*st.pool, a);
      }
      matmul(st, L.wo, attn, T, o);
      add_bias(o, L.bo, T, n);
      for (int64_t i = 0; i < T * n; ++i) o[i] += x[i];
      layer_norm_rows(o, L.attn_norm, L.attn_norm_b, T, n, eps);
      matmul(st, L.ffn_up, o, T, up);
      add_bias(up, L.ffn_up_b, T, hp_.n_ff);
      for (int64_t i = 0; i < T * hp_.n_ff; ++i) up[i] = kernels::gelu(up[i]);
      matmul(st, L.ffn_down, up, T, x);
      add_bias(x, L.ffn_down_b, T, n);
      for (int64_t i = 0; i < T * n; ++i) x[i] += o[i];
      layer_norm_rows(x, L.out_norm, L.out_norm_b, T, n, eps);
    }
    for (size_t sq = 0; sq + 1 < starts.size(); ++sq) {
      const int64_t b = starts[sq], e = starts[sq + 1];
      float* dst = out + sq * n;
      switch (pooling_) {
        case Pooling::kCls:
        case Pooling::kNone:  // "none" yields the first token's vector for a single embedding
          std::memcpy(dst, x + b * n, n * sizeof(float));
          break;
        case Pooling::kLast:
          std::memcpy(dst, x + (e - 1) * n, n * sizeof(float));
          break;
        case Pooling::kMean:
          for (int64_t i = 0; i < n; ++i) {
            double sum = 0;
            for (int64_t t = b; t < e; ++t) sum += x[t * n + i];
            dst[i] = static_cast<float>(sum / static_cast<double>(e - b));
          }
          break;
      }
    }
    return Status::ok();
  }

 private:
  engine::Hparams hp_;
  Pooling pooling_ = Pooling::kCls;
  Weight tok_embd_, pos_embd_, type_embd_, embd_norm_, embd_norm_b_;
  std::vector<BertLayer> layers_;
};

Result<std::unique_ptr<engine::Architecture>> make_bert(gguf::File& f, engine::Hparams hp) {
  return Bert::create(f, std::move(hp));
}

DKB_REGISTER_ARCHITECTURE("bert", make_bert);

}  // namespace
}  // namespace dkb::models
