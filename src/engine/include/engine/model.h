// Model: an opened GGUF model — immutable weights (a huge-page copy of the file, or the file
// mapped; LoadOptions::mmap), hyper-parameters, tokenizer and
// chat template — shared by every Context that runs it.
//
// Thread-safety: immutable after load(); share it through std::shared_ptr<const Model>.
// Errors: load() returns the GGUF reader's error, or kUnimplemented for an unknown
// architecture, or kInvalidArgument naming a missing/misshapen tensor or key; with
// LoadOptions::quantize also kFailedPrecondition for a file whose weights are already quantized
// to another type.
//
// Load-time quantization (LoadOptions::quantize, `--quantize q4_0`): before the architecture
// binds its weights, every tensor `deepkb quantize` would convert for that file type is
// quantized in memory (same type mix, same bytes as the file `deepkb quantize` writes, so the
// logits are identical to loading that file). The Model owns the new buffers; the file's
// TensorInfo (and so every engine::Weight) points at them, and the pages of the original F16
// weights are released from the resident set, so memory use is the quantized footprint plus
// the untouched float tensors (norms).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/architecture.h"
#include "engine/hparams.h"
#include "engine/quant_plan.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace dkb::engine {

struct LoadOptions {
  // Quantize float (F32/F16/BF16) weights in memory to this file type (any type `deepkb
  // quantize` accepts; q4_0 and q8_0 are the intended ones). nullopt: use the file as is.
  std::optional<FileType> quantize;
  // Threads for load-time quantization (0: all cores). A temporary pool, gone after load().
  int threads = 0;
  // Map the file (`--mmap`) instead of copying it into huge pages. By default the file is read
  // into anonymous memory on transparent huge pages (MappedFile::Backing::kHugePageCopy) when
  // the kernel offers them (decode streams every weight once per token, and 2 MiB pages made
  // that 16-20% faster here), and at the AVX-512 level also where it does not (4 KiB pages):
  // only the model's own copy can have its matrices reordered for the kernels
  // (WeightLoader::matrix, kernels::WeightLayout). Mapping starts faster and shares the page
  // cache between processes. With `quantize` the float file is always mapped (its pages are
  // released as they are quantized).
  bool mmap = false;
};

class Model {
 public:
  static Result<std::shared_ptr<const Model>> load(const std::string& path,
                                                   const LoadOptions& opts = {});

  const gguf::File& file() const { return *file_; }
  const Hparams& hparams() const { return arch_->hparams(); }
  const Architecture& arch() const { return *arch_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  // tokenizer.chat_template, if the file has one.
  const std::optional<std::string>& chat_template() const { return chat_template_; }
  const std::string& name() const { return name_; }
  // Bytes of weights quantized at load time and owned by the Model (0 without --quantize).
  size_t quantized_bytes() const { return quantized_bytes_; }

 private:
  Model() = default;
  std::unique_ptr<gguf::File> file_;
  // Load-time quantized tensors; file_'s TensorInfo::data points into them.
  std::vector<std::vector<uint8_t>> quantized_;
  size_t quantized_bytes_ = 0;
  std::unique_ptr<Architecture> arch_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::optional<std::string> chat_template_;
  std::string name_;
};

}  // namespace dkb::engine
