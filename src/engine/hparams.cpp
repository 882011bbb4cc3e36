#include "engine/hparams.h"

namespace dkb::engine {

Result<int64_t> require_int(const gguf::File& f, const std::string& key) {
  const gguf::Value* v = f.find(key);
  if (!v) return invalid_argument("missing metadata key " + key);
  auto i = v->as_int();
  if (!i) return invalid_argument("metadata key " + key + " is not an integer");
  return *i;
}

int64_t optional_int(const gguf::File& f, const std::string& key, int64_t def) {
  auto v = f.get_int(key);
  return v ? *v : def;
}

float optional_float(const gguf::File& f, const std::string& key, float def) {
  auto v = f.get_float(key);
  return v ? static_cast<float>(*v) : def;
}

Result<Hparams> Hparams::from_gguf(const gguf::File& f) {
  Hparams h;
  auto arch = f.get_string("general.architecture");
  if (!arch) return invalid_argument("missing metadata key general.architecture");
  h.arch = *arch;
  const std::string p = h.arch + ".";
  DKB_ASSIGN_OR_RETURN(h.n_embd, require_int(f, p + "embedding_length"));
  DKB_ASSIGN_OR_RETURN(h.n_layer, require_int(f, p + "block_count"));
  DKB_ASSIGN_OR_RETURN(h.n_head, require_int(f, p + "attention.head_count"));
  h.n_ctx_train = optional_int(f, p + "context_length", 2048);
  h.n_ff = optional_int(f, p + "feed_forward_length", 0);
  h.n_head_kv = optional_int(f, p + "attention.head_count_kv", h.n_head);
  if (h.n_embd <= 0 || h.n_embd > (1 << 20)) return invalid_argument("embedding_length out of range");
  if (h.n_layer <= 0 || h.n_layer > 4096) return invalid_argument("block_count out of range");
  if (h.n_head <= 0 || h.n_head > 4096) return invalid_argument("attention.head_count out of range");
  if (h.n_head_kv <= 0 || h.n_head % h.n_head_kv != 0) {
    return invalid_argument("attention.head_count_kv " + std::to_string(h.n_head_kv) +
                            " must divide attention.head_count " + std::to_string(h.n_head));
  }
  if (h.n_ctx_train <= 0) return invalid_argument("context_length must be positive");
  h.n_embd_head_k = optional_int(f, p + "attention.key_length", h.n_embd / h.n_head);
  h.n_embd_head_v = optional_int(f, p + "attention.value_length", h.n_embd / h.n_head);
  h.n_rot = optional_int(f, p + "rope.dimension_count", h.n_embd_head_k);
  if (h.n_rot < 0 || h.n_rot > h.n_embd_head_k || h.n_rot % 2 != 0) {
    return invalid_argument("rope.dimension_count out of range");
  }
  h.f_norm_eps = optional_float(f, p + "attention.layer_norm_epsilon", 1e-5f);
  h.f_norm_rms_eps = optional_float(f, p + "attention.layer_norm_rms_epsilon", 1e-5f);
  h.rope_freq_base = optional_float(f, p + "rope.freq_base", 10000.0f);
  auto stype = f.get_string(p + "rope.scaling.type");
  h.rope_scaling_type = stype ? *stype : "";
  float factor = optional_float(f, p + "rope.scaling.factor", 0.0f);
  h.rope_freq_scale = factor > 0 ? 1.0f / factor : 1.0f;
  h.n_ctx_orig_yarn = optional_int(f, p + "rope.scaling.original_context_length", h.n_ctx_train);
  auto tokens = f.get_strings("tokenizer.ggml.tokens");
  h.n_vocab = optional_int(f, p + "vocab_size", tokens ? static_cast<int64_t>(tokens->size()) : 0);
  return h;
}

}  // namespace dkb::engine
