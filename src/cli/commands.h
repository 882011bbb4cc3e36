// CLI subcommands. Each registers its options on a CLI11 subcommand and returns a runner
// that yields the process exit code (0 ok, 1 error, 2 usage).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace dkb::cli {

using Runner = std::function<int()>;

Runner add_run(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_info(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_logits(CLI::App& app);
Runner add_embed(CLI::App& app);
Runner add_serve(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_kb(CLI::App& app);
Runner add_ask(CLI::App& app);
Runner add_quantize(CLI::App& app);
Runner add_user(CLI::App& app);
Runner add_key(CLI::App& app);

// Prints "deepkb: <message>" to stderr and returns 1.
int fail(const std::string& message);

}  // namespace dkb::cli
