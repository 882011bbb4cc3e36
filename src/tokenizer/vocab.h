// Vocabulary shared by the tokenizer algorithms: token texts, scores, attributes, BPE merge
// ranks, special ids and flags — the part of llama.cpp's llama_vocab::impl the algorithms need.
// Built by the GGUF / tokenizer.json loaders, then finalize()d; immutable afterwards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace dkb::tokenizer {

enum class VocabType { kSpm, kBpe, kWpm };

// llama_token_attr bits.
enum AttrBits : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrNormalized = 1u << 6,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
};

uint32_t attr_bits_from_token_type(int64_t token_type);

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Vocab {
  VocabType type = VocabType::kSpm;
  PreType pre_type = PreType::kDefault;
  std::string model_name;  // "llama", "gpt2", "bert"
  std::string pre_name;    // as given by the file

  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<uint32_t> attr;  // AttrBits
  std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>> token_to_id;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> bpe_ranks;  // "a b"
  int max_token_len = 0;

  TokenId bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  TokenId fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;

  bool add_space_prefix = false;
  bool add_bos = false;
  bool add_eos = false;
  bool ignore_merges = false;
  bool clean_spaces = false;
  bool normalize_nfc = false;  // tokenizer.json normalizer NFC (HF behaviour)

  // Filled by finalize().
  std::vector<TokenId> special_tokens;  // control/user-defined/unknown, longest text first
  std::vector<TokenId> eog_ids;         // sorted
  std::vector<std::string> piece_cache;  // token_to_piece(id, special = true)
  std::unique_ptr<PreTokenizer> pre;

  // Sets defaults for `type` as llama.cpp's load() does before reading the optional keys.
  void set_type_defaults(VocabType t);
  // Applies the per-pre-tokenizer flags (ignore_merges, add_bos, clean_spaces).
  void set_pre_defaults(PreType p);

  // Checks special ids, detects EOT/EOG/FIM tokens by text, builds caches and the
  // pre-tokenizer. `general_name` selects llama.cpp's per-model attribute quirks (phi-3).
  Status finalize(std::string_view general_name);

  int32_t n_tokens() const { return static_cast<int32_t>(text.size()); }
  TokenId find(std::string_view s) const {
    auto it = token_to_id.find(s);
    return it == token_to_id.end() ? -1 : it->second;
  }
  int32_t bpe_rank(std::string_view left, std::string_view right) const;
  // llama_vocab::byte_to_token; -1 when the vocabulary lacks the byte.
  TokenId byte_to_token(uint8_t b) const;
  bool is_eog(TokenId id) const;
  // Raw piece (no cache): llama_vocab::impl::token_to_piece with special = true.
  std::string compute_piece(TokenId id) const;
};

// Algorithms (one file each). Append to `out`.
void tokenize_spm(const Vocab& v, const std::string& text, std::vector<TokenId>& out);
void tokenize_bpe(const Vocab& v, std::string_view text, std::vector<TokenId>& out);
void tokenize_wpm(const Vocab& v, std::string_view text, std::vector<TokenId>& out);

}  // namespace dkb::tokenizer
