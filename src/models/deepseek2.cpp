#include "deepseek2.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "engine/hparams.h"
#include "kernels/kernels.h"
#include "layer_ops.h"

namespace dkb::models {
namespace {

using engine::Weight;


// Where expert e's [ne0, ne1] matrix of a 3-D expert tensor starts.
const void* expert_data(const Weight& w, int64_t e) {
  const size_t bytes = tensor_row_size(w.type, w.ne[0]) * static_cast<size_t>(w.ne[1]);
  return static_cast<const uint8_t*>(w.data) + e * bytes;
}

// Expert e's matrix as a 2-D weight (a copy of the Weight: allocates; decode uses expert_data).
Weight expert_slice(const Weight& w, int64_t e) {
  Weight s = w;
  s.ne = {w.ne[0], w.ne[1]};
  s.data = expert_data(w, e);
  s.n_bytes = tensor_row_size(w.type, w.ne[0]) * static_cast<size_t>(w.ne[1]);
  return s;
}


Status check_types(const std::vector<const Weight*>& ws) {
  for (const Weight* w : ws) {
    if (*w && !kernels::is_supported_weight_type(w->type)) {
      return unimplemented("tensor type " + std::string(tensor_type_name(w->type)) +
                           " is not supported");
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<engine::Architecture>> Deepseek2::create(gguf::File& f,
                                                                engine::Hparams hp) {
  auto d = std::make_unique<Deepseek2>();
  Deepseek2Params& p = d->p_;
  const std::string k = hp.arch + ".";
  p.n_layer_dense_lead = engine::optional_int(f, k + "leading_dense_block_count", 0);
  p.n_lora_q = engine::optional_int(f, k + "attention.q_lora_rank", 0);
  DKB_ASSIGN_OR_RETURN(p.n_lora_kv, engine::require_int(f, k + "attention.kv_lora_rank"));
  DKB_ASSIGN_OR_RETURN(p.n_ff_exp, engine::require_int(f, k + "expert_feed_forward_length"));
  DKB_ASSIGN_OR_RETURN(p.n_expert, engine::require_int(f, k + "expert_count"));
  DKB_ASSIGN_OR_RETURN(p.n_expert_used, engine::require_int(f, k + "expert_used_count"));
  p.n_expert_shared = engine::optional_int(f, k + "expert_shared_count", 0);
  p.expert_weights_scale = engine::optional_float(f, k + "expert_weights_scale", 1.0f);
  p.expert_weights_norm = f.get_bool(k + "expert_weights_norm").value_or(false);
  p.gating = static_cast<int>(engine::optional_int(f, k + "expert_gating_func", 1));
  p.rope_yarn_log_mul = engine::optional_float(f, k + "rope.scaling.yarn_log_multiplier", 0.0f);
  if (p.n_expert <= 0 || p.n_expert > 1024 || p.n_expert_used <= 0 ||
      p.n_expert_used > p.n_expert) {
    return invalid_argument("expert_count/expert_used_count out of range");
  }
  if (p.gating != 1 && p.gating != 2) {
    return invalid_argument("expert_gating_func " + std::to_string(p.gating) +
                            " unknown (1 softmax, 2 sigmoid)");
  }
  if (p.n_layer_dense_lead < 0 || p.n_layer_dense_lead > hp.n_layer) {
    return invalid_argument("leading_dense_block_count out of range");
  }
  const int64_t n_rot = hp.n_rot;
  const int64_t hd_k = hp.n_embd_head_k, hd_v = hp.n_embd_head_v;
  if (n_rot <= 0 || n_rot >= hd_k) return invalid_argument("rope.dimension_count must be < key_length");
  const int64_t nope = hd_k - n_rot;
  const int64_t n_embd = hp.n_embd, n_head = hp.n_head;

  engine::WeightLoader ld(f);
  const gguf::TensorInfo* te = f.find_tensor("token_embd.weight");
  if (!te || te->ne.size() < 2) return invalid_argument("missing tensor 'token_embd.weight'");
  if (hp.n_vocab <= 0) hp.n_vocab = te->ne[1];
  DKB_ASSIGN_OR_RETURN(d->tok_embd_, ld.require("token_embd.weight", {n_embd, hp.n_vocab}));
  DKB_ASSIGN_OR_RETURN(d->output_norm_, ld.require_f32("output_norm.weight", n_embd));
  DKB_ASSIGN_OR_RETURN(d->output_, ld.optional_matrix("output.weight", {n_embd, hp.n_vocab}));
  if (!d->output_) d->output_ = d->tok_embd_;
  DKB_RETURN_IF_ERROR(check_types({&d->tok_embd_, &d->output_}));

  d->layers_.resize(hp.n_layer);
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    Deepseek2Layer& L = d->layers_[l];
    const std::string b = "blk." + std::to_string(l) + ".";
    DKB_ASSIGN_OR_RETURN(L.attn_norm, ld.require_f32(b + "attn_norm.weight", n_embd));
    if (p.n_lora_q > 0) {
      DKB_ASSIGN_OR_RETURN(L.wq_a, ld.matrix(b + "attn_q_a.weight", {n_embd, p.n_lora_q}));
      DKB_ASSIGN_OR_RETURN(L.q_a_norm, ld.require_f32(b + "attn_q_a_norm.weight", p.n_lora_q));
      DKB_ASSIGN_OR_RETURN(L.wq_b, ld.matrix(b + "attn_q_b.weight", {p.n_lora_q, n_head * hd_k}));
    } else {
      DKB_ASSIGN_OR_RETURN(L.wq, ld.matrix(b + "attn_q.weight", {n_embd, n_head * hd_k}));
    }
    DKB_ASSIGN_OR_RETURN(L.wkv_a_mqa, ld.matrix(b + "attn_kv_a_mqa.weight", {n_embd, p.n_lora_kv + n_rot}));
    DKB_ASSIGN_OR_RETURN(L.kv_a_norm, ld.require_f32(b + "attn_kv_a_norm.weight", p.n_lora_kv));
    // In the file's row layout: the absorbed attention reads it a head's row at a time.
    DKB_ASSIGN_OR_RETURN(L.wkv_b, ld.require(b + "attn_kv_b.weight", {p.n_lora_kv, n_head * (nope + hd_v)}));
    DKB_ASSIGN_OR_RETURN(L.wo, ld.matrix(b + "attn_output.weight", {n_head * hd_v, n_embd}));
    DKB_ASSIGN_OR_RETURN(L.ffn_norm, ld.require_f32(b + "ffn_norm.weight", n_embd));
    if (l < p.n_layer_dense_lead) {
      if (hp.n_ff <= 0) return invalid_argument("missing metadata key " + k + "feed_forward_length");
      DKB_ASSIGN_OR_RETURN(L.ffn_gate, ld.matrix(b + "ffn_gate.weight", {n_embd, hp.n_ff}));
      DKB_ASSIGN_OR_RETURN(L.ffn_up, ld.matrix(b + "ffn_up.weight", {n_embd, hp.n_ff}));
      DKB_ASSIGN_OR_RETURN(L.ffn_down, ld.matrix(b + "ffn_down.weight", {hp.n_ff, n_embd}));
    } else {
      DKB_ASSIGN_OR_RETURN(L.gate_inp, ld.matrix(b + "ffn_gate_inp.weight", {n_embd, p.n_expert}));
      DKB_ASSIGN_OR_RETURN(L.exp_probs_b, ld.optional_f32(b + "exp_probs_b.bias", p.n_expert));
      DKB_ASSIGN_OR_RETURN(L.gate_exps, ld.matrix(b + "ffn_gate_exps.weight", {n_embd, p.n_ff_exp, p.n_expert}));
      DKB_ASSIGN_OR_RETURN(L.up_exps, ld.matrix(b + "ffn_up_exps.weight", {n_embd, p.n_ff_exp, p.n_expert}));
      DKB_ASSIGN_OR_RETURN(L.down_exps, ld.matrix(b + "ffn_down_exps.weight", {p.n_ff_exp, n_embd, p.n_expert}));
      if (p.n_expert_shared > 0) {
        const int64_t n_ff_sh = p.n_ff_exp * p.n_expert_shared;
        DKB_ASSIGN_OR_RETURN(L.gate_shexp, ld.matrix(b + "ffn_gate_shexp.weight", {n_embd, n_ff_sh}));
        DKB_ASSIGN_OR_RETURN(L.up_shexp, ld.matrix(b + "ffn_up_shexp.weight", {n_embd, n_ff_sh}));
        DKB_ASSIGN_OR_RETURN(L.down_shexp, ld.matrix(b + "ffn_down_shexp.weight", {n_ff_sh, n_embd}));
      }
    }
    DKB_RETURN_IF_ERROR(check_types({&L.wq, &L.wq_a, &L.wq_b, &L.wkv_a_mqa, &L.wkv_b, &L.wo,
                                     &L.ffn_gate, &L.ffn_up, &L.ffn_down, &L.gate_inp,
                                     &L.gate_exps, &L.up_exps, &L.down_exps, &L.gate_shexp,
                                     &L.up_shexp, &L.down_shexp})
                            .with_context("blk." + std::to_string(l)));
  }
  // DKB_MLA=absorb or =decompress forces one way of attending (tests, measuring).
  if (const char* m = std::getenv("DKB_MLA")) {
    const std::string mode = m;
    if (mode == "absorb") {
      d->mla_mode_ = 1;
    } else if (mode == "decompress") {
      d->mla_mode_ = -1;
    } else if (!mode.empty()) {
      return invalid_argument("DKB_MLA='" + mode + "': expected 'absorb' or 'decompress'");
    }
  }
  d->hp_ = std::move(hp);
  return std::unique_ptr<engine::Architecture>(std::move(d));
}

engine::KvShape Deepseek2::kv_shape() const {
  // One row per position: k_pe (n_rot) then the normalized latent c~ (n_lora_kv), which the
  // absorbed attention reads as K and (its last n_lora_kv elements) as V; f16 on request.
  return {
      .n_layer = hp_.n_layer, .k_dim = p_.n_lora_kv + hp_.n_rot, .v_dim = 0, .f16_capable = true};
}

size_t Deepseek2::workspace_floats(int64_t T, int64_t n_ctx) const {
  const int64_t n_head = hp_.n_head, hd_k = hp_.n_embd_head_k, hd_v = hp_.n_embd_head_v;
  const int64_t r = p_.n_lora_kv, n_rot = hp_.n_rot;
  const int64_t n_ff = std::max({hp_.n_ff, p_.n_ff_exp * std::max<int64_t>(p_.n_expert_shared, 1),
                                 p_.n_ff_exp});
  int64_t base = 4 * T * hp_.n_embd;
  const int64_t nope = hd_k - n_rot;
  // q, q_a, kv_a, the absorbed queries, the attention's latent outputs, the heads' outputs;
  // then (decompressing) the per-head queries, the cached latents and K, V rebuilt from them.
  int64_t attn = T * n_head * hd_k + T * std::max(p_.n_lora_q, int64_t{1}) + T * (r + n_rot) +
                 T * n_head * (r + n_rot) + T * n_head * r + T * n_head * hd_v +
                 T * n_head * hd_k + n_ctx * r + n_ctx * n_head * (nope + hd_v) +
                 n_ctx * n_head * hd_k + n_ctx * n_head * hd_v;
  // (moe(): one token's selected and shared experts side by side in gate and up.)
  const int64_t ffn_one = std::max(p_.n_expert_used * p_.n_ff_exp + p_.n_ff_exp * p_.n_expert_shared,
                                   (p_.n_expert_used + 1) * hp_.n_embd);
  int64_t ffn = T * p_.n_expert * 2 + T * hp_.n_embd * 2 + 2 * std::max(T * n_ff, ffn_one) +
                T * hp_.n_embd;
  return static_cast<size_t>(base + std::max(attn, ffn));
}

// Multi-head latent attention. Per head h, attn_kv_b holds W_UK[h] (nope rows) and W_UV[h]
// (hd_v rows) over the latent (r columns); llama.cpp (build 4748) computes k_nope = W_UK[h] c~
// and v = W_UV[h] c~ per position, c~ being the normalised latent as its matmul sees it
// (converted to attn_kv_b's vec-dot type). The cache holds each position's roped k_pe and c~.
// Two ways to attend, the same sums up to float rounding:
// - decompressing (prefill chunks): K and V of every cached position rebuilt with attn_kv_b
//   (one quantized matmul over the chunk's n_kv latents), then attention per head;
// - absorbed (the DeepSeek-V2 paper's decode form):
//     q_nope . k_nope = (q_nope W_UK[h]) . c~    (the absorbed query, head_matmul_xw)
//     sum_j p_j v_j   = W_UV[h] (sum_j p_j c~_j) (head_matmul_wx on the attention's output),
//   a multi-query attention over the cache rows [k_pe, c~] (n_rot + r) with V their last r
//   floats: O(r) per cached position and token, with no pass over every position by attn_kv_b.
// mla_absorbs() picks the cheaper for a chunk of T tokens over n_kv positions.
void Deepseek2::attention(engine::ForwardState& st, const Deepseek2Layer& L, int64_t il,
                          const float* cur, int64_t T, int64_t n_past, float* out,
                          float* s) const {
  const int64_t n_head = hp_.n_head, hd_k = hp_.n_embd_head_k, hd_v = hp_.n_embd_head_v;
  const int64_t n_rot = hp_.n_rot, nope = hd_k - n_rot, r = p_.n_lora_kv;
  const int64_t lat = n_rot + r;                  // a cache row: k_pe ++ c~
  float* q = s;                                   // [T][n_head*hd_k]
  float* q_a = q + T * n_head * hd_k;             // [T][n_lora_q]
  float* kv_a = q_a + T * std::max(p_.n_lora_q, int64_t{1});  // [T][lat]
  float* qa = kv_a + T * lat;                     // [T][n_head][lat]: roped q_pe ++ absorbed q
  float* u = qa + T * n_head * lat;               // [T][n_head][r]: attention over the latents
  float* o = u + T * n_head * r;                  // [T][n_head*hd_v]

  const float eps = hp_.f_norm_rms_eps;
  // The query's first projection and the latent's share their input: one pool run.
  if (L.wq_a) {
    matmul_shared(st, cur, T, {{L.wq_a, q_a}, {L.wkv_a_mqa, kv_a}});
    rms_norm_rows(q_a, L.q_a_norm, T, p_.n_lora_q, eps, q_a, p_.n_lora_q, p_.n_lora_q);
    matmul(st, L.wq_b, q_a, T, q);
  } else {
    matmul_shared(st, cur, T, {{L.wq, q}, {L.wkv_a_mqa, kv_a}});
  }

  // YaRN as llama.cpp applies it to DeepSeek: the rope's magnitude correction is undone by
  // attn_factor and folded into the softmax scale (mscale^2) instead.
  const float freq_scale = hp_.rope_freq_scale;
  const bool yarn = hp_.rope_scaling_type == "yarn";
  const float mscale = 1.0f + p_.rope_yarn_log_mul * std::log(1.0f / freq_scale);
  const float kq_scale = mscale * mscale / std::sqrt(static_cast<float>(hd_k));
  kernels::RopeParams rp;
  rp.n_dims = static_cast<int>(n_rot);
  rp.neox = false;
  rp.freq_base = hp_.rope_freq_base;
  rp.freq_scale = freq_scale;
  rp.n_ctx_orig = static_cast<int>(hp_.n_ctx_orig_yarn);
  rp.ext_factor = yarn ? 1.0f : 0.0f;
  rp.attn_factor = 1.0f / (1.0f + 0.1f * std::log(1.0f / freq_scale));

  const int32_t* pos = st.positions->data();
  // The query's rope part, roped in place at the start of each head's row.
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < n_head; ++h) {
      std::memcpy(qa + (t * n_head + h) * lat, q + t * n_head * hd_k + h * hd_k + nope,
                  n_rot * sizeof(float));
    }
  }
  kernels::rope(qa, T, n_head, lat, pos, rp);
  // The cache rows: roped k_pe ++ c~ (the normalised latent through attn_kv_b's vec-dot type).
  // wkv_a_mqa gives [latent (r), k_pe (n_rot)].
  const TensorType vdt = kernels::vec_dot_type(L.wkv_b.type);
  thread_local std::vector<uint8_t> conv;
  thread_local std::vector<float> row;
  conv.resize(tensor_row_size(vdt, r));
  row.resize(static_cast<size_t>(lat));
  for (int64_t t = 0; t < T; ++t) {
    const float* src = kv_a + t * lat;
    std::memcpy(row.data(), src + r, n_rot * sizeof(float));
    float* c = row.data() + n_rot;
    kernels::rms_norm(src, L.kv_a_norm.f32(), r, eps, c);
    if (vdt != TensorType::kF32) {
      kernels::quantize_row(vdt, c, conv.data(), r);
      kernels::dequantize_row(vdt, conv.data(), c, r);
    }
    kernels::rope(row.data(), 1, 1, lat, pos + t, rp);
    st.kv->write_k(il, n_past + t, row.data());  // f16 cache: rounded to half
  }
  const int64_t n_kv = n_past + T;
  kernels::AttentionArgs a;
  a.n_tokens = T;
  a.n_kv = n_kv;
  a.n_head = n_head;
  a.q_pos = pos;
  a.causal = true;
  a.scale = kq_scale;
  if (mla_absorbs(T, n_kv)) {
    // Absorbed queries: q_nope[t][h] times W_UK[h].
    const kernels::HeadWeights w_uk{L.wkv_b.type, L.wkv_b.data, n_head, nope, r, nope + hd_v};
    kernels::head_matmul_xw(*st.pool, w_uk, q, {n_head * hd_k, hd_k}, qa + n_rot,
                            {n_head * lat, lat}, T);
    a.q = qa;
    st.kv->set_attention_kv(il, a);  // K rows of lat elements, in the sequence's pages
    // V: the last r elements of the same rows.
    if (a.k16 != nullptr) {
      a.v16 = a.k16 + n_rot;
    } else {
      a.v = a.k + n_rot;
    }
    a.v_page_stride = a.k_page_stride;
    a.k_row_stride = a.v_row_stride = lat;
    a.out = u;
    a.n_head_kv = 1;
    a.head_dim_k = lat;
    a.head_dim_v = r;
    kernels::attention(*st.pool, a);
    // Each head's output: W_UV[h] times its latent mix.
    const kernels::HeadWeights w_uv{L.wkv_b.type,
                                    static_cast<const uint8_t*>(L.wkv_b.data) + nope * L.wkv_b.row_bytes(),
                                    n_head, hd_v, r, nope + hd_v};
    kernels::head_matmul_wx(*st.pool, w_uv, u, {n_head * r, r}, o, {n_head * hd_v, hd_v}, T);
  } else {
    float* qs = o + T * n_head * hd_v;              // [T][n_head][hd_k]: nope ++ roped pe
    float* packed = qs + T * n_head * hd_k;         // [n_kv][r]: the cached c~
    float* kv = packed + n_kv * r;                  // [n_kv][n_head*(nope+hd_v)]
    float* K = kv + n_kv * n_head * (nope + hd_v);  // [n_kv][n_head][hd_k]
    float* V = K + n_kv * n_head * hd_k;            // [n_kv][n_head][hd_v]
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < n_head; ++h) {
        float* dst = qs + (t * n_head + h) * hd_k;
        std::memcpy(dst, q + t * n_head * hd_k + h * hd_k, nope * sizeof(float));
        std::memcpy(dst + nope, qa + (t * n_head + h) * lat, n_rot * sizeof(float));
      }
    }
    // Cached row j as floats: in place (f32), or an f16 cache's widened into row.
    const engine::KvView& cache = *st.kv;
    auto cached_row = [&](int64_t j) -> const float* {
      if (!cache.f16) return cache.k(il, j);
      cache.read_k(il, j, row.data());
      return row.data();
    };
    for (int64_t j = 0; j < n_kv; ++j) {
      std::memcpy(packed + j * r, cached_row(j) + n_rot, r * sizeof(float));
    }
    // c~ is already in the vec-dot type's values, which converting again keeps (from an f16
    // cache, the values rounded to half are converted again).
    matmul(st, L.wkv_b, packed, n_kv, kv);
    for (int64_t j = 0; j < n_kv; ++j) {
      const float* kpe = cached_row(j);
      for (int64_t h = 0; h < n_head; ++h) {
        const float* src = kv + j * n_head * (nope + hd_v) + h * (nope + hd_v);
        float* kd = K + (j * n_head + h) * hd_k;
        std::memcpy(kd, src, nope * sizeof(float));
        std::memcpy(kd + nope, kpe, n_rot * sizeof(float));
        std::memcpy(V + (j * n_head + h) * hd_v, src + nope, hd_v * sizeof(float));
      }
    }
    a.q = qs;
    a.k = K;
    a.v = V;
    a.out = o;
    a.n_head_kv = n_head;
    a.head_dim_k = hd_k;
    a.head_dim_v = hd_v;
    kernels::attention(*st.pool, a);
  }
  matmul(st, L.wo, o, T, out);
}

