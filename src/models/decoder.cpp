#include "decoder.h"

#include <cmath>
#include <cstring>

#include "kernels/kernels.h"
#include "layer_ops.h"

namespace dkb::models {
namespace {

using engine::Weight;




}  // namespace

Result<std::unique_ptr<engine::Architecture>> Decoder::create(gguf::File& file,
                                                              engine::Hparams hp,
                                                              DecoderOptions opt) {
  auto d = std::make_unique<Decoder>();
  if (hp.n_ff <= 0) return invalid_argument("missing metadata key " + hp.arch + ".feed_forward_length");
  engine::WeightLoader ld(file);
  const int64_t n_embd = hp.n_embd;
  const int64_t n_q = hp.n_head * hp.n_embd_head_k;
  const int64_t n_k = hp.n_embd_k_gqa();
  const int64_t n_v = hp.n_embd_v_gqa();
  const gguf::TensorInfo* te = file.find_tensor("token_embd.weight");
  if (!te) return invalid_argument("missing tensor 'token_embd.weight'");
  if (te->ne.size() < 2) return invalid_argument("token_embd.weight must be 2-D");
  if (hp.n_vocab <= 0) hp.n_vocab = te->ne[1];
  DKB_ASSIGN_OR_RETURN(d->tok_embd_, ld.require("token_embd.weight", {n_embd, hp.n_vocab}));
  DKB_ASSIGN_OR_RETURN(d->output_norm_, ld.require_f32("output_norm.weight", n_embd));
  DKB_ASSIGN_OR_RETURN(d->output_, ld.optional_matrix("output.weight", {n_embd, hp.n_vocab}));
  if (!d->output_) d->output_ = d->tok_embd_;  // tied embeddings
  for (const Weight* w : {&d->tok_embd_, &d->output_}) {
    if (!kernels::is_supported_weight_type(w->type)) {
      return unimplemented("tensor type " + std::string(tensor_type_name(w->type)) +
                           " is not supported");
    }
  }
  d->layers_.resize(hp.n_layer);
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    DecoderLayer& L = d->layers_[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    DKB_ASSIGN_OR_RETURN(L.attn_norm, ld.require_f32(p + "attn_norm.weight", n_embd));
    DKB_ASSIGN_OR_RETURN(L.wq, ld.matrix(p + "attn_q.weight", {n_embd, n_q}));
    DKB_ASSIGN_OR_RETURN(L.wk, ld.matrix(p + "attn_k.weight", {n_embd, n_k}));
    DKB_ASSIGN_OR_RETURN(L.wv, ld.matrix(p + "attn_v.weight", {n_embd, n_v}));
    DKB_ASSIGN_OR_RETURN(L.wo, ld.matrix(p + "attn_output.weight", {hp.n_head * hp.n_embd_head_v, n_embd}));
    DKB_ASSIGN_OR_RETURN(L.bq, ld.optional_f32(p + "attn_q.bias", n_q));
    DKB_ASSIGN_OR_RETURN(L.bk, ld.optional_f32(p + "attn_k.bias", n_k));
    DKB_ASSIGN_OR_RETURN(L.bv, ld.optional_f32(p + "attn_v.bias", n_v));
    DKB_ASSIGN_OR_RETURN(L.ffn_norm, ld.require_f32(p + "ffn_norm.weight", n_embd));
    DKB_ASSIGN_OR_RETURN(L.ffn_gate, ld.matrix(p + "ffn_gate.weight", {n_embd, hp.n_ff}));
    DKB_ASSIGN_OR_RETURN(L.ffn_up, ld.matrix(p + "ffn_up.weight", {n_embd, hp.n_ff}));
    DKB_ASSIGN_OR_RETURN(L.ffn_down, ld.matrix(p + "ffn_down.weight", {hp.n_ff, n_embd}));
    for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      if (!kernels::is_supported_weight_type(w->type)) {
        return unimplemented(p + ": tensor type " + std::string(tensor_type_name(w->type)) +
                             " is not supported");
      }
    }
  }
  d->hp_ = std::move(hp);
  d->opt_ = opt;
  return std::unique_ptr<engine::Architecture>(std::move(d));
}

