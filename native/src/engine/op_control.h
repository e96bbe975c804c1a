// What every long operation shares between its worker threads and the
// thread that reports to JavaScript: the cancel flag (set from JS), the
// byte counters for progress, and the first error (later errors are
// consequences of the first and would only hide it).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine_error.h"

namespace snapkeep::engine {

using CancelFlag = std::shared_ptr<std::atomic<bool>>;
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

class OpControl {
 public:
  OpControl(CancelFlag cancel, ProgressFn progress)
      : cancel_(std::move(cancel)), progress_(std::move(progress)) {}

  std::atomic<uint64_t> done{0};
  uint64_t total = 0;

  // True when workers must stop: cancelled by the user or failed elsewhere.
  bool Stopping() const { return failed_.load() || (cancel_ && cancel_->load()); }
  void CheckCancel() const {
    if (cancel_ && cancel_->load()) throw EngineError("CANCELLED", "cancelled");
  }

  // Records the first failure; every later one is dropped.
  void Fail(std::exception_ptr e) {
    std::lock_guard lock(mu_);
    if (!first_) first_ = e;
    failed_ = true;
  }
  bool Failed() const { return failed_.load(); }
  void RethrowFirst() {
    std::lock_guard lock(mu_);
    if (first_) std::rethrow_exception(first_);
  }

  // Runs `n` workers of `fn` and reports progress every 200 ms until all
  // finish; a worker's exception stops the others through Stopping().
  void RunWorkers(int n, const std::function<void()>& fn) {
    std::atomic<int> running{n};
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (int i = 0; i < n; i++)
      threads.emplace_back([&] {
        try {
          fn();
        } catch (...) {
          Fail(std::current_exception());
        }
        running--;
      });
    while (running.load() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      auto now = std::chrono::steady_clock::now();
      if (progress_ && now - lastReport_ > std::chrono::milliseconds(200)) {
        lastReport_ = now;
        progress_(done.load(), total);
      }
    }
    for (auto& t : threads) t.join();
  }
  void ReportFinal() {
    if (progress_) progress_(done.load(), total);
  }

 private:
  CancelFlag cancel_;
  ProgressFn progress_;
  std::mutex mu_;
  std::exception_ptr first_;
  std::atomic<bool> failed_{false};
  std::chrono::steady_clock::time_point lastReport_{};
};

// Workers for CPU stages: every core, plus one so a read in flight never
// leaves a core idle.
inline int DefaultThreads() {
  unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::max(2u, hw) + 1);
}

}  // namespace snapkeep::engine
