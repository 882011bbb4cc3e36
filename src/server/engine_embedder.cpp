#include "server/engine_embedder.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace dkb::server {

Result<std::vector<std::vector<float>>> EngineEmbedder::embed(std::span<const std::string> texts) {
  engine::EmbeddingRequest req;
  const int64_t n_ctx = scheduler_.n_ctx();
  for (const std::string& t : texts) {
    auto ids = model_->tokenizer().encode(t, {.add_special = true, .parse_special = false});
    if (ids.empty()) return invalid_argument("cannot embed an empty text");
    if (static_cast<int64_t>(ids.size()) > n_ctx) {
      int32_t last = ids.back();
      ids.resize(static_cast<size_t>(n_ctx));
      ids.back() = last;
    }
    req.inputs.push_back(std::move(ids));
  }
  req.normalize = true;
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<std::vector<std::vector<float>>>> result;
  };
  auto w = std::make_shared<Wait>();
  req.on_done = [w](Result<std::vector<std::vector<float>>>&& r) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->result.emplace(std::move(r));
    w->cv.notify_all();
  };
  DKB_RETURN_IF_ERROR(scheduler_.submit(std::move(req)));
  std::unique_lock<std::mutex> lock(w->mu);
  w->cv.wait(lock, [&] { return w->result.has_value(); });
  return std::move(*w->result);
}

kb::TokenCounter EngineEmbedder::token_counter() const {
  std::shared_ptr<const engine::Model> model = model_;
  return [model](std::string_view text) {
    return model->tokenizer().encode(text, {.add_special = false, .parse_special = false}).size();
  };
}

size_t EngineEmbedder::max_input_tokens() const {
  const auto& tok = model_->tokenizer();
  const size_t with = tok.encode("a", {.add_special = true, .parse_special = false}).size();
  const size_t without = tok.encode("a", {.add_special = false, .parse_special = false}).size();
  const size_t specials = with > without ? with - without : 0;
  const auto n_ctx = static_cast<size_t>(std::max<int64_t>(scheduler_.n_ctx(), 0));
  return n_ctx > specials ? n_ctx - specials : 0;
}

}  // namespace dkb::server
