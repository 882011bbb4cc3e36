#include "vocab.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "unicode.h"

namespace dkb::tokenizer {
namespace {

const char* const kSpace = "\xE2\x96\x81";  // U+2581

bool any_of_texts(std::string_view t, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), t) != list.end();
}

std::string unescape_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 3, kSpace) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// llama_decode_text: byte-level characters back to bytes.
std::string decode_byte_level(std::string_view text) {
  std::string out;
  for (uint32_t cp : uni::cpts_from_utf8(text)) {
    const int b = uni::utf8_to_byte(cp);
    if (b >= 0) {
      out += static_cast<char>(b);
      continue;
    }
    out += "[UNK_BYTE_0x";
    for (char c : uni::cpt_to_utf8(cp)) {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%02x", static_cast<uint8_t>(c));
      out += hex;
    }
    out += std::string(text) + "]";
  }
  return out;
}

}  // namespace

uint32_t attr_bits_from_token_type(int64_t token_type) {
  switch (token_type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
  }
}

void Vocab::set_type_defaults(VocabType t) {
  type = t;
  eot = eom = sep = pad = mask = -1;
  fim_pre = fim_suf = fim_mid = fim_pad = fim_rep = fim_sep = -1;
  switch (t) {
    case VocabType::kSpm:
      bos = 1, eos = 2, unk = 0;
      add_space_prefix = true, clean_spaces = false, add_bos = true, add_eos = false;
      break;
    case VocabType::kWpm:
      bos = 101, eos = -1, unk = 100, sep = 102, pad = 0, mask = 103;
      add_space_prefix = false, clean_spaces = true, add_bos = true, add_eos = false;
      break;
    case VocabType::kBpe:
      bos = 11, eos = 11, unk = -1;
      add_space_prefix = false, clean_spaces = true, add_bos = false, add_eos = false;
      break;
  }
}

void Vocab::set_pre_defaults(PreType p) {
  pre_type = p;
  switch (p) {
    case PreType::kLlama3:
      ignore_merges = true;
      add_bos = true;
      break;
    case PreType::kDeepseekLlm:
    case PreType::kDeepseekCoder:
    case PreType::kDeepseek3:
    case PreType::kQwen2:
      clean_spaces = false;
      break;
    default:
      break;
  }
}

int32_t Vocab::bpe_rank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left).append(1, ' ').append(right);
  auto it = bpe_ranks.find(key);
  return it == bpe_ranks.end() ? -1 : it->second;
}

TokenId Vocab::byte_to_token(uint8_t b) const {
  if (type == VocabType::kSpm) {
    static const char* hex = "0123456789ABCDEF";
    const char buf[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
    TokenId id = find(buf);
    if (id >= 0) return id;
    return find(std::string(1, static_cast<char>(b)));
  }
  return find(uni::byte_to_utf8(b));
}

bool Vocab::is_eog(TokenId id) const {
  return id >= 0 && std::binary_search(eog_ids.begin(), eog_ids.end(), id);
}

std::string Vocab::compute_piece(TokenId id) const {
  if (id < 0 || id >= n_tokens()) return {};
  const uint32_t a = attr[id];
  const std::string& t = text[id];
  if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t;
  if (type == VocabType::kBpe) {
    if (a & kAttrNormal) return decode_byte_level(t);
    return {};
  }
  if (a & kAttrNormal) return unescape_whitespace(t);
  if ((a & kAttrByte) && t.size() >= 5) {
    return std::string(1, static_cast<char>(std::strtol(t.substr(3, 2).c_str(), nullptr, 16)));
  }
  return {};
}

Status Vocab::finalize(std::string_view general_name) {
  const TokenId n = n_tokens();
  auto valid = [&](TokenId& id) {
    if (id >= n) id = -1;
  };
  for (TokenId* id : {&bos, &eos, &eot, &eom, &unk, &sep, &pad, &mask, &fim_pre, &fim_suf,
                      &fim_mid, &fim_pad, &fim_rep, &fim_sep}) {
    valid(*id);
  }
  auto force_control = [&](TokenId id) {
    if ((attr[id] & kAttrControl) == 0) attr[id] = kAttrControl;
  };
  // Special tokens recognised by their text, as llama.cpp does (first match in id order).
  for (TokenId id = 0; id < n; ++id) {
    const std::string& t = text[id];
    auto detect = [&](TokenId& slot, std::initializer_list<std::string_view> names) {
      if (slot == -1 && any_of_texts(t, names)) {
        slot = id;
        force_control(id);
      }
    };
    detect(eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                 "<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"});
    detect(eom, {"<|eom_id|>"});
    detect(fim_pre, {"<|fim_prefix|>", "<fim-prefix>",
                     "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>"});
    detect(fim_suf, {"<|fim_suffix|>", "<fim-suffix>",
                     "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>"});
    detect(fim_mid, {"<|fim_middle|>", "<fim-middle>",
                     "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>"});
    detect(fim_pad, {"<|fim_pad|>", "<fim-pad>", "<PAD>"});
    detect(fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"});
    detect(fim_sep, {"<|file_sep|>"});
  }
  std::vector<TokenId> eog;
  for (TokenId id : {fim_pad, fim_rep, fim_sep}) {
    if (id >= 0) eog.push_back(id);
  }
  for (TokenId id = 0; id < n; ++id) {
    if (any_of_texts(text[id], {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                "<|endoftext|>", "<|eom_id|>", "<EOT>"})) {
      eog.push_back(id);
      force_control(id);
    }
  }
  for (TokenId id : {eos, eot, eom}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  eog_ids = std::move(eog);

  special_tokens.clear();
  for (TokenId id = 0; id < n; ++id) {
    if (attr[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_tokens.push_back(id);
  }
  std::stable_sort(special_tokens.begin(), special_tokens.end(), [&](TokenId a, TokenId b) {
    return text[a].size() > text[b].size();
  });

  piece_cache.resize(static_cast<size_t>(n));
  for (TokenId id = 0; id < n; ++id) piece_cache[id] = compute_piece(id);

  std::string name(general_name);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (TokenId id : special_tokens) attr[id] |= kAttrRstrip;
    if (TokenId id = find("</s>"); id >= 0) attr[id] |= kAttrRstrip;
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (TokenId id = find(t); id >= 0) attr[id] &= ~kAttrRstrip;
    }
  }
  if (pre_name.find("jina-v2-") != std::string::npos) {
    if (TokenId id = find("<mask>"); id >= 0) attr[id] |= kAttrLstrip;
  }

  if (type == VocabType::kBpe) {
    DKB_ASSIGN_OR_RETURN(pre, PreTokenizer::create(pre_type));
  }
  return Status::ok();
}

}  // namespace dkb::tokenizer
