// Quantization plan: which type each tensor of a model gets for a target file type, following
// llama.cpp's llama_model_quantize (llama-quant.cpp, build 4748) so our files have the same
// per-tensor type mix as llama-quantize's:
//  - only tensors whose name ends in "weight", with >= 2 dims, not norms ("_norm.weight"),
//    not ffn_gate_inp (MoE router), position/token-type embeddings, ssm_conv1d, rwkv
//    time_mix_*, attn_rel_b are quantized; everything else is copied unchanged;
//  - output.weight (or token_embd.weight when the model has no output.weight: tied
//    embeddings) gets Q6_K unless the target is Q8_0; Q8_0 if its rows are not a multiple of
//    256;
//  - attn_v / ffn_down / attn_output / attn_qkv get more bits in the _M / _L / Q2_K / Q3_K
//    types (use_more_bits: first and last eighth of the layers and every third in between),
//    and 8-expert models get Q8_0 attn_v/attn_k;
//  - a tensor whose row length is not a multiple of the chosen type's block size falls back:
//    Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, Q2_K/Q3_K→Q4_0 (llama.cpp: IQ4_NL, which deepkb does
//    not implement), then F16 if still not divisible. For legacy targets (Q4_0 … Q8_0)
//    llama.cpp refuses such a tensor; we fall back to F16 with a warning.
// Not reproduced: imatrix-dependent rules and IQ types, the 70B attn_v bump (needs llama.cpp's
// model-size table), --pure, --output-tensor-type/--token-embedding-type overrides.
//
// Thread-safety: a QuantPlanner is stateful (llama.cpp's layer counters); use one per file and
// feed it tensors in llama_tensor_order().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/tensor_type.h"
#include "gguf/gguf.h"

namespace dkb::engine {

// llama.cpp's enum llama_ftype values (written to general.file_type).
enum class FileType : uint32_t {
  kAllF32 = 0,
  kMostlyF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 7,
  kQ5_0 = 8,
  kQ5_1 = 9,
  kQ2_K = 10,
  kQ3_K_S = 11,
  kQ3_K_M = 12,
  kQ3_K_L = 13,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ5_K_S = 16,
  kQ5_K_M = 17,
  kQ6_K = 18,
  kMostlyBF16 = 32,
};

// Parses the names llama-quantize accepts for the supported types ("Q4_K_M", "q8_0",
// "F16", "BF16", "F32"; case-insensitive). nullopt for anything else.
std::optional<FileType> file_type_from_name(std::string_view name);
// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third layer in
// between (the layers whose attn_v / ffn_down get more bits in the _M types).
bool use_more_bits(int i_layer, int n_layers);
std::string_view file_type_name(FileType t);
// All supported names, for help and error messages ("Q4_0, Q4_1, ...").
std::string supported_file_type_names();
// The base tensor type of a file type (Q4_K for Q4_K_M, F16 for F16, ...).
TensorType file_type_base(FileType t);

// Tensors in the order llama.cpp processes and writes them: by layer ("blk.N." prefix, others
// first), then by name. Returns indices into file.tensors().
std::vector<size_t> llama_tensor_order(const gguf::File& file);

// True when llama.cpp would quantize this tensor at all (name/shape rules above).
bool is_quantizable_tensor(const gguf::TensorInfo& t);

class QuantPlanner {
 public:
  QuantPlanner(FileType ftype, const gguf::File& file);

  struct Decision {
    TensorType type;        // type to write (== source type: copy unchanged)
    bool quantize = false;  // true when the data must be converted
    bool fallback = false;  // the preferred type did not fit the row length
  };
  // The decision for tensor t; call once per tensor in llama_tensor_order().
  Decision decide(const gguf::TensorInfo& t);

  int n_fallback() const { return n_fallback_; }

 private:
  TensorType mix_type(const gguf::TensorInfo& t, TensorType new_type);
  std::pair<int, int> layer_info(int counter, int n_layer, const std::string& name) const;

  FileType ftype_;
  TensorType default_type_;
  std::string arch_;
  int n_layer_ = 0;
  int n_expert_ = 0;
  int n_gqa_ = 1;
  bool has_output_ = false;
  int n_attention_wv_ = 0;
  int i_attention_wv_ = 0;
  int i_ffn_down_ = 0;
  int i_ffn_gate_ = 0;
  int i_ffn_up_ = 0;
  int n_fallback_ = 0;
};

}  // namespace dkb::engine
