// ThreadPool: the persistent compute pool (DESIGN §3).
//
// run(fn) calls fn(ith, nth) once for every ith in [0, nth) and returns when all calls have
// finished; the calling thread does ith == 0, the pool's workers the rest. Workers spin for a
// short while after each job and then sleep, so back-to-back ops in a forward pass pay no
// thread wake-up, and an idle process burns no CPU.
//
// Thread-safety: run() may be called from several threads (one scheduler per model); calls
// are serialised, one op at a time. It must not be called re-entrantly from inside fn.
// fn must not throw (exceptions escaping a worker terminate the process).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dkb {

class ThreadPool {
 public:
  // n_threads >= 1 (total, including the caller). 0 means "physical cores" (see default_threads).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }
  void run(const std::function<void(int ith, int nth)>& fn);

  // Splits [0, n) into nth contiguous ranges; returns ith's [begin, end).
  static std::pair<int64_t, int64_t> split(int64_t n, int ith, int nth) {
    int64_t per = (n + nth - 1) / nth;
    int64_t b = std::min<int64_t>(n, per * ith);
    int64_t e = std::min<int64_t>(n, b + per);
    return {b, e};
  }

  // Number of hardware threads, at least 1.
  static int default_threads();

 private:
  void worker_loop(int ith);

  int n_threads_;
  std::mutex run_mu_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> remaining_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace dkb
