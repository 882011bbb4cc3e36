// The Tokenizer implementation behind from_gguf and from_hf_json: a finalized Vocab plus
// llama.cpp's special-token partitioning, per-type encode and llama_detokenize.
// Immutable after construction; all methods are const and thread-safe.
#pragma once

#include <memory>

#include "tokenizer/tokenizer.h"
#include "vocab.h"

namespace dkb::tokenizer {

class VocabTokenizer final : public Tokenizer {
 public:
  explicit VocabTokenizer(Vocab vocab) : v_(std::move(vocab)) {}

  std::vector<TokenId> encode(std::string_view text, const EncodeOptions& opt) const override;
  std::string token_to_piece(TokenId id, bool render_special = false) const override;
  std::string detokenize(const std::vector<TokenId>& ids, bool remove_special,
                         bool unparse_special) const override;

  int32_t n_vocab() const override { return v_.n_tokens(); }
  TokenId bos() const override { return v_.bos; }
  TokenId eos() const override { return v_.eos; }
  TokenId eot() const override { return v_.eot; }
  TokenId sep() const override { return v_.sep; }
  TokenId unk() const override { return v_.unk; }
  TokenId pad() const override { return v_.pad; }
  bool is_eog(TokenId id) const override { return v_.is_eog(id); }
  bool is_control(TokenId id) const override;
  bool add_bos() const override { return v_.add_bos; }
  bool add_eos() const override { return v_.add_eos; }
  TokenAttr attr(TokenId id) const override;
  float score(TokenId id) const override;
  std::string_view text(TokenId id) const override;
  TokenId find_token(std::string_view text) const override { return v_.find(text); }
  std::string_view model_name() const override { return v_.model_name; }
  std::string_view pre_name() const override { return pre_type_name(v_.pre_type); }

 private:
  struct Fragment {
    bool is_token;
    TokenId id;
    size_t off;
    size_t len;
  };
  std::vector<Fragment> partition(std::string_view raw, bool parse_special) const;

  Vocab v_;
};

}  // namespace dkb::tokenizer
