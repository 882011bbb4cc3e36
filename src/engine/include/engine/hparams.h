// Hparams: a decoder/encoder model's hyper-parameters, read from GGUF metadata
// ("<arch>.embedding_length" etc.). Counts use llama.cpp's names (DESIGN §5).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "gguf/gguf.h"

namespace dkb::engine {

struct Hparams {
  std::string arch;          // general.architecture
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_embd_head_k = 0;  // key head size (attention.key_length, default n_embd / n_head)
  int64_t n_embd_head_v = 0;  // value head size
  int64_t n_rot = 0;          // rope.dimension_count
  float f_norm_eps = 1e-5f;       // attention.layer_norm_epsilon
  float f_norm_rms_eps = 1e-5f;   // attention.layer_norm_rms_epsilon
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  std::string rope_scaling_type;  // "", "none", "linear", "yarn"
  int64_t n_ctx_orig_yarn = 0;

  int64_t n_embd_k_gqa() const { return n_embd_head_k * n_head_kv; }
  int64_t n_embd_v_gqa() const { return n_embd_head_v * n_head_kv; }

  // Reads the common keys; architecture files read their own extras.
  // Errors: kInvalidArgument naming a missing or out-of-range key.
  static Result<Hparams> from_gguf(const gguf::File& file);
};

// "<arch>.<suffix>" helpers that fail with a message naming the key.
Result<int64_t> require_int(const gguf::File& f, const std::string& key);
int64_t optional_int(const gguf::File& f, const std::string& key, int64_t def);
float optional_float(const gguf::File& f, const std::string& key, float def);

}  // namespace dkb::engine
