// Tokenizer::from_gguf: reads tokenizer.ggml.* the way llama.cpp's llama_vocab::impl::load
// does, validating every array against the vocabulary size.
#include <cmath>

#include "vocab_tokenizer.h"

namespace dkb::tokenizer {
namespace {

Status read_special_id(const gguf::File& f, const char* key, int32_t n_tokens, TokenId& id) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return Status::ok();
  std::optional<int64_t> x = v->as_int();
  if (!x) return invalid_argument(std::string(key) + ": not an integer");
  // llama.cpp keeps the default for an out-of-range id (it only warns).
  if (*x >= 0 && *x < n_tokens) id = static_cast<TokenId>(*x);
  return Status::ok();
}

Status read_bool(const gguf::File& f, const char* key, bool& out) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return Status::ok();
  std::optional<bool> b = v->as_bool();
  if (!b) return invalid_argument(std::string(key) + ": not a bool");
  out = *b;
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::File& f) {
  Vocab v;
  std::optional<std::string> model = f.get_string("tokenizer.ggml.model");
  if (!model) return invalid_argument("tokenizer.ggml.model: missing (not a model with a vocabulary)");
  if (*model == "llama") {
    v.set_type_defaults(VocabType::kSpm);
  } else if (*model == "gpt2") {
    v.set_type_defaults(VocabType::kBpe);
  } else if (*model == "bert") {
    v.set_type_defaults(VocabType::kWpm);
  } else {
    return unimplemented("tokenizer.ggml.model: unsupported tokenizer '" + *model + "'");
  }
  v.model_name = *model;

  if (v.type == VocabType::kBpe) {
    v.pre_name = f.get_string("tokenizer.ggml.pre").value_or("");
    DKB_ASSIGN_OR_RETURN(PreType pre, pre_type_from_name(v.pre_name));
    v.set_pre_defaults(pre);
  }
  DKB_RETURN_IF_ERROR(read_bool(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix));

  const std::vector<std::string>* tokens = f.get_strings("tokenizer.ggml.tokens");
  if (tokens == nullptr) {
    return invalid_argument("tokenizer.ggml.tokens: missing or not an array of strings");
  }
  const size_t n = tokens->size();
  if (n == 0) return corruption("tokenizer.ggml.tokens: empty vocabulary");
  if (n > static_cast<size_t>(INT32_MAX)) return corruption("tokenizer.ggml.tokens: too many tokens");

  std::optional<std::vector<double>> scores;
  if (f.find("tokenizer.ggml.scores") != nullptr) {
    scores = f.get_float_array("tokenizer.ggml.scores");
    if (!scores) return corruption("tokenizer.ggml.scores: not a numeric array");
    if (scores->size() != n) {
      return corruption("tokenizer.ggml.scores: " + std::to_string(scores->size()) +
                        " entries for " + std::to_string(n) + " tokens");
    }
  }
  std::optional<std::vector<int64_t>> types;
  if (f.find("tokenizer.ggml.token_type") != nullptr) {
    types = f.get_int_array("tokenizer.ggml.token_type");
    if (!types) return corruption("tokenizer.ggml.token_type: not an integer array");
    if (types->size() != n) {
      return corruption("tokenizer.ggml.token_type: " + std::to_string(types->size()) +
                        " entries for " + std::to_string(n) + " tokens");
    }
  }

  v.text.resize(n);
  v.score.resize(n);
  v.attr.resize(n);
  v.token_to_id.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string word = (*tokens)[i];
    if (word.empty()) word = "[EMPTY_" + std::to_string(i) + "]";
    if (!v.token_to_id.emplace(word, static_cast<TokenId>(i)).second) {
      return corruption("tokenizer.ggml.tokens[" + std::to_string(i) + "]: duplicate token '" +
                        word + "'");
    }
    v.max_token_len = std::max(v.max_token_len, static_cast<int>(word.size()));
    v.text[i] = std::move(word);
    v.score[i] = scores ? static_cast<float>((*scores)[i]) : 0.0f;
    v.attr[i] = types ? attr_bits_from_token_type((*types)[i]) : kAttrNormal;
  }

  if (v.type == VocabType::kBpe) {
    const std::vector<std::string>* merges = f.get_strings("tokenizer.ggml.merges");
    if (merges == nullptr) {
      return invalid_argument("tokenizer.ggml.merges: missing or not an array of strings");
    }
    v.bpe_ranks.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const std::string& m = (*merges)[i];
      const size_t pos = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
      if (pos == std::string::npos) {
        return corruption("tokenizer.ggml.merges[" + std::to_string(i) + "]: '" + m +
                          "' is not two space-separated tokens");
      }
      for (std::string_view part : {std::string_view(m).substr(0, pos),
                                    std::string_view(m).substr(pos + 1)}) {
        if (v.find(part) < 0) {
          return corruption("tokenizer.ggml.merges[" + std::to_string(i) + "]: '" + m +
                            "' names unknown token '" + std::string(part) + "'");
        }
      }
      v.bpe_ranks.emplace(m, static_cast<int32_t>(i));
    }
  }

  const auto n_tokens = static_cast<int32_t>(n);
  const std::pair<const char*, TokenId*> ids[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos},
      {"tokenizer.ggml.eos_token_id", &v.eos},
      {"tokenizer.ggml.eot_token_id", &v.eot},
      {"tokenizer.ggml.eom_token_id", &v.eom},
      {"tokenizer.ggml.unknown_token_id", &v.unk},
      {"tokenizer.ggml.seperator_token_id", &v.sep},
      {"tokenizer.ggml.padding_token_id", &v.pad},
      {"tokenizer.ggml.mask_token_id", &v.mask},
      {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre},
      {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid},
      {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep},
      {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep},
      {"tokenizer.ggml.prefix_token_id", &v.fim_pre},
      {"tokenizer.ggml.suffix_token_id", &v.fim_suf},
      {"tokenizer.ggml.middle_token_id", &v.fim_mid},
  };
  for (const auto& [key, slot] : ids) {
    DKB_RETURN_IF_ERROR(read_special_id(f, key, n_tokens, *slot));
  }
  DKB_RETURN_IF_ERROR(read_bool(f, "tokenizer.ggml.add_bos_token", v.add_bos));
  DKB_RETURN_IF_ERROR(read_bool(f, "tokenizer.ggml.add_eos_token", v.add_eos));

  DKB_RETURN_IF_ERROR(v.finalize(f.get_string("general.name").value_or("")));
  return std::unique_ptr<Tokenizer>(std::make_unique<VocabTokenizer>(std::move(v)));
}

}  // namespace dkb::tokenizer