engine::KvShape Decoder::kv_shape() const {
  // f32 rows unless the context asks for f16 (KvShape::with_f16): only attention reads them.
  return {.n_layer = hp_.n_layer,
          .k_dim = hp_.n_embd_k_gqa(),
          .v_dim = hp_.n_embd_v_gqa(),
          .n_heads = hp_.n_head_kv,
          .f16_capable = true};
}

size_t Decoder::workspace_floats(int64_t T, int64_t /*n_ctx*/) const {
  const int64_t n_q = hp_.n_head * hp_.n_embd_head_k;
  const int64_t n_attn = hp_.n_head * hp_.n_embd_head_v;
  return static_cast<size_t>(T * (4 * hp_.n_embd + n_q + hp_.n_embd_k_gqa() +
                                  hp_.n_embd_v_gqa() + n_attn + 2 * hp_.n_ff));
}

Status Decoder::forward(engine::ForwardState& st, std::span<const int32_t> tokens, int64_t n_past,
                        bool all_logits, float* logits) const {
  engine::SeqChunk c{*st.kv, tokens, n_past, logits};
  return run(st, std::span<const engine::SeqChunk>(&c, 1), all_logits);
}

Status Decoder::forward_batch(engine::ForwardState& st,
                              std::span<const engine::SeqChunk> chunks) const {
  return run(st, chunks, false);
}

