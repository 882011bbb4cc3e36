// ChatTemplate against real model templates: DeepSeek-V3 (golden renderings from the
// fixture), the R1-Distill templates and Qwen3 (expected strings derived by reading the
// templates and cross-checked with jinja2 in transformers' environment).
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/fixtures.h"

namespace dkb::tokenizer {
namespace {

using nlohmann::json;

constexpr const char* kBos = "<｜begin▁of▁sentence｜>";
constexpr const char* kEos = "<｜end▁of▁sentence｜>";

ChatTemplate parse_or_die(const std::string& source) {
  auto t = ChatTemplate::parse(source);
  if (!t.is_ok()) ADD_FAILURE() << t.status().to_string();
  return std::move(t).value();
}

json config_of(const std::string& rel) {
  return json::parse(dkb::test::read_file(dkb::test::fixture_path(rel)));
}

TEST(ChatTemplateDeepSeekV3, MatchesGoldenRenderings) {
  DKB_REQUIRE_FIXTURE("tokenizers/deepseek-v3/tokenizer_config.json");
  DKB_REQUIRE_FIXTURE("tokenizers/deepseek-v3/chat.json");
  json config = config_of("tokenizers/deepseek-v3/tokenizer_config.json");
  json golden = config_of("tokenizers/deepseek-v3/chat.json");
  ChatTemplate tmpl = parse_or_die(config.at("chat_template").get<std::string>());
  ASSERT_FALSE(golden.at("cases").empty());
  for (const auto& c : golden.at("cases")) {
    // bos_token/eos_token are AddedToken objects here; render() uses their "content".
    json ctx = {{"messages", c.at("messages")},
                {"add_generation_prompt", c.at("add_generation_prompt")},
                {"bos_token", config.at("bos_token")},
                {"eos_token", config.at("eos_token")}};
    auto out = tmpl.render(ctx);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(*out, c.at("rendered").get<std::string>()) << c.at("messages").dump();
  }
}

TEST(ChatTemplateDeepSeekV3, ToolCallsAndOutputs) {
  DKB_REQUIRE_FIXTURE("tokenizers/deepseek-v3/tokenizer_config.json");
  json config = config_of("tokenizers/deepseek-v3/tokenizer_config.json");
  ChatTemplate tmpl = parse_or_die(config.at("chat_template").get<std::string>());
  json messages = json::parse(R"([
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
    {"role": "tool", "content": "5C"},
    {"role": "tool", "content": "windy"}
  ])");
  auto out =
      tmpl.render({{"messages", messages}, {"add_generation_prompt", true}, {"bos_token", kBos}});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(*out, std::string(kBos) +
                      "<｜User｜>Weather?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>"
                      "function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Oslo\"}\n```"
                      "<｜tool▁call▁end｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>5C"
                      "<｜tool▁output▁end｜>\n<｜tool▁output▁begin｜>windy<｜tool▁output▁end｜>"
                      "<｜tool▁outputs▁end｜>");
}

json r1_conversation() {
  return json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n2+2 is 4."},
    {"role": "user", "content": "And 3+3?"}
  ])");
}

class R1DistillTemplate : public ::testing::TestWithParam<const char*> {};

TEST_P(R1DistillTemplate, StripsEarlierThinkingAndOpensThinkBlock) {
  std::string rel = std::string("templates/") + GetParam();
  DKB_REQUIRE_FIXTURE(rel);
  ChatTemplate tmpl = parse_or_die(dkb::test::read_file(dkb::test::fixture_path(rel)));
  const std::string prefix = std::string(kBos) +
                             "You are helpful.<｜User｜>What is 2+2?<｜Assistant｜>\n\n2+2 is 4." +
                             kEos + "<｜User｜>And 3+3?";
  json ctx = {{"messages", r1_conversation()}, {"bos_token", kBos}, {"eos_token", kEos}};
  ctx["add_generation_prompt"] = true;
  auto with_prompt = tmpl.render(ctx);
  ASSERT_TRUE(with_prompt.is_ok()) << with_prompt.status().to_string();
  EXPECT_EQ(*with_prompt, prefix + "<｜Assistant｜><think>\n");
  ctx["add_generation_prompt"] = false;
  auto without = tmpl.render(ctx);
  ASSERT_TRUE(without.is_ok()) << without.status().to_string();
  EXPECT_EQ(*without, prefix);
  // add_generation_prompt absent: the template defaults it to false.
  ctx.erase("add_generation_prompt");
  auto absent = tmpl.render(ctx);
  ASSERT_TRUE(absent.is_ok()) << absent.status().to_string();
  EXPECT_EQ(*absent, prefix);
}

