// Test helper: collects a scheduler request's streamed text and waits for its final event.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include "engine/scheduler.h"

namespace dkb::engine::test_support {

struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::string text;
  bool done = false;
  GenerationEvent final_event;
  void on_event(GenerationEvent&& ev) {
    std::lock_guard<std::mutex> lock(mu);
    if (ev.kind == GenerationEvent::Kind::kText) {
      text += ev.text;
      return;
    }
    final_event = std::move(ev);
    done = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
};

}  // namespace dkb::engine::test_support
