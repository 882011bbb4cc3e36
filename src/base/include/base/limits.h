// Limits: every bound on untrusted input, in one place (DESIGN §4).
//
// Readers of files and requests take a `const Limits&` and reject input past a bound with
// kInvalidArgument/kCorruption naming the limit. Defaults are generous for real models and
// documents while keeping a malicious input from exhausting memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dkb {

struct Limits {
  // GGUF
  uint64_t gguf_max_tensors = 1u << 20;          // tensor directory entries
  uint64_t gguf_max_kv = 1u << 20;               // metadata key/value pairs
  uint64_t gguf_max_string_bytes = 64u << 20;    // one metadata string (chat templates are big)
  uint64_t gguf_max_array_elements = 1u << 22;   // vocabularies and merges reach ~10^6
  uint32_t gguf_max_dims = 4;
  uint64_t gguf_max_alignment = 1u << 16;

  // Text
  size_t max_prompt_bytes = 8u << 20;
  size_t max_template_bytes = 1u << 20;

  static const Limits& defaults() {
    static const Limits kDefaults;
    return kDefaults;
  }
};

}  // namespace dkb
