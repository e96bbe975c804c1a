// Open-addressing hash tables keyed by fixed-size random byte strings
// (chunk ids, pack ids): one flat array, linear probing, no allocation per
// entry. The keys are keyed hashes or random, so their first 8 bytes are
// the hash. An all-zero key marks an empty slot: the zero chunk id is never
// stored and pack ids are random. Not thread-safe; callers lock.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace snapkeep::engine {

template <size_t N, typename V>
class FlatMap {
 public:
  using Key = std::array<uint8_t, N>;

  // Inserts when absent; returns the value slot and whether it was new.
  std::pair<V*, bool> Insert(const Key& k, const V& v) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    size_t i = Find(k);
    if (!IsEmpty(slots_[i].key)) return {&slots_[i].value, false};
    slots_[i].key = k;
    slots_[i].value = v;
    size_++;
    return {&slots_[i].value, true};
  }
  const V* Get(const Key& k) const {
    if (slots_.empty()) return nullptr;
    const Slot& s = slots_[Find(k)];
    return IsEmpty(s.key) ? nullptr : &s.value;
  }
  size_t Size() const { return size_; }
  void Clear() {
    std::vector<Slot>().swap(slots_);
    size_ = 0;
  }
  template <typename F>
  void ForEach(F fn) const {
    for (const Slot& s : slots_)
      if (!IsEmpty(s.key)) fn(s.key, s.value);
  }

 private:
  struct Slot {
    Key key{};
    V value{};
  };
  static bool IsEmpty(const Key& k) {
    for (uint8_t b : k)
      if (b) return false;
    return true;
  }
  static uint64_t Hash(const Key& k) {
    uint64_t v;
    std::memcpy(&v, k.data(), sizeof v);
    return v;
  }
  // The slot holding k, or the empty slot where it would go.
  size_t Find(const Key& k) const {
    size_t mask = slots_.size() - 1;
    for (size_t i = Hash(k) & mask;; i = (i + 1) & mask)
      if (IsEmpty(slots_[i].key) || slots_[i].key == k) return i;
  }
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.empty() ? 64 : old.size() * 2);
    size_ = 0;
    for (const Slot& s : old)
      if (!IsEmpty(s.key)) Insert(s.key, s.value);
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

struct Unit {};
template <size_t N>
using FlatSet = FlatMap<N, Unit>;

}  // namespace snapkeep::engine
