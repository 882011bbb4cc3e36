#define PCRE2_CODE_UNIT_WIDTH 8
#include "pre_tokenizer.h"

#include <pcre2.h>

#include <algorithm>

#include "regex_split_custom.h"
#include "unicode.h"

namespace dkb::tokenizer {
namespace {

// The pattern lists of llama.cpp's llm_tokenizer_bpe, per pre-tokenizer type.
const char* const kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const kLlama3Pattern =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kLlama3PatternHf =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2Pattern =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::vector<std::string> patterns_for(PreType t) {
  switch (t) {
    case PreType::kLlama3:
      return {kLlama3Pattern};
    case PreType::kDeepseekLlm:
      return {
          "[\r\n]",
          "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
          "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
          "\\s+$",
          "[一-龥ࠀ-一가-퟿]+",
          "\\p{N}+",
      };
    case PreType::kDeepseek3:
      return {
          "\\p{N}{1,3}",
          "[一-龥぀-ゟ゠-ヿ]+",
          "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
          " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
      };
    case PreType::kDeepseekCoder:
      return {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"};
    case PreType::kGpt2:
      return {kGpt2Pattern};
    case PreType::kQwen2:
      return {kQwen2Pattern};
    case PreType::kDefault:
      return {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2Pattern, "\\p{N}+", "[0-9][0-9][0-9]"};
  }
  return {};
}

// Category classes llama.cpp knows how to collapse, with the byte standing for the non-ASCII
// members and the ASCII members spelled out.
struct Category {
  const char* name;
  char collapsed;
  const char* ascii;
};
const Category kCategories[] = {
    {"\\p{N}", '\xD1', "\x30-\x39"},
    {"\\p{L}", '\xD2', "\x41-\x5A\x61-\x7A"},
    {"\\p{P}", '\xD3', "\x21-\x23\x25-\x2A\x2C-\x2F\x3A-\x3B\x3F-\x40\\\x5B-\\\x5D\x5F\\\x7B\\\x7D"},
    {"\\p{M}", '\xD4', ""},
    {"\\p{S}", '\xD5', "\\\x24\\\x2B\x3C-\x3E\x5E\x60\\\x7C"},
};

bool uses_categories(const std::string& re) {
  for (const auto& c : kCategories) {
    if (re.find(c.name) != std::string::npos) return true;
  }
  return false;
}

std::string collapse_pattern(const std::string& re) {
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '[' && (i == 0 || re[i - 1] != '\\')) {
      out += '[';
      inside = true;
      continue;
    }
    if (inside && re[i] == ']' && re[i - 1] != '\\') {
      out += ']';
      inside = false;
      continue;
    }
    if (re[i] == '\\' && i + 4 < re.size() && re[i + 1] == 'p' && re[i + 2] == '{' &&
        re[i + 4] == '}') {
      const std::string pat = re.substr(i, 5);
      const Category* cat = nullptr;
      for (const auto& c : kCategories) {
        if (pat == c.name) cat = &c;
      }
      if (cat != nullptr) {
        if (!inside) out += '[';
        out += cat->collapsed;
        out += cat->ascii;
        if (!inside) out += ']';
        i += 4;
        continue;
      }
    }
    out += re[i];
  }
  return out;
}

char collapsed_char(uint32_t cp) {
  if (cp < 128) return static_cast<char>(cp);
  const uni::CpFlags f = uni::flags(cp);
  if (f.is_whitespace()) return '\x0B';
  switch (f.category()) {
    case uni::CpFlags::kNumber: return '\xD1';
    case uni::CpFlags::kLetter: return '\xD2';
    case uni::CpFlags::kPunctuation: return '\xD3';
    case uni::CpFlags::kMark: return '\xD4';
    case uni::CpFlags::kSymbol: return '\xD5';
    default: return '\xD0';
  }
}

}  // namespace

struct PreTokenizer::Regex {
  enum class Kind { kGpt2, kLlama3, kCollapsed, kCodepoints } kind = Kind::kGpt2;
  pcre2_code* code = nullptr;
  ~Regex() {
    if (code != nullptr) pcre2_code_free(code);
  }
};

