// llama architecture: DeepSeek-R1-Distill-Llama, DeepSeek-LLM, DeepSeek-Coder, TinyLlama...
// GGUF converters permute Q/K so the normal (interleaved-pair) RoPE applies.
#include "decoder.h"

namespace dkb::models {
namespace {

Result<std::unique_ptr<engine::Architecture>> make_llama(gguf::File& f, engine::Hparams hp) {
  return Decoder::create(f, std::move(hp), DecoderOptions{.rope_neox = false});
}

DKB_REGISTER_ARCHITECTURE("llama", make_llama);

}  // namespace
}  // namespace dkb::models
