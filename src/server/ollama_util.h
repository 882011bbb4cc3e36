// Pieces shared by the Ollama route files (ollama_routes.cpp, ollama_info_routes.cpp).
#pragma once

#include <string>

#include "route_util.h"

namespace dkb::server {

// Ollama's "details" object of a model: format, family, families, parameter_size
// ("1.5B", "260K"), quantization_level (the type of blk.0.attn_v.weight, upper case: "Q4_0"), parent_model.
json ollama_model_details(const ModelEntry& m);
// The model file's modification time in RFC 3339 (UTC), as Ollama's modified_at.
std::string ollama_modified_at(const ModelEntry& m);

}  // namespace dkb::server
