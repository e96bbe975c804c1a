// A fixed-capacity queue between pipeline stages: producers block when it
// is full, which is what bounds the engine's memory whatever the device
// size. Close() wakes everyone; Pop() then drains what is left and
// returns false.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

namespace snapkeep::engine {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : cap_(capacity) {}

  // False when the queue was closed (the item is dropped).
  bool Push(T item) {
    std::unique_lock lock(mu_);
    notFull_.wait(lock, [&] { return closed_ || q_.size() < cap_; });
    if (closed_) return false;
    q_.push_back(std::move(item));
    notEmpty_.notify_one();
    return true;
  }

  bool Pop(T& out) {
    std::unique_lock lock(mu_);
    notEmpty_.wait(lock, [&] { return closed_ || !q_.empty(); });
    if (q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    notFull_.notify_one();
    return true;
  }

  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    notEmpty_.notify_all();
    notFull_.notify_all();
  }

 private:
  size_t cap_;
  std::mutex mu_;
  std::condition_variable notEmpty_, notFull_;
  std::deque<T> q_;
  bool closed_ = false;
};

}  // namespace snapkeep::engine
