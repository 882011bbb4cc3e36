// Architecture: one model family's forward pass (models/<arch>.cpp), and their registry.
//
// An Architecture is built once per Model from its GGUF weights (immutable, shared by all
// contexts) and must be safe to call from several contexts at once as long as each call gets
// its own ForwardState. Registration happens from static initialisers in models/ via
// DKB_REGISTER_ARCHITECTURE; the registry is keyed by general.architecture.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace dkb::engine {

// Per-call mutable state, owned by a Context.
struct ForwardState {
  ThreadPool* pool = nullptr;
  kernels::MatmulScratch* matmul = nullptr;
  const KvView* kv = nullptr;         // the sequence's KV pages (forward)
  std::vector<float>* work = nullptr;  // activation arena, sized by workspace_floats()
  std::vector<int32_t>* positions = nullptr;
  std::vector<float>* batch_logits = nullptr;  // [n_chunks][n_vocab] for forward_batch
};

// One sequence's share of a batched forward pass: its tokens (at positions n_past ..), its
// KV pages (allocated up to n_past + tokens.size()), and where the logits of its last token go.
struct SeqChunk {
  KvView kv;
  std::span<const int32_t> tokens;
  int64_t n_past = 0;
  float* logits = nullptr;  // [n_vocab], last token of the chunk
};

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual const Hparams& hparams() const = 0;
  virtual KvShape kv_shape() const = 0;
  // Floats of scratch a forward over n_tokens tokens with n_ctx cache rows needs.
  virtual size_t workspace_floats(int64_t n_tokens, int64_t n_ctx) const = 0;
  // Evaluates tokens at positions n_past .. n_past+n-1, writing their K/V into st.kv's pages
  // (allocated by the caller up to n_past + n).
  // logits: [n_out][n_vocab] where n_out = n (all_logits) or 1 (last token only).
  virtual Status forward(ForwardState& st, std::span<const int32_t> tokens, int64_t n_past,
                         bool all_logits, float* logits) const = 0;

  // Evaluates several sequences in one pass so each weight is read once for all of them
  // (continuous batching). The default runs forward() per chunk.
  virtual Status forward_batch(ForwardState& st, std::span<const SeqChunk> chunks) const {
    for (const SeqChunk& c : chunks) {
      const KvView* saved = st.kv;
      st.kv = &c.kv;
      Status s = forward(st, c.tokens, c.n_past, false, c.logits);
      st.kv = saved;
      if (!s.is_ok()) return s;
    }
    return Status::ok();
  }

  // Embedding models: dimension of the pooled output (0 for generative models).
  virtual int64_t embedding_dim() const { return 0; }
  // Encodes several sequences in one forward pass (each non-causal with positions 0..n-1,
  // no cache; the matmuls run over all their tokens at once) and writes the pooled,
  // unnormalised embeddings [seqs.size()][embedding_dim()] to out.
  virtual Status embed(ForwardState& /*st*/, std::span<const std::vector<int32_t>> /*seqs*/,
                       float* /*out*/) const {
    return unimplemented("architecture '" + hparams().arch + "' does not produce embeddings");
  }
};

using ArchitectureFactory =
    std::function<Result<std::unique_ptr<Architecture>>(gguf::File&, Hparams)>;

void register_architecture(const std::string& name, ArchitectureFactory factory);
// Factory for name, or kUnimplemented listing the known architectures.
Result<ArchitectureFactory> find_architecture(const std::string& name);
std::vector<std::string> registered_architectures();

struct ArchitectureRegistrar {
  ArchitectureRegistrar(const std::string& name, ArchitectureFactory factory) {
    register_architecture(name, std::move(factory));
  }
};

}  // namespace dkb::engine

#define DKB_REGISTER_ARCHITECTURE(name, factory) \
  static ::dkb::engine::ArchitectureRegistrar DKB_CONCAT(dkb_arch_registrar_, __LINE__)(name, factory)
