// qwen2 architecture: DeepSeek-R1-Distill-Qwen (1.5B … 32B). Same decoder as llama with
// Q/K/V biases and NeoX-style RoPE.
#include "decoder.h"

namespace dkb::models {
namespace {

Result<std::unique_ptr<engine::Architecture>> make_qwen2(gguf::File& f, engine::Hparams hp) {
  return Decoder::create(f, std::move(hp), DecoderOptions{.rope_neox = true});
}

DKB_REGISTER_ARCHITECTURE("qwen2", make_qwen2);

}  // namespace
}  // namespace dkb::models
