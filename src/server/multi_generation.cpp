// run_generations_streaming (route_util.h): several sequences of one request (OpenAI's n)
// streamed through one connection thread.
#include <optional>

#include "route_util.h"

namespace dkb::server {

std::vector<Result<engine::GenerationEvent>> run_generations_streaming(
    engine::Scheduler& sched, std::vector<engine::GenerationRequest> reqs,
    const std::function<bool(size_t, const engine::GenerationEvent&)>& on_event) {
  struct Tagged {
    size_t i;
    engine::GenerationEvent ev;
  };
  struct Channel {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Tagged> q;
  };
  auto ch = std::make_shared<Channel>();
  std::vector<std::optional<Result<engine::GenerationEvent>>> out(reqs.size());
  std::vector<std::shared_ptr<std::atomic<bool>>> cancels;
  size_t pending = 0;
  bool failed = false;
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (failed) {
      out[i].emplace(cancelled("another choice of this request could not start"));
      continue;
    }
    reqs[i].cancel = std::make_shared<std::atomic<bool>>(false);
    cancels.push_back(reqs[i].cancel);
    reqs[i].on_event = [ch, i](engine::GenerationEvent&& ev) {
      std::lock_guard<std::mutex> lock(ch->mu);
      ch->q.push_back({i, std::move(ev)});
      ch->cv.notify_one();
    };
    Status s = sched.submit(std::move(reqs[i]));
    if (s.is_ok()) {
      ++pending;
    } else {
      out[i].emplace(s);
      failed = true;
    }
  }
  auto cancel_all = [&] {
    for (auto& c : cancels) c->store(true);
  };
  if (failed) cancel_all();
  bool stopped = failed;
  while (pending > 0) {
    std::unique_lock<std::mutex> lock(ch->mu);
    if (!ch->cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return !ch->q.empty(); })) {
      lock.unlock();
      if (!stopped && current_client_gone()) {
        stopped = true;
        cancel_all();
      }
      continue;
    }
    Tagged t = std::move(ch->q.front());
    ch->q.pop_front();
    lock.unlock();
    using Kind = engine::GenerationEvent::Kind;
    if (!stopped && t.ev.kind != Kind::kError && !on_event(t.i, t.ev)) {
      stopped = true;
      cancel_all();
    }
    if (t.ev.kind == Kind::kText) continue;
    if (t.ev.kind == Kind::kDone) out[t.i].emplace(std::move(t.ev));
    else out[t.i].emplace(t.ev.error);
    --pending;
  }
  std::vector<Result<engine::GenerationEvent>> results;
  for (auto& o : out) results.push_back(std::move(*o));
  return results;
}

}  // namespace dkb::server
