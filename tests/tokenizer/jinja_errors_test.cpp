// Chat template error handling and resource bounds: syntax errors name line:column,
// raise_exception() surfaces its message, and hostile templates fail instead of crashing,
// hanging or exhausting memory.
#include <gtest/gtest.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/chat_template.h"

namespace dkb::tokenizer {
namespace {

using nlohmann::json;

// gmock is not linked into the test binaries; a substring check with a readable failure.
#define EXPECT_CONTAINS(haystack, needle)                  \
  do {                                                     \
    const std::string dkb_h = (haystack);                  \
    EXPECT_NE(dkb_h.find(needle), std::string::npos)       \
        << "'" << dkb_h << "' lacks '" << (needle) << "'"; \
  } while (0)

Status parse_error(const std::string& source) {
  auto t = ChatTemplate::parse(source);
  if (t.is_ok()) return Status::ok();
  return t.status();
}

Status render_error(const std::string& source, const json& ctx = json::object()) {
  auto t = ChatTemplate::parse(source);
  if (!t.is_ok()) {
    ADD_FAILURE() << "unexpected parse error: " << t.status().to_string();
    return t.status();
  }
  auto out = t->render(ctx);
  if (out.is_ok()) return Status::ok();
  return out.status();
}

std::string render(const std::string& source, const json& ctx = json::object()) {
  auto t = ChatTemplate::parse(source);
  if (!t.is_ok()) return "PARSE ERROR: " + t.status().to_string();
  auto out = t->render(ctx);
  return out.is_ok() ? *out : "RENDER ERROR: " + out.status().to_string();
}

TEST(JinjaErrors, UnclosedBlockNamesOpeningTag) {
  Status s = parse_error("abc\n  {% if x %}\nno end");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_CONTAINS(s.message(), "2:3");
  EXPECT_CONTAINS(s.message(), "endif");
  EXPECT_CONTAINS(parse_error("{% for m in messages %}x").message(), "endfor");
  EXPECT_CONTAINS(parse_error("{{ x ").message(), "unclosed");
  EXPECT_CONTAINS(parse_error("{# never closed").message(), "unclosed comment");
  EXPECT_CONTAINS(parse_error("{{ 'abc }}").message(), "unterminated string");
}

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  Status s = parse_error("line one\nline two\n{{ 1 + }}");
  ASSERT_FALSE(s.is_ok());
  EXPECT_CONTAINS(s.message(), "3:8");
  EXPECT_CONTAINS(parse_error("{% endif %}").message(), "unknown or unexpected tag 'endif'");
  EXPECT_CONTAINS(parse_error("{% frobnicate %}").message(), "frobnicate");
  EXPECT_CONTAINS(parse_error("{{ a b }}").message(), "expected '}}'");
  EXPECT_CONTAINS(parse_error("{{ [1, 2 }}").message(), "1:1");
  EXPECT_CONTAINS(parse_error("{% set x = [1, 2 %}").message(), "expected ']'");
}

TEST(JinjaErrors, UnknownFilterAndTestAreParseErrors) {
  Status s = parse_error("{{ name | frobnicate }}");
  ASSERT_FALSE(s.is_ok());
  EXPECT_CONTAINS(s.message(), "no filter named 'frobnicate'");
  EXPECT_CONTAINS(s.message(), "1:11");
  EXPECT_CONTAINS(parse_error("{% if x is frobnicated %}{% endif %}").message(),
                  "no test named 'frobnicated'");
}

TEST(JinjaErrors, RaiseExceptionCarriesMessage) {
  Status s = render_error(
      "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
      "{{ raise_exception('Conversation roles must be user or assistant') }}{% endif %}"
      "{% endfor %}",
      {{"messages", json::array({{{"role", "robot"}}})}});
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "Conversation roles must be user or assistant");
}

TEST(JinjaErrors, RuntimeErrorsNameLocation) {
  Status s = render_error("ok\n{{ 1 // 0 }}");
  ASSERT_FALSE(s.is_ok());
  EXPECT_CONTAINS(s.message(), "2:");
  EXPECT_CONTAINS(s.message(), "division");
  EXPECT_CONTAINS(render_error("{{ missing.attr }}").message(), "'missing' is undefined");
  EXPECT_CONTAINS(render_error("{{ missing + 'x' }}").message(), "'missing' is undefined");
  EXPECT_CONTAINS(render_error("{{ 'a' + 1 }}").message(), "unsupported operand");
  EXPECT_CONTAINS(render_error("{{ messages() }}", {{"messages", json::array()}}).message(),
                  "not callable");
  EXPECT_CONTAINS(render_error("{% set x = 1 %}{% set x.y = 2 %}").message(), "non-namespace");
}

TEST(JinjaErrors, RunawayLoopIsBounded) {
  Status s = render_error(
      "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  ASSERT_FALSE(s.is_ok());
  EXPECT_CONTAINS(s.message(), "loop iterations");
  EXPECT_CONTAINS(render_error("{{ range(100000000) | length }}").message(), "list exceeds");
}

TEST(JinjaErrors, OutputAndStringSizeAreBounded) {
  EXPECT_CONTAINS(
      render_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}").message(),
      "exceeds");
  EXPECT_CONTAINS(render_error("{{ 'x' * 100000000000 }}").message(), "exceeds");
  EXPECT_CONTAINS(render_error("{% set s = 'x' * 6000000 %}{{ s ~ s }}").message(), "exceeds");
  EXPECT_CONTAINS(render_error("{% set s = 'x' * 6000000 %}{{ s.replace('x', 'yy') }}").message(),
                  "too large");
  EXPECT_CONTAINS(render_error("{{ [1] * 100000000 }}").message(), "list exceeds");
}

