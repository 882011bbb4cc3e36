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

namespace dkb::kb {

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual size_t dimension() const = 0;
  virtual size_t max_batch() const { return 32; }
  virtual Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) = 0;
};

}  // namespace dkb::kb
