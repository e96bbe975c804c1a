// Resumable restores: which chunks of a restore are on the target for
// sure, kept in a small file outside the repository (the service's state
// directory) so a restore stopped by a kill, a power cut or an unplugged
// target starts again where it stopped instead of from zero.
//
// A chunk is marked after its write returned; a checkpoint copies the
// marks, then fdatasyncs the target, then replaces the file (tmp, fsync,
// rename): every chunk the file names was durable before the file was
// written. The file carries a key (the point, the range and the target's
// identity, chosen by the caller): a file of another restore is ignored.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace snapkeep::engine {

class RestoreResume {
 public:
  // Disabled when `path` is empty. Loads the file when it exists and its
  // key, first chunk and count match; otherwise starts with nothing done
  // and says why in IgnoredReason().
  // `everyBytes`: a checkpoint after that many bytes (0: the default).
  RestoreResume(std::string path, std::string key, uint64_t first, uint64_t count, uint64_t everyBytes = 0);

  bool Enabled() const { return !path_.empty(); }
  // Chunks the loaded file named as restored.
  uint64_t LoadedChunks() const { return loaded_; }
  const std::string& IgnoredReason() const { return ignored_; }

  bool Done(uint64_t chunk) const;
  // Up to `n` chunks the loaded file names, spread over them, the highest
  // always among them (what a wrong target is most likely to lack).
  std::vector<uint64_t> Sample(size_t n) const;
  // Drops what was loaded (a fresh restore) and says why.
  void Forget(std::string why);
  void Mark(uint64_t chunk);
  // A checkpoint when enough time or bytes passed since the last; one
  // thread at a time, the others go on.
  void MaybeCheckpoint(int targetFd, const std::string& target, uint64_t bytes);
  void Checkpoint(int targetFd, const std::string& target);

 private:
  void Load();
  std::string Encode(const std::unique_ptr<uint64_t[]>& words) const;

  std::string path_, key_;
  uint64_t first_, count_, nWords_, everyBytes_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
  uint64_t loaded_ = 0;
  std::string ignored_;
  std::mutex checkpointing_;
  std::atomic<int64_t> lastNs_;
  std::atomic<uint64_t> bytesSince_{0};
};

}  // namespace snapkeep::engine
