// Helpers for llama.cpp's tokenizer golden files (.inp strings / .out ids).
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace dkb::test {

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;
};

// .inp: strings each followed by "\n__ggml_vocab_test__\n"; .out: one line of ids per string.
inline std::vector<GoldenCase> read_golden(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = read_file(inp_path);
  const std::string out = read_file(out_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<GoldenCase> cases;
  size_t pos = 0;
  while (true) {
    const size_t e = inp.find(sep, pos);
    if (e == std::string::npos) break;
    cases.push_back(GoldenCase{inp.substr(pos, e - pos), {}});
    pos = e + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) c.ids.push_back(id);
  }
  return cases;
}

inline std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

inline std::string escape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '\n') o += "\\n";
    else if (c == '\t') o += "\\t";
    else if (c == '\r') o += "\\r";
    else o += static_cast<char>(c);
  }
  return o;
}

}  // namespace dkb::test