PreTokenizer::PreTokenizer(Private) {}
PreTokenizer::~PreTokenizer() = default;

Result<PreType> pre_type_from_name(std::string_view n) {
  if (n.empty() || n == "default") return PreType::kDefault;
  if (n == "llama3" || n == "llama-v3" || n == "llama-bpe" || n == "falcon3") {
    return PreType::kLlama3;
  }
  if (n == "deepseek-llm") return PreType::kDeepseekLlm;
  if (n == "deepseek-coder") return PreType::kDeepseekCoder;
  if (n == "deepseek-v3") return PreType::kDeepseek3;
  if (n == "qwen2" || n == "deepseek-r1-qwen" || n == "megrez" || n == "stablelm2") {
    return PreType::kQwen2;
  }
  if (n == "gpt-2" || n == "gpt2" || n == "phi-2" || n == "mpt" || n == "olmo" || n == "jais" ||
      n == "roberta-bpe" || n == "jina-es" || n == "jina-de" || n == "gigachat" ||
      n == "jina-v1-en" || n == "jina-v2-es" || n == "jina-v2-de" || n == "jina-v2-code") {
    return PreType::kGpt2;
  }
  return invalid_argument("tokenizer.ggml.pre: unsupported pre-tokenizer '" + std::string(n) +
                          "'");
}

std::string_view pre_type_name(PreType t) {
  switch (t) {
    case PreType::kDefault: return "default";
    case PreType::kGpt2: return "gpt-2";
    case PreType::kLlama3: return "llama-bpe";
    case PreType::kDeepseekLlm: return "deepseek-llm";
    case PreType::kDeepseekCoder: return "deepseek-coder";
    case PreType::kDeepseek3: return "deepseek-v3";
    case PreType::kQwen2: return "qwen2";
  }
  return "default";
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(PreType type) {
  auto pt = std::make_unique<PreTokenizer>(Private{});
  for (const std::string& re : patterns_for(type)) {
    auto r = std::make_unique<Regex>();
    if (re == kGpt2Pattern) {
      r->kind = Regex::Kind::kGpt2;
    } else if (re == kLlama3Pattern || re == kLlama3PatternHf) {
      r->kind = Regex::Kind::kLlama3;
    } else {
      const bool collapsed = uses_categories(re);
      r->kind = collapsed ? Regex::Kind::kCollapsed : Regex::Kind::kCodepoints;
      const std::string pattern = collapsed ? collapse_pattern(re) : re;
      // std::regex (ECMAScript) semantics: '$' only at the very end, \s ASCII only.
      uint32_t options = PCRE2_DOLLAR_ENDONLY;
      if (!collapsed) options |= PCRE2_UTF;
      int err = 0;
      PCRE2_SIZE err_off = 0;
      r->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              options, &err, &err_off, nullptr);
      if (r->code == nullptr) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(err, buf, sizeof(buf));
        return internal_error("pre-tokenizer regex '" + re + "' does not compile at " +
                              std::to_string(err_off) + ": " + reinterpret_cast<char*>(buf));
      }
      pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter
    }
    pt->regexes_.push_back(std::move(r));
  }
  return pt;
}

