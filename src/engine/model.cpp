#include "engine/model.h"

#include <filesystem>

#include "base/log.h"
#include "engine/quantize.h"
#include "kernels/kernels.h"

namespace dkb::engine {

Result<std::shared_ptr<const Model>> Model::load(const std::string& path,
                                                const LoadOptions& opts) {
  std::shared_ptr<Model> m(new Model());
  // Copy unless mapping was asked for: on huge pages where the kernel offers them, and also on
  // 4 KiB pages at the AVX-512 level, where the copy lets the matrices be reordered for the
  // kernels (WeightLoader::matrix; a file map is read-only).
  const bool copy = !opts.mmap && !opts.quantize &&
                    (HugePageBuffer::available() || kernels::active_isa() == kernels::Isa::kAvx512);
  DKB_ASSIGN_OR_RETURN(gguf::File file,
                       gguf::File::open(path, Limits::defaults(),
                                        copy ? MappedFile::Backing::kHugePageCopy
                                             : MappedFile::Backing::kFileMap));
  m->file_ = std::make_unique<gguf::File>(std::move(file));
  if (opts.quantize) {
    auto rep = quantize_in_memory(*m->file_, *opts.quantize, opts.threads, m->quantized_);
    if (!rep.is_ok()) return rep.status().with_context("model '" + path + "'");
    for (const auto& t : rep->tensors) m->quantized_bytes_ += t.converted ? t.bytes_out : 0;
    log::info("model '{}': quantized {} tensors to {} at load: {:.2f} MiB -> {:.2f} MiB", path,
              rep->n_converted, file_type_name(*opts.quantize),
              static_cast<double>(rep->tensor_bytes_in) / 1048576.0,
              static_cast<double>(rep->tensor_bytes_out) / 1048576.0);
  }
  auto hp = Hparams::from_gguf(*m->file_);
  if (!hp.is_ok()) return hp.status().with_context("model '" + path + "'");
  DKB_ASSIGN_OR_RETURN(ArchitectureFactory factory, find_architecture(hp->arch));
  // The architecture binds its weights; matrices may be reordered in place for the kernels
  // (WeightLoader::matrix), after which the huge-page copy is made read-only again.
  auto arch = factory(*m->file_, *hp);
  m->file_->seal();
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
