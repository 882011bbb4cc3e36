// Tokenizer: text <-> token ids for the vocabularies GGUF models carry.
//
// Supported vocabularies (GGUF key tokenizer.ggml.model):
//   "llama" — SentencePiece-style (score-driven merges, byte fallback <0xXX>, U+2581 for space)
//   "gpt2"  — byte-level BPE (merges), with the pre-tokenizer named by tokenizer.ggml.pre:
//             deepseek-llm, deepseek-coder, deepseek-v3, deepseek-r1-qwen / qwen2, llama-bpe, gpt2
//   "bert"  — WordPiece (see the embedding issue)
// and Hugging Face tokenizer.json files of the same kinds (from_hf_json).
//
// Behaviour matches llama.cpp's llama_tokenize/llama_token_to_piece (build 4748).
// Thread-safety: immutable after construction; encode/decode may be called concurrently.
// Errors: loading returns kInvalidArgument/kCorruption naming the bad field; encode never fails
// on any byte string (invalid UTF-8 is handled as llama.cpp does, never a crash).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"

namespace dkb::tokenizer {

using TokenId = int32_t;

enum class TokenAttr : uint32_t {  // tokenizer.ggml.token_type values
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct EncodeOptions {
  bool add_special = true;     // add BOS (and EOS/SEP for models that want them)
  bool parse_special = false;  // recognise special/control token text such as "<|im_start|>"
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Builds the tokenizer described by a GGUF file's tokenizer.ggml.* metadata.
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& file);
  // Builds a tokenizer from a Hugging Face tokenizer.json (BPE, byte-level models). The
  // pre-tokenizer is chosen by matching the Split regexes against the known ones; added tokens
  // become control (special: true) or user-defined tokens; a tokenizer_config.json next to it
  // supplies bos/eos and add_bos_token/add_eos_token when present.
  static Result<std::unique_ptr<Tokenizer>> from_hf_json(const std::string& path);

  virtual std::vector<TokenId> encode(std::string_view text, const EncodeOptions& opt) const = 0;
  // The bytes of one token as llama_token_to_piece renders it (special tokens rendered when
  // render_special). May be a partial UTF-8 sequence (byte tokens).
  virtual std::string token_to_piece(TokenId id, bool render_special = false) const = 0;
  // Text of ids as llama.cpp's llama_detokenize(remove_special = false, unparse_special =
  // render_special) gives it: the concatenated pieces, minus the leading space SPM encoding
  // added, with clean_up_tokenization_spaces for vocabularies that ask for it (gpt2, bert).
  // Special tokens are not rendered unless render_special. May contain invalid UTF-8.
  std::string decode(const std::vector<TokenId>& ids, bool render_special = false) const;
  // llama_detokenize in full: remove_special drops a leading BOS / trailing EOS the vocabulary
  // adds itself. The default implementation (for test doubles) concatenates pieces.
  virtual std::string detokenize(const std::vector<TokenId>& ids, bool remove_special,
                                 bool unparse_special) const {
    (void)remove_special;
    std::string out;
    for (TokenId id : ids) out += token_to_piece(id, unparse_special);
    return out;
  }

  virtual int32_t n_vocab() const = 0;
  virtual TokenId bos() const = 0;   // -1 when the vocabulary has none
  virtual TokenId eos() const = 0;
  virtual bool is_eog(TokenId id) const = 0;  // end of generation (EOS, EOT, <|im_end|> ...)
  virtual bool add_bos() const = 0;
  virtual TokenAttr attr(TokenId id) const = 0;
  virtual std::string_view text(TokenId id) const = 0;  // vocabulary text, unprocessed

  // Further special ids (-1 when absent) and properties; defaults suit test doubles.
  virtual TokenId eot() const { return -1; }  // end of turn (<|im_end|>, <|eot_id|> ...)
  virtual TokenId sep() const { return -1; }  // BERT [SEP]
  virtual TokenId unk() const { return -1; }
  virtual TokenId pad() const { return -1; }
  virtual bool add_eos() const { return false; }
  virtual bool is_control(TokenId id) const { return attr(id) == TokenAttr::kControl; }
  virtual float score(TokenId id) const { (void)id; return 0.0f; }
  // Id of the token whose vocabulary text is exactly `text`, or -1.
  virtual TokenId find_token(std::string_view text) const { (void)text; return -1; }
  virtual std::string_view model_name() const = 0;      // "llama", "gpt2", "bert"
  virtual std::string_view pre_name() const = 0;        // "default", "qwen2", ...
};

// Streams token pieces (token_to_piece, special tokens not rendered) as text without ever
// emitting half a UTF-8 character: bytes of an incomplete character are held back until the
// rest arrives (or flush()). Not thread-safe: one decoder per sequence; it borrows `tok`.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tok) : tok_(tok) {}
  // Returns the text that became complete with this token (possibly empty).
  std::string push(TokenId id);
  // Returns whatever is held back; invalid bytes become U+FFFD. Text returned by push() is
  // always valid UTF-8 too (malformed bytes that cannot start a character become U+FFFD).
  std::string flush();

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace dkb::tokenizer
