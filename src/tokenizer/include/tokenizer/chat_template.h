// ChatTemplate: renders a model's Jinja chat template (tokenizer.chat_template).
//
// A Jinja2-compatible interpreter for the subset real chat templates use: {{ }}, {% %},
// {# #}, whitespace control (-), if/elif/else, for (with loop.index0/first/last/length, else),
// set (incl. namespace() attributes), macros are not required; filters (trim, length, upper,
// lower, tojson, default, first, last, join, replace, string, int, items, safe, ...), tests
// (defined, none, string, mapping, ...), string methods (startswith, endswith, split, strip,
// lstrip, rstrip, replace, lower, upper, ...), slicing, `in`, `~`, and raise_exception().
// Messages are JSON (role, content, optional tool_calls, reasoning_content ...).
//
// Thread-safety: a parsed ChatTemplate is immutable; render() may run concurrently.
// Errors: parse errors are kInvalidArgument with line:column; raise_exception() inside a
// template becomes kInvalidArgument with its message. Rendering is bounded (Limits).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace dkb::tokenizer {

// llama.cpp's fallback for models that carry no template (ChatML).
inline constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' "
    "}}{% endif %}";

class ChatTemplate {
 public:
  static Result<ChatTemplate> parse(const std::string& source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // context: {messages: [...], add_generation_prompt: bool, bos_token, eos_token, ...}
  Result<std::string> render(const nlohmann::json& context) const;

 private:
  ChatTemplate();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dkb::tokenizer
