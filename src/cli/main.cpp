// deepkb: command-line entry point.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>

#include "base/log.h"
#include "commands.h"

namespace dkb::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "deepkb: %s\n", message.c_str());
  return 1;
}

}  // namespace dkb::cli

int main(int argc, char** argv) {
  using namespace dkb::cli;
  CLI::App app{"deepkb — DeepSeek-family models and private knowledge bases on your own hardware"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  std::map<CLI::App*, Runner> runners;
  auto add = [&](const char* name, const char* help, Runner (*fn)(CLI::App&)) {
    CLI::App* sub = app.add_subcommand(name, help);
    runners[sub] = fn(*sub);
  };
  add("serve", "serve models over HTTP (OpenAI, DeepSeek, Ollama APIs)", add_serve);
  add("bench", "measure prefill/decode speed (llama-bench formats); write synthetic models", add_bench);
  add("kb", "manage knowledge bases on a running server (create, list, add, search, rm, grant, revoke)", add_kb);
  add("user", "manage users on a running server (add, list, rm, passwd)", add_user);
  add("key", "manage API keys on a running server (create, list, revoke)", add_key);
  add("ask", "ask a question of a knowledge base on a running server; prints the sources", add_ask);
  add("quantize", "convert a GGUF model to a quantized type (llama-quantize's type mix)",
      add_quantize);
  add("run", "generate text from a prompt", add_run);
  add("chat", "interactive chat using the model's chat template", add_chat);
  add("info", "show a GGUF model's architecture, shapes, tensor types, vocab and template",
      add_info);
  add("tokenize", "print token ids and pieces of a text", add_tokenize);
  add("embed", "print embeddings of texts as JSON (embedding models)", add_embed);
  add("logits", "print teacher-forced logits for every position as JSON", add_logits);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  dkb::log::set_level(log_level.c_str());
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  return 2;
}
