#include "engine/model.h"

#include <filesystem>

namespace dkb::engine {

Result<std::shared_ptr<const Model>> Model::load(const std::string& path) {
  std::shared_ptr<Model> m(new Model());
  DKB_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path));
  m->file_ = std::make_unique<gguf::File>(std::move(file));
  auto hp = Hparams::from_gguf(*m->file_);
  if (!hp.is_ok()) return hp.status().with_context("model '" + path + "'");
  DKB_ASSIGN_OR_RETURN(ArchitectureFactory factory, find_architecture(hp->arch));
  auto arch = factory(*m->file_, *hp);
  if (!arch.is_ok()) return arch.status().with_context("model '" + path + "'");
  m->arch_ = std::move(arch).value();
  auto tok = tokenizer::Tokenizer::from_gguf(*m->file_);
  if (!tok.is_ok()) return tok.status().with_context("tokenizer of '" + path + "'");
  m->tokenizer_ = std::move(tok).value();
  m->chat_template_ = m->file_->get_string("tokenizer.chat_template");
  auto name = m->file_->get_string("general.name");
  m->name_ = name ? *name : std::filesystem::path(path).stem().string();
  return std::shared_ptr<const Model>(std::move(m));
}

}  // namespace dkb::engine