bool Deepseek2::mla_absorbs(int64_t T, int64_t n_kv) const {
  if (mla_mode_ != 0) return mla_mode_ > 0;
  // Work in units of one f32 multiply-add. Decompressing: attn_kv_b (P weights) over every cached
  // latent, a quantized matmul counted at 1/6 (VNNI int8 against f32 FMA) but at least the time
  // of streaming attn_kv_b once (~0.4 P), then per-head attention and the copies of K and V
  // (hd_k + hd_v per head, twice). Absorbing: attn_kv_b's rows dequantized in registers and used
  // once per token (~0.4 P each), and attention over rows of n_rot + 2r per head. Fitted on
  // DeepSeek-V2-Lite Q4_0 decode, two threads (per layer: absorbing 78 us + 0.6 us per cached
  // position, decompressing 79 us at 1 position and ~32 us more per position): decode absorbs
  // from ~2 cached positions on; a prefill chunk decompresses unless it is short against the
  // cached context.
  const double P = static_cast<double>(hp_.n_head * (hp_.n_embd_head_k - hp_.n_rot + hp_.n_embd_head_v) *
                                       p_.n_lora_kv);
  const double h = static_cast<double>(hp_.n_head);
  const double r = static_cast<double>(p_.n_lora_kv), n_rot = static_cast<double>(hp_.n_rot);
  const double hd = static_cast<double>(hp_.n_embd_head_k + hp_.n_embd_head_v);
  const double t = static_cast<double>(T), n = static_cast<double>(n_kv);
  const double decompress = std::max(n * P / 6.0, 0.4 * P) + n * h * hd * 2.0 + t * n * h * hd;
  const double absorb = 0.4 * t * P + t * n * h * (n_rot + 2.0 * r);
  return absorb < decompress;
}

