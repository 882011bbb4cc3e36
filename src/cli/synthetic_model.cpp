#include "synthetic_model.h"

#include <cstring>
#include <random>

#include "engine/quant_plan.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace dkb::cli {
namespace {

struct Shape {
  std::string name, arch;
  int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
  float rope_base, rms_eps;
  bool tied;
  // deepseek2 only
  int64_t q_lora = 0, kv_lora = 0, nope = 0, rope = 0, v_head = 0, dense_lead = 0;
  int64_t n_expert = 0, n_expert_used = 0, n_shared = 0, n_ff_exp = 0;
};

const Shape kShapes[] = {
    {"deepseek-r1-distill-qwen-1.5b", "qwen2", 151936, 1536, 28, 12, 2, 8960, 131072, 10000.f, 1e-6f, false},
    {"deepseek-r1-distill-qwen-7b", "qwen2", 152064, 3584, 28, 28, 4, 18944, 131072, 10000.f, 1e-6f, false},
    {"deepseek-v2-lite", "deepseek2", 102400, 2048, 27, 16, 16, 10944, 163840, 10000.f, 1e-6f, false,
     0, 512, 128, 64, 128, 1, 64, 6, 2, 1408},
    {"tiny-qwen2", "qwen2", 512, 256, 4, 8, 2, 512, 256, 1e6f, 1e-6f, false},
};

// Fast deterministic random bytes.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  void fill(uint8_t* p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t v = next();
      std::memcpy(p + i, &v, 8);
    }
    for (; i < n; ++i) p[i] = static_cast<uint8_t>(next());
  }
};

// Offsets of the fp16 scale fields inside one block of each type (ggml layouts).
std::vector<size_t> scale_offsets(TensorType t) {
  switch (t) {
    case TensorType::kQ4_0: case TensorType::kQ5_0: case TensorType::kQ8_0: return {0};
    case TensorType::kQ4_1: case TensorType::kQ5_1: return {0, 2};
    case TensorType::kQ4_K: case TensorType::kQ5_K: return {0, 2};
    case TensorType::kQ6_K: return {208};
    case TensorType::kQ2_K: return {80, 82};
    case TensorType::kQ3_K: return {108};
    default: return {};
  }
}

// Random tensor data of type t with small, finite values.
std::string random_tensor(TensorType t, int64_t n_elements, Rng& rng) {
  size_t bytes = tensor_row_size(t, n_elements);
  std::string out(bytes, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  if (t == TensorType::kF32) {
    for (int64_t i = 0; i < n_elements; ++i) {
      float v = 1.0f + 0.01f * static_cast<float>(static_cast<int>(rng.next() % 200) - 100) / 100.0f;
      std::memcpy(p + i * 4, &v, 4);
    }
    return out;
  }
  if (t == TensorType::kF16 || t == TensorType::kBF16) {
    for (int64_t i = 0; i < n_elements; ++i) {
      float v = 0.02f * static_cast<float>(static_cast<int>(rng.next() % 2001) - 1000) / 1000.0f;
      uint16_t h = t == TensorType::kF16 ? kernels::fp32_to_fp16(v) : kernels::fp32_to_bf16(v);
      std::memcpy(p + i * 2, &h, 2);
    }
    return out;
  }
  rng.fill(p, bytes);
  auto tr = tensor_type_traits(t);
  const uint16_t scale = kernels::fp32_to_fp16(0.001f);
  for (size_t b = 0; b < bytes / tr->type_size; ++b) {
    for (size_t off : scale_offsets(t)) std::memcpy(p + b * tr->type_size + off, &scale, 2);
  }
  return out;
}

}  // namespace

std::vector<std::string> synthetic_model_names() {
  std::vector<std::string> n;
  for (const auto& s : kShapes) n.push_back(s.name);
  return n;
}

