#include "engine/quant_plan.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <tuple>

#include "base/log.h"

namespace dkb::engine {
namespace {

using T = TensorType;

struct FileTypeName {
  FileType type;
  std::string_view name;
};
constexpr FileTypeName kNames[] = {
    {FileType::kQ4_0, "Q4_0"},       {FileType::kQ4_1, "Q4_1"},     {FileType::kQ5_0, "Q5_0"},
    {FileType::kQ5_1, "Q5_1"},       {FileType::kQ8_0, "Q8_0"},     {FileType::kQ2_K, "Q2_K"},
    {FileType::kQ3_K_S, "Q3_K_S"},   {FileType::kQ3_K_M, "Q3_K_M"}, {FileType::kQ3_K_L, "Q3_K_L"},
    {FileType::kQ4_K_S, "Q4_K_S"},   {FileType::kQ4_K_M, "Q4_K_M"}, {FileType::kQ5_K_S, "Q5_K_S"},
    {FileType::kQ5_K_M, "Q5_K_M"},   {FileType::kQ6_K, "Q6_K"},     {FileType::kMostlyF16, "F16"},
    {FileType::kMostlyBF16, "BF16"}, {FileType::kAllF32, "F32"},
};

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

bool is_quantized_type(TensorType t) {
  return t != T::kF32 && t != T::kF16 && t != T::kBF16;
}

// Layer number of "blk.N....", or -1.
int parse_layer(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

}  // namespace

bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

std::optional<FileType> file_type_from_name(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& n : kNames) {
    if (upper == n.name) return n.type;
  }
  return std::nullopt;
}

std::string_view file_type_name(FileType t) {
  for (const auto& n : kNames) {
    if (n.type == t) return n.name;
  }
  return "?";
}

std::string supported_file_type_names() {
  std::string out;
  for (const auto& n : kNames) out += (out.empty() ? "" : ", ") + std::string(n.name);
  return out;
}

TensorType file_type_base(FileType t) {
  switch (t) {
    case FileType::kAllF32:
      return T::kF32;
    case FileType::kMostlyF16:
      return T::kF16;
    case FileType::kMostlyBF16:
      return T::kBF16;
    case FileType::kQ4_0:
      return T::kQ4_0;
    case FileType::kQ4_1:
      return T::kQ4_1;
    case FileType::kQ5_0:
      return T::kQ5_0;
    case FileType::kQ5_1:
      return T::kQ5_1;
    case FileType::kQ8_0:
      return T::kQ8_0;
    case FileType::kQ2_K:
      return T::kQ2_K;
    case FileType::kQ3_K_S:
    case FileType::kQ3_K_M:
    case FileType::kQ3_K_L:
      return T::kQ3_K;
    case FileType::kQ4_K_S:
    case FileType::kQ4_K_M:
      return T::kQ4_K;
    case FileType::kQ5_K_S:
    case FileType::kQ5_K_M:
      return T::kQ5_K;
    case FileType::kQ6_K:
      return T::kQ6_K;
  }
  return T::kF32;
}

std::vector<size_t> llama_tensor_order(const gguf::File& file) {
  const auto& ts = file.tensors();
  std::vector<size_t> order(ts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // llama_model_loader's weight_name_comparer: layer (-1 for non-layer tensors), then name.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::make_tuple(parse_layer(ts[a].name), std::string_view(ts[a].name)) <
           std::make_tuple(parse_layer(ts[b].name), std::string_view(ts[b].name));
  });
  return order;
}

bool is_quantizable_tensor(const gguf::TensorInfo& t) {
  const std::string& name = t.name;
  int n_dims = static_cast<int>(t.ne.size());
  while (n_dims > 1 && t.ne[n_dims - 1] == 1) --n_dims;  // ggml_n_dims ignores trailing 1s
  bool q = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
  q = q && n_dims >= 2;
  q = q && !contains(name, "_norm.weight");
  q = q && !contains(name, "ffn_gate_inp.weight");
  q = q && name != "position_embd.weight" && name != "token_types.weight";
  q = q && !contains(name, "ssm_conv1d.weight");
  for (std::string_view rwkv :
       {"time_mix_first.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight"}) {
    q = q && !contains(name, rwkv);
  }
  q = q && !contains(name, "attn_rel_b.weight");
  return q;
}

QuantPlanner::QuantPlanner(FileType ftype, const gguf::File& file)
    : ftype_(ftype), default_type_(file_type_base(ftype)) {
  arch_ = file.get_string("general.architecture").value_or("");
  auto get_u = [&](const std::string& key) -> int64_t {
    if (auto v = file.get_int(arch_ + "." + key)) return *v;
    if (auto a = file.get_int_array(arch_ + "." + key); a && !a->empty()) return (*a)[0];
    return 0;
  };
  n_layer_ = static_cast<int>(get_u("block_count"));
  n_expert_ = static_cast<int>(get_u("expert_count"));
  const int64_t n_head = get_u("attention.head_count");
  int64_t n_head_kv = get_u("attention.head_count_kv");
  if (n_head_kv <= 0) n_head_kv = n_head;
  n_gqa_ = n_head_kv > 0 ? static_cast<int>(n_head / n_head_kv) : 1;
  for (const auto& t : file.tensors()) {
    if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight") ||
        contains(t.name, "attn_kv_b.weight")) {
      ++n_attention_wv_;
    } else if (t.name == "output.weight") {
      has_output_ = true;
    }
  }
}

std::pair<int, int> QuantPlanner::layer_info(int counter, int n_layer,
                                             const std::string& name) const {
  // With experts, tensors of one layer are not consecutive: take the layer from the name
  // (llama.cpp throws when it cannot; we keep the counter).
  if (n_expert_ > 1) {
    const int layer = parse_layer(name);
    if (layer >= 0 && layer < n_layer) return {layer, n_layer};
  }
  return {counter, n_layer};
}