namespace {

// Splits each segment of `offsets` by the regex matches in subject (bytes) whose byte
// positions map to code point indices through cp_of_byte.
std::vector<size_t> split_with_pcre(const pcre2_code* code, const std::string& subject,
                                    const std::vector<size_t>& byte_of_cp,
                                    const std::vector<size_t>& offsets, bool utf) {
  std::vector<size_t> out;
  out.reserve(offsets.size());
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  size_t start = 0;  // code point index of the segment
  for (size_t n : offsets) {
    const size_t b0 = byte_of_cp[start];
    const size_t b1 = byte_of_cp[start + n];
    const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data() + b0);
    const size_t len = b1 - b0;
    // Code point index (relative to the segment) of a byte offset within it.
    auto cp_at = [&](size_t byte_off) -> size_t {
      auto it = std::lower_bound(byte_of_cp.begin() + static_cast<std::ptrdiff_t>(start),
                                 byte_of_cp.begin() + static_cast<std::ptrdiff_t>(start + n),
                                 b0 + byte_off);
      return static_cast<size_t>(it - byte_of_cp.begin()) - start;
    };
    size_t last = 0;  // code points consumed in this segment
    size_t pos = 0;   // byte position to search from
    while (pos <= len) {
      const uint32_t opts = utf ? PCRE2_NO_UTF_CHECK : 0;
      int rc = pcre2_match(code, subj, len, pos, opts, md, nullptr);
      if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        // JIT stack exhausted on a huge input: the interpreter uses the heap instead.
        rc = pcre2_match(code, subj, len, pos, opts | PCRE2_NO_JIT, md, nullptr);
      }
      if (rc < 0) break;  // no further match (or resource limit): the rest is one piece
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t ms = ov[0];
      const size_t me = ov[1];
      if (me == ms) {  // empty match: step over one character, as std::regex_iterator does
        if (ms >= len) break;
        pos = ms + 1;
        while (utf && pos < len && (subject[b0 + pos] & 0xC0) == 0x80) ++pos;
        continue;
      }
      const size_t cs = cp_at(ms);
      const size_t ce = cp_at(me);
      if (cs > last) out.push_back(cs - last);
      out.push_back(ce - cs);
      last = ce;
      pos = me;
    }
    if (last < n) out.push_back(n - last);
    start += n;
  }
  pcre2_match_data_free(md);
  return out;
}

}  // namespace

std::vector<size_t> PreTokenizer::split_offsets(const std::vector<uint32_t>& cpts) const {
  std::vector<size_t> offsets = {cpts.size()};
  std::string collapsed;
  std::vector<size_t> identity;
  std::string utf8;
  std::vector<size_t> utf8_pos;
  for (const auto& re : regexes_) {
    if (re->kind == Regex::Kind::kGpt2 || re->kind == Regex::Kind::kLlama3) {
      auto tmp = re->kind == Regex::Kind::kGpt2 ? split_custom_gpt2(cpts, offsets)
                                                 : split_custom_llama3(cpts, offsets);
      if (!tmp.empty() || cpts.empty()) {
        offsets = std::move(tmp);
        continue;
      }
    }
    if (re->kind == Regex::Kind::kCollapsed || re->code == nullptr) {
      if (collapsed.empty() && !cpts.empty()) {
        collapsed.resize(cpts.size());
        identity.resize(cpts.size() + 1);
        for (size_t i = 0; i < cpts.size(); ++i) collapsed[i] = collapsed_char(cpts[i]);
        for (size_t i = 0; i <= cpts.size(); ++i) identity[i] = i;
      }
      if (re->code == nullptr) continue;  // custom splitter on empty text: nothing to do
      if (cpts.empty()) {
        offsets.clear();
        continue;
      }
      offsets = split_with_pcre(re->code, collapsed, identity, offsets, false);
    } else {
      if (utf8_pos.empty()) {
        utf8_pos.reserve(cpts.size() + 1);
        for (uint32_t cp : cpts) {
          utf8_pos.push_back(utf8.size());
          if (cp > 0x7F && uni::flags(cp).is_whitespace()) cp = 0x0B;
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
          uni::append_utf8(utf8, cp);
        }
        utf8_pos.push_back(utf8.size());
      }
      offsets = split_with_pcre(re->code, utf8, utf8_pos, offsets, true);
    }
  }
  return offsets;
}

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  const std::vector<uint32_t> cpts = uni::cpts_from_utf8(text);
  const std::vector<size_t> offsets = split_offsets(cpts);
  std::vector<std::string> words;
  words.reserve(offsets.size());
  size_t start = 0;
  std::string raw;
  for (size_t n : offsets) {
    raw.clear();
    for (size_t i = start; i < start + n; ++i) uni::append_utf8(raw, cpts[i]);
    std::string word;
    word.reserve(raw.size() * 2);
    for (char c : raw) word += uni::byte_to_utf8(static_cast<uint8_t>(c));
    words.push_back(std::move(word));
    start += n;
  }
  return words;
}

}  // namespace dkb::tokenizer