Status write_synthetic_model(const std::string& name, const std::string& type,
                             const std::string& path, uint64_t seed) {
  const Shape* sh = nullptr;
  for (const auto& s : kShapes) {
    if (s.name == name) sh = &s;
  }
  if (!sh) return invalid_argument("unknown synthetic model '" + name + "'");
  TensorType base, out_type, layer_down_type;
  if (type == "f16") base = out_type = layer_down_type = TensorType::kF16;
  else if (type == "q8_0") base = out_type = layer_down_type = TensorType::kQ8_0;
  else if (type == "q4_0") { base = layer_down_type = TensorType::kQ4_0; out_type = TensorType::kQ6_K; }
  else if (type == "q6_k") base = out_type = layer_down_type = TensorType::kQ6_K;
  else if (type == "q4_k_m") { base = TensorType::kQ4_K; out_type = layer_down_type = TensorType::kQ6_K; }
  else return invalid_argument("unknown synthetic type '" + type + "' (f16, q8_0, q4_0, q4_k_m, q6_k)");

  const Shape& s = *sh;
  gguf::Writer w;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", s.name + "-synthetic");
  w.set_u32(a + "context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + "block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_f32(a + "rope.freq_base", s.rope_base);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
  // A SentencePiece vocabulary of the right size: <unk> <s> </s>, 256 byte tokens, fillers.
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<gguf::Value> scores, types;
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
  while (static_cast<int64_t>(tokens.size()) < s.n_vocab) tokens.push_back("tok" + std::to_string(tokens.size()));
  for (size_t i = 0; i < tokens.size(); ++i) {
    scores.push_back(gguf::Value::make_float(gguf::ValueType::kFloat32, -static_cast<double>(i)));
    int32_t tt = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
    types.push_back(gguf::Value::make_int(gguf::ValueType::kInt32, tt));
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(std::move(tokens)));
  w.set("tokenizer.ggml.scores", gguf::Value::make_array(gguf::ValueType::kFloat32, std::move(scores)));
  w.set("tokenizer.ggml.token_type", gguf::Value::make_array(gguf::ValueType::kInt32, std::move(types)));
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);

  Rng rng{seed * 0x9E3779B97F4A7C15ull + 1};
  auto add = [&](const std::string& n, TensorType t, std::vector<int64_t> ne) -> Status {
    // Rows that are not a whole number of 256-element super-blocks fall back as in llama.cpp.
    if (ne[0] % tensor_type_traits(t)->block_size != 0) {
      t = t == TensorType::kQ6_K ? TensorType::kQ8_0 : TensorType::kQ5_0;
    }
    int64_t count = 1;
    for (int64_t d : ne) count *= d;
    std::string data = random_tensor(t, count, rng);
    return w.add_tensor(n, t, std::move(ne), data.data(), data.size());
  };
  const int64_t E = s.n_embd;
  DKB_RETURN_IF_ERROR(add("token_embd.weight", base, {E, s.n_vocab}));
  DKB_RETURN_IF_ERROR(add("output_norm.weight", TensorType::kF32, {E}));
  if (!s.tied) DKB_RETURN_IF_ERROR(add("output.weight", out_type, {E, s.n_vocab}));
  if (s.arch == "deepseek2") {
    w.set_u32(a + "leading_dense_block_count", static_cast<uint32_t>(s.dense_lead));
    w.set_u32(a + "attention.kv_lora_rank", static_cast<uint32_t>(s.kv_lora));
    w.set_u32(a + "attention.key_length", static_cast<uint32_t>(s.nope + s.rope));
    w.set_u32(a + "attention.value_length", static_cast<uint32_t>(s.v_head));
    w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(s.rope));
    w.set_u32(a + "expert_feed_forward_length", static_cast<uint32_t>(s.n_ff_exp));
    w.set_u32(a + "expert_count", static_cast<uint32_t>(s.n_expert));
    w.set_u32(a + "expert_used_count", static_cast<uint32_t>(s.n_expert_used));
    w.set_u32(a + "expert_shared_count", static_cast<uint32_t>(s.n_shared));
    w.set_f32(a + "expert_weights_scale", 1.0f);
    w.set_u32(a + "expert_gating_func", 1);
  }
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    // Q4_K_M as llama-quantize mixes it: attn_v and ffn_down in Q6_K only in use_more_bits
    // layers, Q4_K elsewhere (rows not a multiple of 256 then fall back, in add()).
    const TensorType down_type =
        type != "q4_k_m" || engine::use_more_bits(static_cast<int>(l), static_cast<int>(s.n_layer))
            ? layer_down_type
            : base;
    DKB_RETURN_IF_ERROR(add(b + "attn_norm.weight", TensorType::kF32, {E}));
    DKB_RETURN_IF_ERROR(add(b + "ffn_norm.weight", TensorType::kF32, {E}));
    if (s.arch == "qwen2") {
      const int64_t hd = E / s.n_head, kv = hd * s.n_head_kv;
      DKB_RETURN_IF_ERROR(add(b + "attn_q.weight", base, {E, E}));
      DKB_RETURN_IF_ERROR(add(b + "attn_k.weight", base, {E, kv}));
      DKB_RETURN_IF_ERROR(add(b + "attn_v.weight", down_type, {E, kv}));
      DKB_RETURN_IF_ERROR(add(b + "attn_q.bias", TensorType::kF32, {E}));
      DKB_RETURN_IF_ERROR(add(b + "attn_k.bias", TensorType::kF32, {kv}));
      DKB_RETURN_IF_ERROR(add(b + "attn_v.bias", TensorType::kF32, {kv}));
      DKB_RETURN_IF_ERROR(add(b + "attn_output.weight", base, {E, E}));
      DKB_RETURN_IF_ERROR(add(b + "ffn_gate.weight", base, {E, s.n_ff}));
      DKB_RETURN_IF_ERROR(add(b + "ffn_up.weight", base, {E, s.n_ff}));
      DKB_RETURN_IF_ERROR(add(b + "ffn_down.weight", down_type, {s.n_ff, E}));
    } else {
      const int64_t hk = s.nope + s.rope;
      DKB_RETURN_IF_ERROR(add(b + "attn_q.weight", base, {E, s.n_head * hk}));
      DKB_RETURN_IF_ERROR(add(b + "attn_kv_a_mqa.weight", base, {E, s.kv_lora + s.rope}));
      DKB_RETURN_IF_ERROR(add(b + "attn_kv_a_norm.weight", TensorType::kF32, {s.kv_lora}));
      DKB_RETURN_IF_ERROR(add(b + "attn_kv_b.weight", base, {s.kv_lora, s.n_head * (s.nope + s.v_head)}));
      DKB_RETURN_IF_ERROR(add(b + "attn_output.weight", base, {s.n_head * s.v_head, E}));
      if (l < s.dense_lead) {
        DKB_RETURN_IF_ERROR(add(b + "ffn_gate.weight", base, {E, s.n_ff}));
        DKB_RETURN_IF_ERROR(add(b + "ffn_up.weight", base, {E, s.n_ff}));
        DKB_RETURN_IF_ERROR(add(b + "ffn_down.weight", down_type, {s.n_ff, E}));
      } else {
        const int64_t sh_ff = s.n_ff_exp * s.n_shared;
        DKB_RETURN_IF_ERROR(add(b + "ffn_gate_inp.weight", TensorType::kF32, {E, s.n_expert}));
        DKB_RETURN_IF_ERROR(add(b + "ffn_gate_exps.weight", base, {E, s.n_ff_exp, s.n_expert}));
        DKB_RETURN_IF_ERROR(add(b + "ffn_up_exps.weight", base, {E, s.n_ff_exp, s.n_expert}));
        DKB_RETURN_IF_ERROR(add(b + "ffn_down_exps.weight", down_type, {s.n_ff_exp, E, s.n_expert}));
        DKB_RETURN_IF_ERROR(add(b + "ffn_gate_shexp.weight", base, {E, sh_ff}));
        DKB_RETURN_IF_ERROR(add(b + "ffn_up_shexp.weight", base, {E, sh_ff}));
        DKB_RETURN_IF_ERROR(add(b + "ffn_down_shexp.weight", down_type, {sh_ff, E}));
      }
    }
  }
  return w.write(path);
}

}  // namespace dkb::cli
