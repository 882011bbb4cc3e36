// Runs the real deepkb binary (DKB_BINARY, defined for CLI/e2e test targets) with shell
// arguments and captures its output and exit status, for CLI tests.
#pragma once

#include <array>
#include <cstdio>
#include <string>

namespace dkb::test {

struct CliOutput {
  std::string out;  // stdout, plus stderr when run with Stderr::kMerge
  int status = -1;  // pclose() status; -1 when the command could not start
};

enum class Stderr { kDiscard, kMerge };

// `deepkb ARGS`; args are pasted into a shell command line (quote paths with shell_quote).
inline CliOutput run_deepkb(const std::string& args, Stderr err = Stderr::kMerge) {
  const std::string cmd = std::string(DKB_BINARY) + " " + args +
                          (err == Stderr::kMerge ? " 2>&1" : " 2>/dev/null");
  CliOutput o;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return o;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) o.out.append(buf.data(), n);
  o.status = pclose(p);
  return o;
}

// Single-quotes s for the shell (s must not contain a single quote).
inline std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace dkb::test
