#include "rag/prompt.h"

#include <algorithm>
#include <set>

namespace dkb::rag {

const char* const kInstruction =
    "Answer the question using only the numbered sources below. Cite the sources you use as "
    "[n], for example [1] or [2][3]. If the sources do not contain the answer, say that the "
    "knowledge base does not contain it; do not make an answer up.";

std::string format_source(int n, const Source& s) {
  std::string head = "[" + std::to_string(n) + "]";
  if (!s.title.empty()) head += " " + s.title;
  std::string heading;
  for (const auto& h : s.hit.heading_path) heading += (heading.empty() ? "" : " > ") + h;
  if (!heading.empty()) head += (s.title.empty() ? " " : " > ") + heading;
  if (s.hit.page > 0) head += " (page " + std::to_string(s.hit.page) + ")";
  return head + "\n" + s.hit.text;
}

namespace {

nlohmann::json with_sources(const nlohmann::json& conversation, const std::vector<Source>& used) {
  std::string system = kInstruction;
  system += "\n\nSources:";
  for (size_t i = 0; i < used.size(); ++i) system += "\n\n" + format_source(static_cast<int>(i + 1), used[i]);
  if (used.empty()) system += "\n\n(none)";
  nlohmann::json messages = nlohmann::json::array();
  messages.push_back({{"role", "system"}, {"content", system}});
  for (const auto& m : conversation) {
    if (m.value("role", "") == "system") continue;  // our instruction replaces it
    messages.push_back(m);
  }
  return messages;
}

Result<std::pair<std::string, std::vector<int32_t>>> render(const nlohmann::json& messages,
                                                             const tokenizer::Tokenizer& tok,
                                                             const tokenizer::ChatTemplate& tmpl) {
  const std::string bos = tok.bos() >= 0 ? std::string(tok.text(tok.bos())) : "";
  const std::string eos = tok.eos() >= 0 ? std::string(tok.text(tok.eos())) : "";
  nlohmann::json ctx = {{"messages", messages}, {"add_generation_prompt", true},
                        {"bos_token", bos}, {"eos_token", eos}};
  DKB_ASSIGN_OR_RETURN(std::string text, tmpl.render(ctx));
  bool has_bos = !bos.empty() && text.rfind(bos, 0) == 0;
  auto ids = tok.encode(text, {.add_special = !has_bos, .parse_special = true});
  return std::make_pair(std::move(text), std::move(ids));
}

}  // namespace

Result<BuiltPrompt> build_prompt(const nlohmann::json& conversation,
                                 const std::vector<Source>& candidates,
                                 const tokenizer::Tokenizer& tok,
                                 const tokenizer::ChatTemplate& tmpl, const PromptOptions& opt) {
  if (!conversation.is_array() || conversation.empty()) {
    return invalid_argument("the conversation is empty");
  }
  const int64_t budget = opt.n_ctx - opt.max_tokens;
  BuiltPrompt out;
  DKB_ASSIGN_OR_RETURN(auto base, render(with_sources(conversation, {}), tok, tmpl));
  if (static_cast<int64_t>(base.second.size()) > budget) {
    return invalid_argument("the question needs " + std::to_string(base.second.size()) +
                            " prompt tokens but only " + std::to_string(std::max<int64_t>(budget, 0)) +
                            " fit (context " + std::to_string(opt.n_ctx) + " minus max_tokens " +
                            std::to_string(opt.max_tokens) + ")");
  }
  // Each source's cost is its rendered block plus separators; measure it exactly by
  // rendering, adding greedily in relevance order.
  std::vector<Source> used;
  auto best = base;
  for (const Source& c : candidates) {
    std::vector<Source> trial = used;
    trial.push_back(c);
    DKB_ASSIGN_OR_RETURN(auto r, render(with_sources(conversation, trial), tok, tmpl));
    if (static_cast<int64_t>(r.second.size()) <= budget) {
      used = std::move(trial);
      best = std::move(r);
    } else {
      out.dropped.push_back(c.hit);
    }
  }
  for (size_t i = 0; i < used.size(); ++i) used[i].n = static_cast<int>(i + 1);
  out.messages = with_sources(conversation, used);
  out.rendered = std::move(best.first);
  out.tokens = std::move(best.second);
  out.used = std::move(used);
  return out;
}

std::vector<int> cited_numbers(const std::string& answer, size_t n_sources) {
  std::vector<int> out;
  std::set<int> seen;
  for (size_t i = 0; i < answer.size(); ++i) {
    if (answer[i] != '[') continue;
    size_t j = i + 1;
    int n = 0;
    while (j < answer.size() && j - i <= 4 && answer[j] >= '0' && answer[j] <= '9') {
      n = n * 10 + (answer[j] - '0');
      ++j;
    }
    if (j > i + 1 && j < answer.size() && answer[j] == ']' && n >= 1 &&
        static_cast<size_t>(n) <= n_sources && seen.insert(n).second) {
      out.push_back(n);
    }
  }
  return out;
}

}  // namespace dkb::rag
