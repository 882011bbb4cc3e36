// kb::Embedder: the only way kb obtains embeddings (DESIGN §2 — kb never depends on engine).
//
// The engine's embedding model implements this in a higher layer; tests use a deterministic
// fake. Contract:
//  - embed() returns one vector of dimension() floats per input text, in input order, or an
//    error for the whole batch (nothing partial). Callers pass at most max_batch() texts.
//  - Implementations must be safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "kb/chunker.h"

namespace dkb::kb {

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual size_t dimension() const = 0;
  virtual size_t max_batch() const { return 32; }
  virtual Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) = 0;
  // Counts tokens as this embedder's model does, without special tokens: what chunk budgets
  // are measured in (kb::Ingestor). Null when the embedder has no tokenizer; chunking then
  // uses approx_token_count. The counter must be callable from several threads at once.
  virtual TokenCounter token_counter() const { return nullptr; }
  // Tokens (without special ones) one text may have before embed() truncates it; 0 = unknown.
  virtual size_t max_input_tokens() const { return 0; }
};

}  // namespace dkb::kb
