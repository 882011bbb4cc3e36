#include "engine/context.h"

#include <algorithm>
#include <cmath>

namespace dkb::engine {

Context::Context(std::shared_ptr<const Model> model, ThreadPool& pool, ContextParams params)
    : model_(std::move(model)), pool_(pool), params_(params) {
  const Hparams& hp = model_->hparams();
  if (params_.n_ctx <= 0) params_.n_ctx = hp.n_ctx_train;
  params_.n_batch = std::clamp<int64_t>(params_.n_batch, 1, params_.n_ctx);
  const int64_t P = params_.page_size > 0 ? std::min(params_.page_size, params_.n_ctx) : params_.n_ctx;
  own_pool_ = std::make_unique<KvPool>(model_->arch().kv_shape().with_f16(params_.kv_f16),
                                       (params_.n_ctx + P - 1) / P, P);
  kv_ = std::make_unique<KvSequence>(*own_pool_);
  n_vocab_ = hp.n_vocab;
  work_.resize(model_->arch().workspace_floats(params_.n_batch, params_.n_ctx));
  positions_.reserve(params_.n_batch);
  logits_.resize(static_cast<size_t>(n_vocab_));
}

Context::Context(std::shared_ptr<const Model> model, ThreadPool& pool, ContextParams params,
                 KvPool& shared)
    : model_(std::move(model)), pool_(pool), params_(params) {
  if (params_.n_ctx <= 0) params_.n_ctx = shared.n_positions();
  params_.n_batch = std::clamp<int64_t>(params_.n_batch, 1, params_.n_ctx);
  params_.page_size = shared.page_size();
  kv_ = std::make_unique<KvSequence>(shared);
  n_vocab_ = model_->hparams().n_vocab;
  // Activations are allocated on first eval(): the scheduler evaluates through eval_batch.
  logits_.resize(static_cast<size_t>(n_vocab_));
}

int64_t Context::truncate(int64_t n) {
  n_past_ = kv_->truncate(std::clamp<int64_t>(n, 0, n_past_));
  return n_past_;
}

void Context::reset() {
  kv_->release();
  n_past_ = 0;
}

int64_t Context::start_from_prefix(std::span<const int32_t> tokens, int64_t max_reuse) {
  reset();
  n_past_ = kv_->attach_prefix(tokens, std::min(max_reuse, params_.n_ctx));
  return n_past_;
}

Status Context::check_tokens(std::span<const int32_t> tokens, int64_t n_past) const {
  if (tokens.empty()) return invalid_argument("eval of zero tokens");
  if (n_past + static_cast<int64_t>(tokens.size()) > params_.n_ctx) {
    return resource_exhausted("context full: " + std::to_string(n_past) + " + " +
                              std::to_string(tokens.size()) + " tokens exceed n_ctx " +
                              std::to_string(params_.n_ctx));
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= n_vocab_) {
      return invalid_argument("token id " + std::to_string(t) + " outside the vocabulary [0, " +
                              std::to_string(n_vocab_) + ")");
    }
  }
  return Status::ok();
}

Result<std::vector<float>> Context::embed(std::span<const int32_t> tokens, bool normalize) {
  DKB_ASSIGN_OR_RETURN(auto out, embed_batch({std::vector<int32_t>(tokens.begin(), tokens.end())}, normalize));
  return std::move(out[0]);
}