void Deepseek2::moe(engine::ForwardState& st, const Deepseek2Layer& L, const float* cur,
                    int64_t T, float* out, float* s) const {
  const int64_t n_embd = hp_.n_embd, n_exp = p_.n_expert, k = p_.n_expert_used;
  const int64_t n_ff = p_.n_ff_exp;
  float* probs = s;                          // [T][n_exp]
  float* weights = probs + T * n_exp;        // [T][k]  (only k used)
  float* xin = weights + T * n_exp;          // [T][n_embd] gathered rows
  float* ybuf = xin + T * n_embd;            // [T][n_embd]
  const int64_t n_sh = n_ff * p_.n_expert_shared;
  const int64_t n_ff_max = std::max(n_ff, n_sh);
  // [T][n_ff_max], or one token's k selected experts and the shared ones side by side (and,
  // in up, their down projections: k + 1 rows of n_embd).
  const int64_t gate_len = std::max({T * n_ff_max, k * n_ff + n_sh, (k + 1) * n_embd});
  float* gate = ybuf + T * n_embd;
  float* up = gate + gate_len;

  matmul(st, L.gate_inp, cur, T, probs);
  // Routing scratch, reused per thread: no allocation per decode step once warm.
  thread_local std::vector<int32_t> selected, order;
  thread_local std::vector<float> sel;
  selected.resize(static_cast<size_t>(T * k));
  order.resize(static_cast<size_t>(n_exp));
  sel.resize(static_cast<size_t>(n_exp));
  for (int64_t t = 0; t < T; ++t) {
    float* pr = probs + t * n_exp;
    if (p_.gating == 1) {
      kernels::softmax(pr, n_exp);
    } else {
      for (int64_t e = 0; e < n_exp; ++e) pr[e] = 1.0f / (1.0f + std::exp(-pr[e]));
    }
    for (int64_t e = 0; e < n_exp; ++e) sel[e] = pr[e] + (L.exp_probs_b ? L.exp_probs_b.f32()[e] : 0.0f);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return sel[a] > sel[b]; });
    float sum = 0;
    for (int64_t i = 0; i < k; ++i) {
      selected[t * k + i] = order[i];
      weights[t * k + i] = pr[order[i]];
      sum += pr[order[i]];
    }
    for (int64_t i = 0; i < k; ++i) {
      if (p_.expert_weights_norm) weights[t * k + i] /= sum;
      weights[t * k + i] *= p_.expert_weights_scale;
    }
  }
  std::fill(out, out + T * n_embd, 0.0f);
  if (T == 1) return moe_one_token(st, L, cur, selected.data(), weights, out, gate, up);
  // Tokens routed to the same expert are batched into one matmul per expert.
  thread_local std::vector<int64_t> rows;
  thread_local std::vector<float> row_w;
  for (int64_t e = 0; e < n_exp; ++e) {
    rows.clear();
    row_w.clear();
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t i = 0; i < k; ++i) {
        if (selected[t * k + i] == e) {
          rows.push_back(t);
          row_w.push_back(weights[t * k + i]);
        }
      }
    }
    if (rows.empty()) continue;
    const int64_t m = static_cast<int64_t>(rows.size());
    for (int64_t i = 0; i < m; ++i) std::memcpy(xin + i * n_embd, cur + rows[i] * n_embd, n_embd * sizeof(float));
    const Weight ge = expert_slice(L.gate_exps, e), ue = expert_slice(L.up_exps, e);
    matmul_shared(st, xin, m, {{ge, gate}, {ue, up}});
    kernels::swiglu(*st.pool, gate, up, m * n_ff, gate);
    matmul(st, expert_slice(L.down_exps, e), gate, m, ybuf);
    for (int64_t i = 0; i < m; ++i) {
      float* dst = out + rows[i] * n_embd;
      const float* src = ybuf + i * n_embd;
      for (int64_t c = 0; c < n_embd; ++c) dst[c] += src[c] * row_w[i];
    }
  }
  if (L.gate_shexp) {
    matmul_shared(st, cur, T, {{L.gate_shexp, gate}, {L.up_shexp, up}});
    kernels::swiglu(*st.pool, gate, up, T * n_sh, gate);
    matmul(st, L.down_shexp, gate, T, ybuf);
    for (int64_t i = 0; i < T * n_embd; ++i) out[i] += ybuf[i];
  }
}