TEST(JinjaErrors, RecursionIsBounded) {
  EXPECT_CONTAINS(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").message(),
                  "call depth");
  std::string deep_parens = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_CONTAINS(parse_error(deep_parens).message(), "nested too deeply");
  std::string deep_blocks;
  for (int i = 0; i < 1000; ++i) deep_blocks += "{% if true %}";
  EXPECT_CONTAINS(parse_error(deep_blocks).message(), "nested too deeply");
  std::string long_chain = "{{ 1";
  for (int i = 0; i < 100000; ++i) long_chain += "+1";
  EXPECT_CONTAINS(parse_error(long_chain + " }}").message(), "nested too deeply");
  std::string attr_chain = "{{ x";
  for (int i = 0; i < 100000; ++i) attr_chain += ".a";
  EXPECT_CONTAINS(parse_error(attr_chain + " }}").message(), "nested too deeply");
}

TEST(JinjaErrors, SelfReferentialAndDeepValuesAreSafe) {
  EXPECT_CONTAINS(render("{% set l = [] %}{% set _ = l.append(l) %}{{ l | tojson }}"),
                  "nested too deeply");
  EXPECT_CONTAINS(render("{% set l = [] %}{% set _ = l.append(l) %}{{ l }}"), "nested too deeply");
  EXPECT_CONTAINS(render("{% set l = [] %}{% set _ = l.append(l) %}{{ l == l }}"),
                  "nested too deeply");
  // Deep nesting built in a loop must not overflow the stack when freed.
  EXPECT_EQ(render("{% set ns = namespace(l=[]) %}{% for i in range(200000) %}"
                   "{% set ns.l = [ns.l] %}{% endfor %}done"),
            "done");
}

// Cheap deterministic fuzzing: every prefix of a real template, and the template with each
// character removed, must parse or fail cleanly and render or fail cleanly.
TEST(JinjaErrors, MutatedRealTemplateNeverCrashes) {
  const std::string source =
      "{% set ns = namespace(sys='', n=0) %}{%- for m in messages %}{%- if m['role'] == 'system' "
      "%}{% set ns.sys = m['content'] %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.sys }}"
      "{%- for m in messages if m.role != 'system' %}{% set c = m.content %}{% if '</think>' in "
      "c %}{% set c = c.split('</think>')[-1] %}{% endif %}{{ '<' ~ m.role | upper ~ '>' + c | "
      "trim }}{% set ns.n = ns.n + 1 %}{% else %}{{ raise_exception('empty') }}{% endfor %}{# "
      "done #}{{- (tools | tojson(indent=2)) if tools is defined else '' -}}{% if "
      "add_generation_prompt %}{{ '<A>' }}{% endif %}";
  json ctx = {{"messages", json::array({{{"role", "system"}, {"content", "S"}},
                                        {{"role", "user"}, {"content", "<think>x</think>q"}}})},
              {"add_generation_prompt", true},
              {"bos_token", "<s>"}};
  ASSERT_EQ(render(source, ctx), "<s>S<USER>q<A>");
  size_t ok = 0;
  for (size_t i = 0; i <= source.size(); ++i) {
    for (const std::string& variant :
         {source.substr(0, i),
          source.substr(0, i) + source.substr(std::min(i + 1, source.size()))}) {
      auto t = ChatTemplate::parse(variant);
      if (!t.is_ok()) {
        EXPECT_EQ(t.status().code(), ErrorCode::kInvalidArgument) << variant;
        continue;
      }
      auto out = t->render(ctx);
      if (out.is_ok()) ++ok;
    }
  }
  EXPECT_GT(ok, 0u);
}

TEST(JinjaErrors, TemplateSizeIsBounded) {
  Status s = parse_error(std::string(2u << 20, 'x'));
  ASSERT_FALSE(s.is_ok());
  EXPECT_CONTAINS(s.message(), "max_template_bytes");
}

TEST(JinjaErrors, RenderRejectsNonObjectContext) {
  auto t = ChatTemplate::parse("x");
  ASSERT_TRUE(t.is_ok());
  EXPECT_FALSE(t->render(json::array()).is_ok());
}

TEST(JinjaBuiltins, StrftimeNowUsesCurrentDate) {
  std::time_t now = std::time(nullptr);
  std::tm tm_now{};
  localtime_r(&now, &tm_now);
  std::string out = render("{{ strftime_now('%Y') }}");
  EXPECT_EQ(out, std::to_string(tm_now.tm_year + 1900));
  EXPECT_EQ(render("{{ strftime_now('%d %B %Y') | length > 8 }}"), "True");
}

TEST(JinjaBuiltins, SpecialTokenObjectsRenderAsContent) {
  json ctx = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}}}};
  EXPECT_EQ(render("{{ bos_token }}hi", ctx), "<s>hi");
}

}  // namespace
}  // namespace dkb::tokenizer
