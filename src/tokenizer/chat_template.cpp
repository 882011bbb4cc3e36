// ChatTemplate: glue between the public contract and the Jinja interpreter.
//
// Environment matches transformers' apply_chat_template: trim_blocks=True,
// lstrip_blocks=True, default Undefined, loopcontrols, raise_exception and strftime_now.
#include "tokenizer/chat_template.h"

#include <nlohmann/json.hpp>

#include "base/limits.h"
#include "jinja_ast.h"
#include "jinja_eval.h"
#include "jinja_lexer.h"
#include "jinja_parser.h"

namespace dkb::tokenizer {

struct ChatTemplate::Impl {
  jinja::Body body;
};

namespace {

Status to_status(const jinja::Error& e) {
  if (e.raised) return invalid_argument(e.what());
  std::string where = e.line() > 0 ? "chat template " + std::to_string(e.line()) + ":" +
                                         std::to_string(e.col()) + ": "
                                   : "chat template: ";
  return invalid_argument(where + e.what());
}

}  // namespace

ChatTemplate::ChatTemplate() : impl_(std::make_unique<Impl>()) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

Result<ChatTemplate> ChatTemplate::parse(const std::string& source) {
  const size_t max_bytes = Limits::defaults().max_template_bytes;
  if (source.size() > max_bytes) {
    return invalid_argument("chat template is " + std::to_string(source.size()) +
                            " bytes, limit max_template_bytes is " + std::to_string(max_bytes));
  }
  try {
    jinja::LexOptions opt;
    opt.trim_blocks = true;
    opt.lstrip_blocks = true;
    ChatTemplate t;
    t.impl_->body = jinja::parse(jinja::lex(source, opt));
    return t;
  } catch (const jinja::Error& e) {
    return to_status(e);
  } catch (const std::exception& e) {
    return internal_error(std::string("chat template parse failed: ") + e.what());
  }
}

Result<std::string> ChatTemplate::render(const nlohmann::json& context) const {
  if (!impl_) return failed_precondition("chat template was moved from");
  if (!context.is_object()) return invalid_argument("chat template context must be a JSON object");
  try {
    jinja::ContainerArena arena;
    jinja::Value globals = jinja::from_json(context);
    // tokenizer_config.json stores special tokens either as strings or as AddedToken
    // objects {"content": ...}; templates expect the string.
    for (auto& [key, value] : globals.dict()->items) {
      if (key.ends_with("_token") && value.is_dict()) {
        if (const jinja::Value* content = value.dict()->find("content")) value = *content;
      }
    }
    // The rendered prompt may be as large as the largest prompt the engine accepts plus
    // the template's own text.
    jinja::RenderLimits limits;
    limits.max_output_bytes = Limits::defaults().max_prompt_bytes + (1u << 20);
    jinja::Evaluator ev(limits, globals);
    return ev.render(impl_->body);
  } catch (const jinja::Error& e) {
    return to_status(e);
  } catch (const std::exception& e) {
    return internal_error(std::string("chat template render failed: ") + e.what());
  }
}

}  // namespace dkb::tokenizer