// Decode: the token's selected experts in ascending order (the order moe() adds them in for any
// number of tokens, so the sums are the same), their gates and ups and the shared experts' in one
// pool run over the same input, side by side in gate and up; then their downs in one more.
void Deepseek2::moe_one_token(engine::ForwardState& st, const Deepseek2Layer& L, const float* cur,
                              const int32_t* selected, const float* weights, float* out,
                              float* gate, float* up) const {
  const int64_t n_embd = hp_.n_embd, k = p_.n_expert_used, n_ff = p_.n_ff_exp;
  const int64_t n_sh = L.gate_shexp ? n_ff * p_.n_expert_shared : 0;
  thread_local std::vector<int64_t> order;  // reused: no allocation per decode step once warm
  order.resize(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return selected[a] < selected[b]; });
  thread_local std::vector<kernels::MatmulTarget> targets;
  targets.clear();
  // (Pointers into the 3-D expert tensors, not expert_slice: no allocation per step.)
  auto add = [&](const engine::Weight& wt, const void* data, float* y) {
    targets.push_back({wt.type, data, wt.ne[1], y, wt.layout});
  };
  for (int64_t i = 0; i < k; ++i) {
    const int64_t e = selected[order[i]];
    add(L.gate_exps, expert_data(L.gate_exps, e), gate + i * n_ff);
    add(L.up_exps, expert_data(L.up_exps, e), up + i * n_ff);
  }
  if (n_sh > 0) {
    add(L.gate_shexp, L.gate_shexp.data, gate + k * n_ff);
    add(L.up_shexp, L.up_shexp.data, up + k * n_ff);
  }
  // matmul_shared_input fuses up to 16 targets (DeepSeek-V3: 8 experts and a shared one, 18).
  constexpr size_t kFused = 16;
  for (size_t i = 0; i < targets.size(); i += kFused) {
    const size_t n = std::min(kFused, targets.size() - i);
    kernels::matmul_shared_input(*st.pool, *st.matmul, std::span(targets.data() + i, n), n_embd,
                                 cur, 1);
  }
  // One swiglu per expert, as moe() calls it (the vector/tail split follows each call's length).
  for (int64_t i = 0; i < k; ++i) {
    kernels::swiglu(*st.pool, gate + i * n_ff, up + i * n_ff, n_ff, gate + i * n_ff);
  }
  if (n_sh > 0) kernels::swiglu(*st.pool, gate + k * n_ff, up + k * n_ff, n_sh, gate + k * n_ff);
  // The downs, each over its expert's activations, in one pool run (16 at a time) into `up`
  // (free after swiglu): expert i's row at up + i * n_embd, the shared experts' after them.
  thread_local std::vector<kernels::MatmulTask> downs;
  downs.clear();
  auto add_down = [&](const engine::Weight& wt, const void* data, const float* x, float* y) {
    downs.push_back({wt.type, data, wt.ne[0], wt.ne[1], x, y, wt.layout});
  };
  for (int64_t i = 0; i < k; ++i) {
    add_down(L.down_exps, expert_data(L.down_exps, selected[order[i]]), gate + i * n_ff,
             up + i * n_embd);
  }
  if (n_sh > 0) add_down(L.down_shexp, L.down_shexp.data, gate + k * n_ff, up + k * n_embd);
  for (size_t i = 0; i < downs.size(); i += kFused) {
    const size_t n = std::min(kFused, downs.size() - i);
    kernels::matmul_batch(*st.pool, *st.matmul, std::span(downs.data() + i, n), 1);
  }
  // Added in the order moe() adds them: the experts ascending, then the shared ones.
  for (int64_t i = 0; i < k; ++i) {
    const float wi = weights[order[i]];
    const float* y = up + i * n_embd;
    for (int64_t c = 0; c < n_embd; ++c) out[c] += y[c] * wi;
  }
  if (n_sh > 0) {
    const float* y = up + k * n_embd;
    for (int64_t c = 0; c < n_embd; ++c) out[c] += y[c];
  }
}