INSTANTIATE_TEST_SUITE_P(Templates, R1DistillTemplate,
                         ::testing::Values("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
                                           "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja"));

class Qwen3Template : public ::testing::Test {
 protected:
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("tokenizers/qwen3/tokenizer_config.json");
    json config = config_of("tokenizers/qwen3/tokenizer_config.json");
    auto t = ChatTemplate::parse(config.at("chat_template").get<std::string>());
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    tmpl_ = std::make_unique<ChatTemplate>(std::move(t).value());
  }
  std::string render(const json& ctx) {
    auto out = tmpl_->render(ctx);
    EXPECT_TRUE(out.is_ok()) << out.status().to_string();
    return out.is_ok() ? *out : std::string();
  }
  std::unique_ptr<ChatTemplate> tmpl_;
};

TEST_F(Qwen3Template, HistoryDropsEarlierReasoning) {
  const std::string history =
      "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
      "<|im_start|>assistant\n2+2 is 4.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n";
  EXPECT_EQ(render({{"messages", r1_conversation()}, {"add_generation_prompt", true}}),
            history + "<|im_start|>assistant\n");
  EXPECT_EQ(render({{"messages", r1_conversation()}, {"add_generation_prompt", false}}), history);
}

TEST_F(Qwen3Template, LastTurnKeepsReasoningContent) {
  json messages = json::parse(R"([
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello", "reasoning_content": "\nGreet back.\n"}
  ])");
  EXPECT_EQ(render({{"messages", messages}, {"add_generation_prompt", false}}),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nGreet back.\n"
            "</think>\n\nHello<|im_end|>\n");
}

TEST_F(Qwen3Template, EnableThinkingFalseAddsEmptyThinkBlock) {
  json messages = json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "What is 2+2?"}
  ])");
  EXPECT_EQ(
      render({{"messages", messages}, {"add_generation_prompt", true}, {"enable_thinking", false}}),
      "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 2+2?"
      "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST_F(Qwen3Template, ToolsToolCallsAndResponses) {
  json tools = json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Get weather", "parameters": {"type": "object",
    "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  json messages = json::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
      {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "content": "18C sunny"},
    {"role": "tool", "content": "extra"},
    {"role": "assistant", "content": "It is 18C and sunny."},
    {"role": "user", "content": "Thanks"}
  ])");
  // nlohmann::json keeps object keys sorted, so tojson prints them sorted.
  EXPECT_EQ(
      render({{"messages", messages}, {"tools", tools}, {"add_generation_prompt", true}}),
      "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist "
      "with the user query.\n\nYou are provided with function signatures within <tools></tools> "
      "XML tags:\n<tools>\n{\"function\": {\"description\": \"Get weather\", \"name\": "
      "\"get_weather\", \"parameters\": {\"properties\": {\"city\": {\"type\": \"string\"}}, "
      "\"required\": [\"city\"], \"type\": \"object\"}}, \"type\": \"function\"}\n</tools>\n\n"
      "For each function call, return a json object with function name and arguments within "
      "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
      "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in "
      "Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", "
      "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n"
      "<tool_response>\n18C sunny\n</tool_response>\n<tool_response>\nextra\n</tool_response>"
      "<|im_end|>\n<|im_start|>assistant\nIt is 18C and sunny.<|im_end|>\n<|im_start|>user\n"
      "Thanks<|im_end|>\n<|im_start|>assistant\n");
}

TEST_F(Qwen3Template, MultiStepToolCallKeepsThinking) {
  json messages = json::parse(R"([
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": "<think>\nNeed tool.\n</think>\n\n", "tool_calls": [
      {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
    {"role": "tool", "content": "5C"}
  ])");
  EXPECT_EQ(render({{"messages", messages}, {"add_generation_prompt", true}}),
            "<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\n<think>\nNeed tool.\n"
            "</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
            "\"Oslo\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n5C\n"
            "</tool_response><|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, ConcurrentRendersShareOneParsedTemplate) {
  ChatTemplate tmpl = parse_or_die(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
      "{{ m.content }}{% endfor %}:{{ ns.n }}");
  json ctx = {{"messages", json::array({{{"content", "a"}}, {{"content", "b"}}})}};
  std::vector<std::thread> threads;
  std::vector<std::string> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) {
        auto out = tmpl.render(ctx);
        results[i] = out.is_ok() ? *out : out.status().to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, "ab:2");
}

TEST(ChatTemplate, MoveKeepsTemplate) {
  ChatTemplate a = parse_or_die("x{{ 1 }}");
  ChatTemplate b = std::move(a);
  auto out = b.render(json::object());
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(*out, "x1");
}

}  // namespace
}  // namespace dkb::tokenizer
