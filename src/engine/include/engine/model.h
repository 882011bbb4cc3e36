// Model: an opened GGUF model — immutable weights (mmap'd), hyper-parameters, tokenizer and
// chat template — shared by every Context that runs it.
//
// Thread-safety: immutable after load(); share it through std::shared_ptr<const Model>.
// Errors: load() returns the GGUF reader's error, or kUnimplemented for an unknown
// architecture, or kInvalidArgument naming a missing/misshapen tensor or key.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/architecture.h"
#include "engine/hparams.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace dkb::engine {

class Model {
 public:
  static Result<std::shared_ptr<const Model>> load(const std::string& path);

  const gguf::File& file() const { return *file_; }
  const Hparams& hparams() const { return arch_->hparams(); }
  const Architecture& arch() const { return *arch_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  // tokenizer.chat_template, if the file has one.
  const std::optional<std::string>& chat_template() const { return chat_template_; }
  const std::string& name() const { return name_; }

 private:
  Model() = default;
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<Architecture> arch_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::optional<std::string> chat_template_;
  std::string name_;
};

}  // namespace dkb::engine