Status Deepseek2::forward(engine::ForwardState& st, std::span<const int32_t> tokens,
                          int64_t n_past, bool all_logits, float* logits) const {
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t n_embd = hp_.n_embd;
  std::vector<float>& work = *st.work;
  const size_t need = workspace_floats(T, n_past + T);
  if (work.size() < need) work.resize(need);
  float* x = work.data();
  float* cur = x + T * n_embd;
  float* o = cur + T * n_embd;
  float* fin = o + T * n_embd;
  float* scratch = fin + T * n_embd;

  std::vector<int32_t>& pos = *st.positions;
  pos.resize(T);
  for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>(n_past + t);
  const size_t emb_row = tok_embd_.row_bytes();
  for (int64_t t = 0; t < T; ++t) {
    const auto* row = static_cast<const uint8_t*>(tok_embd_.data) + tokens[t] * emb_row;
    kernels::dequantize_row(tok_embd_.type, row, x + t * n_embd, n_embd);
  }
  const float eps = hp_.f_norm_rms_eps;
  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    const Deepseek2Layer& L = layers_[l];
    rms_norm_rows(x, L.attn_norm, T, n_embd, eps, cur, n_embd, n_embd);
    attention(st, L, l, cur, T, n_past, o, scratch);
    for (int64_t i = 0; i < T * n_embd; ++i) x[i] += o[i];
    rms_norm_rows(x, L.ffn_norm, T, n_embd, eps, cur, n_embd, n_embd);
    if (l < p_.n_layer_dense_lead) {
      float* gate = scratch;
      float* up = gate + T * hp_.n_ff;
      matmul_shared(st, cur, T, {{L.ffn_gate, gate}, {L.ffn_up, up}});
      kernels::swiglu(*st.pool, gate, up, T * hp_.n_ff, gate);
      matmul(st, L.ffn_down, gate, T, o);
    } else {
      moe(st, L, cur, T, o, scratch);
    }
    for (int64_t i = 0; i < T * n_embd; ++i) x[i] += o[i];
  }
  const int64_t first = all_logits ? 0 : T - 1;
  const int64_t n_out = T - first;
  rms_norm_rows(x + first * n_embd, output_norm_, n_out, n_embd, eps, fin, n_embd, n_embd);
  matmul(st, output_, fin, n_out, logits);
  return Status::ok();
}

namespace {
Result<std::unique_ptr<engine::Architecture>> make_deepseek2(gguf::File& f, engine::Hparams hp) {
  return Deepseek2::create(f, std::move(hp));
}
DKB_REGISTER_ARCHITECTURE("deepseek2", make_deepseek2);
}  // namespace

}  // namespace dkb::models
