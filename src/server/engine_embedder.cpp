#include "server/engine_embedder.h"

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

}  // namespace dkb::server