Status Decoder::run(engine::ForwardState& st, std::span<const engine::SeqChunk> chunks,
                    bool all_logits) const {
  // Every chunk's tokens form one [T][n_embd] activation matrix, so each matmul reads its
  // weights once for the whole batch; only attention is per sequence.
  thread_local std::vector<int64_t> starts;  // reused: no allocation per decode step
  starts.clear();
  int64_t T = 0;
  for (const auto& c : chunks) {
    starts.push_back(T);
    T += static_cast<int64_t>(c.tokens.size());
  }
  starts.push_back(T);
  const int64_t n_embd = hp_.n_embd;
  const int64_t hd_k = hp_.n_embd_head_k, hd_v = hp_.n_embd_head_v;
  const int64_t n_q = hp_.n_head * hd_k, n_k = hp_.n_embd_k_gqa(), n_v = hp_.n_embd_v_gqa();
  const int64_t n_attn = hp_.n_head * hd_v;

  std::vector<float>& work = *st.work;
  if (work.size() < workspace_floats(T, 0)) work.resize(workspace_floats(T, 0));
  float* x = work.data();            // [T][n_embd] residual stream
  float* cur = x + T * n_embd;       // [T][n_embd]
  float* o = cur + T * n_embd;       // [T][n_embd]
  float* fin = o + T * n_embd;       // [T][n_embd]
  float* q = fin + T * n_embd;       // [T][n_q]
  float* k = q + T * n_q;            // [T][n_k]
  float* v = k + T * n_k;            // [T][n_v]
  float* attn = v + T * n_v;         // [T][n_attn]
  float* gate = attn + T * n_attn;   // [T][n_ff]
  float* up = gate + T * hp_.n_ff;   // [T][n_ff]

  std::vector<int32_t>& pos = *st.positions;
  pos.resize(T);
  const size_t emb_row = tok_embd_.row_bytes();
  for (size_t c = 0; c < chunks.size(); ++c) {
    for (int64_t t = starts[c]; t < starts[c + 1]; ++t) {
      pos[t] = static_cast<int32_t>(chunks[c].n_past + (t - starts[c]));
      const auto* row = static_cast<const uint8_t*>(tok_embd_.data) + chunks[c].tokens[t - starts[c]] * emb_row;
      kernels::dequantize_row(tok_embd_.type, row, x + t * n_embd, n_embd);
    }
  }

  kernels::RopeParams rp;
  rp.n_dims = static_cast<int>(hp_.n_rot);
  rp.neox = opt_.rope_neox;
  rp.freq_base = hp_.rope_freq_base;
  rp.freq_scale = hp_.rope_freq_scale;
  rp.n_ctx_orig = static_cast<int>(hp_.n_ctx_orig_yarn);

  // The rotation angles of every token, once for all layers, q and k.
  thread_local std::vector<float> rope_angles;  // reused, like starts
  rope_angles.resize(static_cast<size_t>(T * rp.n_dims));
  kernels::rope_table(pos.data(), T, rp, rope_angles.data());

  const float eps = hp_.f_norm_rms_eps;
  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    const DecoderLayer& L = layers_[l];
    rms_norm_rows(x, L.attn_norm, T, n_embd, eps, cur);
    matmul_shared(st, cur, T, {{L.wq, q}, {L.wk, k}, {L.wv, v}});
    add_bias(q, L.bq, T, n_q);
    add_bias(k, L.bk, T, n_k);
    add_bias(v, L.bv, T, n_v);
    kernels::rope_with_table(q, T, hp_.n_head, hd_k, rope_angles.data(), rp);
    kernels::rope_with_table(k, T, hp_.n_head_kv, hd_k, rope_angles.data(), rp);
    // Every sequence's attention in one pool run (a decode step of N sequences: N calls).
    thread_local std::vector<kernels::AttentionArgs> calls;  // reused, like starts
    calls.clear();
    for (size_t c = 0; c < chunks.size(); ++c) {
      const engine::SeqChunk& ch = chunks[c];
      const int64_t b = starts[c], len = starts[c + 1] - b;
      for (int64_t t = 0; t < len; ++t) {
        ch.kv.write_k(l, ch.n_past + t, k + (b + t) * n_k);
        ch.kv.write_v(l, ch.n_past + t, v + (b + t) * n_v);
      }
      kernels::AttentionArgs a;
      a.q = q + b * n_q;
      ch.kv.set_attention_kv(l, a);  // streams over the sequence's pages in place
      a.out = attn + b * n_attn;
      a.n_tokens = len;
      a.n_kv = ch.n_past + len;
      a.n_head = hp_.n_head;
      a.n_head_kv = hp_.n_head_kv;
      a.head_dim_k = hd_k;
      a.head_dim_v = hd_v;
      a.q_pos = pos.data() + b;
      a.causal = true;
      a.scale = 1.0f / std::sqrt(static_cast<float>(hd_k));
      calls.push_back(a);
    }
    kernels::attention(*st.pool, calls);
    matmul(st, L.wo, attn, T, o);
    for (int64_t i = 0; i < T * n_embd; ++i) x[i] += o[i];

    rms_norm_rows(x, L.ffn_norm, T, n_embd, eps, cur);
    matmul_shared(st, cur, T, {{L.ffn_gate, gate}, {L.ffn_up, up}});
    kernels::swiglu(*st.pool, gate, up, T * hp_.n_ff, gate);
    matmul(st, L.ffn_down, gate, T, o);
    for (int64_t i = 0; i < T * n_embd; ++i) x[i] += o[i];
  }

  if (all_logits) {  // one chunk, logits for every token
    rms_norm_rows(x, output_norm_, T, n_embd, eps, fin);
    matmul(st, output_, fin, T, chunks[0].logits);
    return Status::ok();
  }
  // Last token of each chunk; one output matmul for all of them.
  const int64_t n_out = static_cast<int64_t>(chunks.size());
  for (int64_t c = 0; c < n_out; ++c) {
    rms_norm_rows(x + (starts[c + 1] - 1) * n_embd, output_norm_, 1, n_embd, eps, fin + c * n_embd);
  }
  if (n_out == 1) {
    matmul(st, output_, fin, 1, chunks[0].logits);
    return Status::ok();
  }
  std::vector<float>& out = *st.batch_logits;
  out.resize(static_cast<size_t>(n_out * hp_.n_vocab));
  matmul(st, output_, fin, n_out, out.data());
  for (int64_t c = 0; c < n_out; ++c) {
    std::memcpy(chunks[c].logits, out.data() + c * hp_.n_vocab, hp_.n_vocab * sizeof(float));
  }
  return Status::ok();
}

}  // namespace dkb::models
