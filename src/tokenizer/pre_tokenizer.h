// Byte-level BPE pre-tokenization: splits text into words the way llama.cpp's
// unicode_regex_split does for each tokenizer.ggml.pre, then maps every byte of each word to
// its GPT-2 printable character.
//
// llama.cpp runs the GPT-2 and LLaMA-3 patterns through hand-written splitters, and every
// other pattern through std::regex: patterns with \p{..} classes run on a "collapsed" text in
// which each non-ASCII code point is replaced by one byte standing for its category, the rest
// on code points with non-ASCII white space replaced by U+000B. We reproduce exactly that, with
// PCRE2 (JIT) as the regex engine: the collapsed text is matched byte-wise, the code point
// text in UTF mode; UCP is deliberately off so \s stays ASCII as in std::regex. Known
// consequences kept on purpose (they are llama.cpp's behaviour): the ASCII members of \p{S}
// are only $+<=>^`| (not ~), and non-ASCII code points of other categories (controls,
// separators, unassigned) all collapse to one byte that no \p{..} class matches.
//
// Thread-safety: immutable after construction; split() may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dkb::tokenizer {

enum class PreType {
  kDefault,
  kGpt2,
  kLlama3,
  kDeepseekLlm,
  kDeepseekCoder,
  kDeepseek3,
  kQwen2,
};

// Maps a tokenizer.ggml.pre value to its type; kInvalidArgument naming an unsupported one.
Result<PreType> pre_type_from_name(std::string_view name);
std::string_view pre_type_name(PreType t);

class PreTokenizer {
  struct Private {};

 public:
  explicit PreTokenizer(Private);  // use create()
  static Result<std::unique_ptr<PreTokenizer>> create(PreType type);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Words of `text`, each already byte-encoded (GPT-2 byte-to-unicode mapping).
  std::vector<std::string> split(std::string_view text) const;

  // Word boundaries (code point counts) only; exposed for tests.
  std::vector<size_t> split_offsets(const std::vector<uint32_t>& cpts) const;

 private:
  struct Regex;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace dkb::tokenizer