Result<std::vector<std::vector<float>>> Context::embed_batch(
    const std::vector<std::vector<int32_t>>& inputs, bool normalize) {
  const Architecture& arch = model_->arch();
  const int64_t dim = arch.embedding_dim();
  if (dim <= 0) return invalid_argument("model '" + model_->name() + "' is not an embedding model");
  for (const auto& in : inputs) DKB_RETURN_IF_ERROR(check_tokens(in, 0));
  std::vector<std::vector<float>> out;
  out.reserve(inputs.size());
  ForwardState st{&pool_, &matmul_, nullptr, &work_, &positions_, nullptr};
  std::vector<float> pooled;
  size_t i = 0;
  while (i < inputs.size()) {
    // Group inputs into one forward pass while their tokens fit n_batch (at least one input).
    size_t j = i;
    int64_t tokens = 0;
    while (j < inputs.size() && (j == i || tokens + static_cast<int64_t>(inputs[j].size()) <= params_.n_batch)) {
      tokens += static_cast<int64_t>(inputs[j].size());
      ++j;
    }
    pooled.assign(static_cast<size_t>((j - i) * dim), 0.0f);
    DKB_RETURN_IF_ERROR(arch.embed(st, std::span<const std::vector<int32_t>>(inputs.data() + i, j - i), pooled.data()));
    for (size_t k = 0; k < j - i; ++k) {
      std::vector<float> v(pooled.begin() + k * dim, pooled.begin() + (k + 1) * dim);
      if (normalize) {
        double sum = 0;
        for (float x : v) sum += static_cast<double>(x) * x;
        float inv = sum > 0 ? static_cast<float>(1.0 / std::sqrt(sum)) : 0.0f;
        for (float& x : v) x *= inv;
      }
      out.push_back(std::move(v));
    }
    i = j;
  }
  return out;
}

Status Context::eval_batch(std::span<Context* const> ctxs,
                           std::span<const std::span<const int32_t>> tokens, ThreadPool& pool,
                           BatchScratch& scratch) {
  if (ctxs.size() != tokens.size()) return invalid_argument("eval_batch: size mismatch");
  if (ctxs.empty()) return Status::ok();
  const Model& model = *ctxs[0]->model_;
  thread_local std::vector<SeqChunk> chunks;  // reused: no allocation per decode step
  chunks.clear();
  for (size_t i = 0; i < ctxs.size(); ++i) {
    Context& c = *ctxs[i];
    if (&*c.model_ != &model) return invalid_argument("eval_batch: contexts of different models");
    DKB_RETURN_IF_ERROR(c.check_tokens(tokens[i], c.n_past_));
  }
  // Pages first (a failure leaves every context at its position), then the views: reserving
  // never moves a page table's storage, which is sized for the whole pool.
  for (size_t i = 0; i < ctxs.size(); ++i) {
    Context& c = *ctxs[i];
    DKB_RETURN_IF_ERROR(c.kv_->reserve(c.n_past_ + static_cast<int64_t>(tokens[i].size())));
  }
  for (size_t i = 0; i < ctxs.size(); ++i) {
    Context& c = *ctxs[i];
    chunks.push_back({c.kv_->view(), tokens[i], c.n_past_, c.logits_.data()});
  }
  ForwardState st{&pool, &scratch.matmul, nullptr, &scratch.work, &scratch.positions, &scratch.logits};
  DKB_RETURN_IF_ERROR(model.arch().forward_batch(st, chunks));
  for (size_t i = 0; i < ctxs.size(); ++i) {
    ctxs[i]->n_past_ += static_cast<int64_t>(tokens[i].size());
    ctxs[i]->n_logits_ = 1;
  }
  return Status::ok();
}

Status Context::eval(std::span<const int32_t> tokens, bool all_logits) {
  DKB_RETURN_IF_ERROR(check_tokens(tokens, n_past_));
  int64_t n = static_cast<int64_t>(tokens.size());
  size_t need = static_cast<size_t>((all_logits ? n : 1) * n_vocab_);
  if (logits_.size() < need) logits_.resize(need);
  DKB_RETURN_IF_ERROR(kv_->reserve(n_past_ + n));
  const KvView view = kv_->view();
  ForwardState st{&pool_, &matmul_, &view, &work_, &positions_, nullptr};
  for (int64_t off = 0; off < n; off += params_.n_batch) {
    int64_t m = std::min(params_.n_batch, n - off);
    float* out = all_logits ? logits_.data() + off * n_vocab_ : logits_.data();
    // Without all_logits only the final chunk's last token needs logits; earlier chunks
    // still produce one row (into the same buffer) which the next chunk overwrites.
    Status s = model_->arch().forward(st, tokens.subspan(off, m), n_past_, all_logits, out);
    if (!s.is_ok()) return s;
    n_past_ += m;
  }
  n_logits_ = all_logits ? n : 1;
  return Status::ok();
}

}  // namespace dkb::engine
