// Tokenizer::from_hf_json: byte-level BPE from a Hugging Face tokenizer.json, mapped onto the
// same Vocab the GGUF path builds (as llama.cpp's convert_hf_to_gguf.py would have written it).
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vocab_tokenizer.h"

namespace dkb::tokenizer {
namespace {

using nlohmann::json;

Result<json> read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument(path + ": not valid JSON");
  return j;
}

void collect_split_patterns(const json& pt, std::vector<std::string>& out, bool& byte_level_regex) {
  if (!pt.is_object()) return;
  const std::string type = pt.value("type", "");
  if (type == "Sequence" && pt.contains("pretokenizers") && pt["pretokenizers"].is_array()) {
    for (const json& p : pt["pretokenizers"]) collect_split_patterns(p, out, byte_level_regex);
  } else if (type == "Split" && pt.contains("pattern") && pt["pattern"].is_object()) {
    const json& pat = pt["pattern"];
    if (pat.contains("Regex") && pat["Regex"].is_string()) out.push_back(pat["Regex"].get<std::string>());
    if (pat.contains("String") && pat["String"].is_string()) out.push_back(pat["String"].get<std::string>());
  } else if (type == "ByteLevel") {
    if (pt.value("use_regex", true)) byte_level_regex = true;
  }
}

Result<PreType> detect_pre(const json& root) {
  std::vector<std::string> pats;
  bool byte_level_regex = false;
  if (root.contains("pre_tokenizer")) collect_split_patterns(root["pre_tokenizer"], pats, byte_level_regex);
  if (pats.empty() && byte_level_regex) return PreType::kGpt2;
  if (pats.size() == 3 && pats[0] == "\\p{N}{1,3}" && pats[2].find("\\p{M}") != std::string::npos) {
    return PreType::kDeepseek3;
  }
  if (pats.size() == 1 && pats[0].find("'s|'t|'re|'ve|'m|'ll|'d") != std::string::npos) {
    if (pats[0].find("\\p{N}{1,3}") != std::string::npos) return PreType::kLlama3;
    if (pats[0].find("\\p{N}|") != std::string::npos) return PreType::kQwen2;
  }
  std::string all;
  for (const auto& p : pats) all += (all.empty() ? "" : ", ") + p;
  return unimplemented("tokenizer.json: unsupported pre_tokenizer (Split patterns: " + all + ")");
}

// "token" or {"content": "token"}; empty when absent.
std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) {
    return j["content"].get<std::string>();
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_hf_json(const std::string& path) {
  DKB_ASSIGN_OR_RETURN(json root, read_json(path));
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    return invalid_argument(path + ": no \"model\" object");
  }
  const json& model = root["model"];
  if (model.value("type", "") != "BPE") {
    return unimplemented(path + ": model.type '" + model.value("type", "") +
                         "' is not supported (only byte-level BPE)");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return invalid_argument(path + ": model.vocab missing or not an object");
  }

  Vocab v;
  v.set_type_defaults(VocabType::kBpe);
  v.model_name = "gpt2";
  v.bos = v.eos = -1;
  DKB_ASSIGN_OR_RETURN(PreType pre, detect_pre(root));
  v.set_pre_defaults(pre);
  v.pre_name = std::string(pre_type_name(pre));
  // llama3-style vocabularies get add_bos from the pre type; the config below can override.

  if (root.contains("normalizer") && !root["normalizer"].is_null()) {
    const json& nz = root["normalizer"];
    const std::string t = nz.value("type", "");
    if (t == "NFC") {
      v.normalize_nfc = true;
    } else if (!(t == "Sequence" && nz.contains("normalizers") && nz["normalizers"].empty())) {
      return unimplemented(path + ": normalizer '" + t + "' is not supported");
    }
  }

  // Vocabulary and added tokens, by id.
  int64_t max_id = -1;
  for (const auto& [tok, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      return corruption(path + ": model.vocab['" + tok + "'] is not a valid id");
    }
    max_id = std::max(max_id, id.get<int64_t>());
  }
  const json added = root.value("added_tokens", json::array());
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
        a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() > INT32_MAX) {
      return corruption(path + ": added_tokens entry without a valid id");
    }
    max_id = std::max(max_id, a["id"].get<int64_t>());
  }
  if (max_id < 0) return corruption(path + ": empty vocabulary");
  const size_t n = static_cast<size_t>(max_id) + 1;
  v.text.assign(n, std::string());
  v.score.assign(n, 0.0f);
  v.attr.assign(n, kAttrUndefined);
  for (const auto& [tok, id] : model["vocab"].items()) {
    const auto i = id.get<size_t>();
    v.text[i] = tok;
    v.attr[i] = kAttrNormal;
  }
  for (const json& a : added) {
    const auto i = a["id"].get<size_t>();
    v.text[i] = a.value("content", "");
    v.attr[i] = a.value("special", false) ? kAttrControl : kAttrUserDefined;
    if (a.value("lstrip", false)) v.attr[i] |= kAttrLstrip;
    if (a.value("rstrip", false)) v.attr[i] |= kAttrRstrip;
  }
  for (size_t i = 0; i < n; ++i) {
    if (v.text[i].empty()) {
      v.text[i] = "[PAD" + std::to_string(i) + "]";
      v.attr[i] = kAttrUnused;
    }
    v.token_to_id[v.text[i]] = static_cast<TokenId>(i);
    v.max_token_len = std::max(v.max_token_len, static_cast<int>(v.text[i].size()));
  }

  if (!model.contains("merges") || !model["merges"].is_array()) {
    return invalid_argument(path + ": model.merges missing or not an array");
  }
  const json& merges = model["merges"];
  v.bpe_ranks.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    std::string left, right;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t pos = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
      if (pos == std::string::npos) {
        return corruption(path + ": model.merges[" + std::to_string(i) + "] '" + s +
                          "' is not two space-separated tokens");
      }
      left = s.substr(0, pos);
      right = s.substr(pos + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return corruption(path + ": model.merges[" + std::to_string(i) + "] is malformed");
    }
    for (const std::string* part : {&left, &right}) {
      if (v.find(*part) < 0) {
        return corruption(path + ": model.merges[" + std::to_string(i) +
                          "] names unknown token '" + *part + "'");
      }
    }
    v.bpe_ranks.emplace(left + " " + right, static_cast<int32_t>(i));
  }
  if (model.value("ignore_merges", false)) v.ignore_merges = true;

  // tokenizer_config.json next to the file: bos/eos and whether to add them.
  const std::filesystem::path cfg_path =
      std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(cfg_path, ec)) {
    DKB_ASSIGN_OR_RETURN(json cfg, read_json(cfg_path.string()));
    if (cfg.is_object()) {
      if (cfg.contains("bos_token")) v.bos = v.find(token_content(cfg["bos_token"]));
      if (cfg.contains("eos_token")) v.eos = v.find(token_content(cfg["eos_token"]));
      if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) {
        v.add_bos = cfg["add_bos_token"].get<bool>();
      }
      if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) {
        v.add_eos = cfg["add_eos_token"].get<bool>();
      }
    }
  }
  if (v.bos < 0) v.add_bos = false;
  if (v.eos < 0) v.add_eos = false;

  DKB_RETURN_IF_ERROR(v.finalize(""));
  return std::unique_ptr<Tokenizer>(std::make_unique<VocabTokenizer>(std::move(v)));
}

}  // namespace dkb::tokenizer