TensorType QuantPlanner::mix_type(const gguf::TensorInfo& t, TensorType new_type) {
  const std::string& name = t.name;
  const FileType ft = ftype_;
  const bool falcon = arch_ == "falcon";
  if (name == "output.weight" || (!has_output_ && name == "token_embd.weight")) {
    const auto traits = tensor_type_traits(new_type);
    if (falcon || t.ne[0] % traits->block_size != 0) {
      new_type = T::kQ8_0;
    } else if (new_type != T::kQ8_0) {
      new_type = T::kQ6_K;
    }
  } else if (name == "token_embd.weight") {
    // Only IQ/TQ file types change the token embedding.
  } else if (contains(name, "attn_v.weight")) {
    if (ft == FileType::kQ2_K) {
      new_type = n_gqa_ >= 4 ? T::kQ4_K : T::kQ3_K;
    } else if (ft == FileType::kQ3_K_M) {
      new_type = i_attention_wv_ < 2 ? T::kQ5_K : T::kQ4_K;
    } else if (ft == FileType::kQ3_K_L) {
      new_type = T::kQ5_K;
    } else if ((ft == FileType::kQ4_K_M || ft == FileType::kQ5_K_M) &&
               use_more_bits(i_attention_wv_, n_attention_wv_)) {
      new_type = T::kQ6_K;
    } else if (ft == FileType::kQ4_K_S && i_attention_wv_ < 4) {
      new_type = T::kQ5_K;
    }
    if (n_expert_ == 8) new_type = T::kQ8_0;
    ++i_attention_wv_;
  } else if (contains(name, "attn_k.weight")) {
    if (n_expert_ == 8) new_type = T::kQ8_0;
  } else if (contains(name, "attn_q.weight")) {
    // Only IQ3 file types change attn_q.
  } else if (contains(name, "ffn_down")) {
    const auto [i_layer, n_layer] = layer_info(i_ffn_down_, n_layer_, name);
    if (ft == FileType::kQ2_K) {
      new_type = T::kQ3_K;
    } else if (ft == FileType::kQ3_K_M) {
      new_type = i_layer < n_layer / 16                       ? T::kQ5_K
                 : !falcon || use_more_bits(i_layer, n_layer) ? T::kQ4_K
                                                              : T::kQ3_K;
    } else if (ft == FileType::kQ3_K_L) {
      new_type = falcon ? T::kQ4_K : T::kQ5_K;
    } else if (ft == FileType::kQ4_K_M) {
      if (falcon) {
        new_type = i_layer < n_layer / 16            ? T::kQ6_K
                   : use_more_bits(i_layer, n_layer) ? T::kQ5_K
                                                     : T::kQ4_K;
      } else if (use_more_bits(i_layer, n_layer)) {
        new_type = T::kQ6_K;
      }
    } else if (ft == FileType::kQ5_K_M && use_more_bits(i_layer, n_layer)) {
      new_type = T::kQ6_K;
    } else if (ft == FileType::kQ4_K_S && !falcon && i_layer < n_layer / 8) {
      new_type = T::kQ5_K;
    }
    ++i_ffn_down_;
  } else if (contains(name, "attn_output.weight")) {
    if (!falcon) {
      if (n_expert_ == 8) {
        if (ft == FileType::kQ2_K || ft == FileType::kQ3_K_S || ft == FileType::kQ3_K_M ||
            ft == FileType::kQ4_K_S || ft == FileType::kQ4_K_M) {
          new_type = T::kQ5_K;
        }
      } else {
        if (ft == FileType::kQ2_K)
          new_type = T::kQ3_K;
        else if (ft == FileType::kQ3_K_M)
          new_type = T::kQ4_K;
        else if (ft == FileType::kQ3_K_L)
          new_type = T::kQ5_K;
      }
    } else if (ft == FileType::kQ3_K_L) {
      new_type = T::kQ4_K;
    }
  } else if (contains(name, "attn_qkv.weight")) {
    if (ft == FileType::kQ3_K_M || ft == FileType::kQ3_K_L)
      new_type = T::kQ4_K;
    else if (ft == FileType::kQ4_K_M)
      new_type = T::kQ5_K;
    else if (ft == FileType::kQ5_K_M)
      new_type = T::kQ6_K;
  } else if (contains(name, "ffn_gate")) {
    ++i_ffn_gate_;
  } else if (contains(name, "ffn_up")) {
    ++i_ffn_up_;
  }
  return new_type;
}

QuantPlanner::Decision QuantPlanner::decide(const gguf::TensorInfo& t) {
  if (!is_quantizable_tensor(t)) return {t.type, false, false};
  TensorType new_type = default_type_;
  bool fallback = false;
  if (is_quantized_type(default_type_)) {
    new_type = mix_type(t, new_type);
    const int64_t nx = t.ne[0];
    if (nx % tensor_type_traits(new_type)->block_size != 0) {
      fallback = true;
      switch (new_type) {
        case T::kQ2_K:
        case T::kQ3_K:
          new_type = T::kQ4_0;
          break;
        case T::kQ4_K:
          new_type = T::kQ5_0;
          break;
        case T::kQ5_K:
          new_type = T::kQ5_1;
          break;
        case T::kQ6_K:
          new_type = T::kQ8_0;
          break;
        default:
          new_type = T::kF16;
          break;
      }
      if (nx % tensor_type_traits(new_type)->block_size != 0) new_type = T::kF16;
      log::warn("tensor '{}': row length {} is not a multiple of the block size; using {}", t.name,
                nx, tensor_type_name(new_type));
      ++n_fallback_;
    }
  }
  return {new_type, t.type != new_type, fallback};
}

}  // namespace dkb::engine
