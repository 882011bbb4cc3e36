// Synthetic models: random-weight GGUF files with the exact tensor shapes and type mix of
// real models, so performance can be measured without downloading weights.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor_type.h"

namespace dkb::cli {

// Known shapes: deepseek-r1-distill-qwen-1.5b, deepseek-r1-distill-qwen-7b, deepseek-v2-lite,
// tiny-qwen2 (for tests).
std::vector<std::string> synthetic_model_names();

// type: "f16", "q8_0", "q4_0", "q4_k_m" (Q4_K with Q6_K output/ffn_down as llama.cpp's mix),
// "q6_k". Writes path; returns kInvalidArgument for unknown names/types.
Status write_synthetic_model(const std::string& name, const std::string& type,
                             const std::string& path, uint64_t seed = 1);

}  // namespace dkb::cli
