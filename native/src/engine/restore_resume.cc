#include "restore_resume.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "engine_error.h"
#include "file_io.h"

namespace snapkeep::engine {
namespace {

constexpr char kMagic[8] = {'S', 'K', 'R', 'E', 'S', 'U', 'M', 'E'};
constexpr uint32_t kVersion = 1;
constexpr size_t kMaxKey = 4096;
constexpr size_t kHash = 32;
// A checkpoint at most every 2 s or 256 MiB: a kill loses at most that.
constexpr int64_t kIntervalNs = 2'000'000'000;
constexpr uint64_t kBytes = 256ull << 20;

void PutU32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; i++) s.push_back(static_cast<char>(v >> (8 * i)));
}
void PutU64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; i++) s.push_back(static_cast<char>(v >> (8 * i)));
}
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
uint64_t GetLe(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

}  // namespace

RestoreResume::RestoreResume(std::string path, std::string key, uint64_t first, uint64_t count, uint64_t everyBytes)
    : path_(std::move(path)), key_(std::move(key)), first_(first), count_(count), nWords_((count + 63) / 64),
      everyBytes_(everyBytes ? everyBytes : kBytes),
      words_(new std::atomic<uint64_t>[nWords_ ? nWords_ : 1]()), lastNs_(NowNs()) {
  if (key_.size() > kMaxKey) throw EngineError("INVALID_ARGUMENT", "resume key is too long");
  if (Enabled()) Load();
}

// The file is the service's own, but it may be left over from another
// version or torn by a crash before its rename: anything that does not
// check out is ignored (a fresh restore), never trusted in part.
void RestoreResume::Load() {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno != ENOENT) ignored_ = std::string("cannot read the resume file: ") + std::strerror(errno);
    return;
  }
  Fd f(fd);
  const uint64_t want = sizeof kMagic + 8 + key_.size() + 16 + nWords_ * 8 + kHash;
  struct stat st;
  if (::fstat(f.get(), &st) < 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != want) {
    ignored_ = "the resume file belongs to another restore";
    return;
  }
  std::vector<uint8_t> b(want);
  if (PreadFull(f.get(), b.data(), b.size(), 0, path_) != b.size()) {
    ignored_ = "the resume file is short";
    return;
  }
  uint8_t h[kHash];
  crypto_generichash(h, kHash, b.data(), b.size() - kHash, nullptr, 0);
  const uint8_t* p = b.data();
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0 || GetLe(p + 8, 4) != kVersion ||
      sodium_memcmp(h, b.data() + b.size() - kHash, kHash) != 0) {
    ignored_ = "the resume file is damaged";
    return;
  }
  p += 12;
  if (GetLe(p, 4) != key_.size() || std::memcmp(p + 4, key_.data(), key_.size()) != 0) {
    ignored_ = "the resume file belongs to another restore";
    return;
  }
  p += 4 + key_.size();
  if (GetLe(p, 8) != first_ || GetLe(p + 8, 8) != count_) {
    ignored_ = "the resume file belongs to another restore";
    return;
  }
  p += 16;
  for (uint64_t w = 0; w < nWords_; w++) {
    uint64_t v = GetLe(p + 8 * w, 8);
    // Bits past the last chunk mean the file was not written by us.
    if (w == nWords_ - 1 && count_ % 64 != 0 && (v >> (count_ % 64)) != 0) {
      for (uint64_t i = 0; i < w; i++) words_[i].store(0, std::memory_order_relaxed);
      loaded_ = 0;
      ignored_ = "the resume file is damaged";
      return;
    }
    words_[w].store(v, std::memory_order_relaxed);
    loaded_ += static_cast<uint64_t>(__builtin_popcountll(v));
  }
}

std::vector<uint64_t> RestoreResume::Sample(size_t n) const {
  std::vector<uint64_t> out;
  if (loaded_ == 0 || n == 0) return out;
  // Every (loaded_/n)-th chunk named, counted in order, then the last.
  const uint64_t step = loaded_ > n ? loaded_ / n : 1;
  uint64_t seen = 0, last = 0;
  for (uint64_t i = 0; i < count_; i++) {
    if (!((words_[i / 64].load(std::memory_order_relaxed) >> (i % 64)) & 1)) continue;
    if (seen % step == 0 && out.size() + 1 < n) out.push_back(first_ + i);
    last = first_ + i;
    seen++;
  }
  if (out.empty() || out.back() != last) out.push_back(last);
  return out;
}

void RestoreResume::Forget(std::string why) {
  for (uint64_t w = 0; w < nWords_; w++) words_[w].store(0, std::memory_order_relaxed);
  loaded_ = 0;
  ignored_ = std::move(why);
}

bool RestoreResume::Done(uint64_t chunk) const {
  if (!Enabled()) return false;
  uint64_t i = chunk - first_;
  return (words_[i / 64].load(std::memory_order_relaxed) >> (i % 64)) & 1;
}

void RestoreResume::Mark(uint64_t chunk) {
  if (!Enabled()) return;
  uint64_t i = chunk - first_;
  // Release: a checkpoint that sees the bit sees a write that returned.
  words_[i / 64].fetch_or(1ull << (i % 64), std::memory_order_release);
}

void RestoreResume::MaybeCheckpoint(int targetFd, const std::string& target, uint64_t bytes) {
  if (!Enabled()) return;
  uint64_t since = bytesSince_.fetch_add(bytes) + bytes;
  if (since < everyBytes_ && NowNs() - lastNs_.load(std::memory_order_relaxed) < kIntervalNs) return;
  std::unique_lock<std::mutex> l(checkpointing_, std::try_to_lock);
  if (!l.owns_lock()) return;
  bytesSince_.store(0);
  lastNs_.store(NowNs(), std::memory_order_relaxed);
  l.unlock();
  Checkpoint(targetFd, target);
}

std::string RestoreResume::Encode(const std::unique_ptr<uint64_t[]>& words) const {
  std::string s(kMagic, sizeof kMagic);
  PutU32(s, kVersion);
  PutU32(s, static_cast<uint32_t>(key_.size()));
  s += key_;
  PutU64(s, first_);
  PutU64(s, count_);
  for (uint64_t w = 0; w < nWords_; w++) PutU64(s, words[w]);
  uint8_t h[kHash];
  crypto_generichash(h, kHash, reinterpret_cast<const uint8_t*>(s.data()), s.size(), nullptr, 0);
  s.append(reinterpret_cast<const char*>(h), kHash);
  return s;
}

void RestoreResume::Checkpoint(int targetFd, const std::string& target) {
  if (!Enabled()) return;
  std::lock_guard<std::mutex> l(checkpointing_);
  std::unique_ptr<uint64_t[]> snap(new uint64_t[nWords_ ? nWords_ : 1]);
  for (uint64_t w = 0; w < nWords_; w++) snap[w] = words_[w].load(std::memory_order_acquire);
  // Only what is durable on the target may be named in the file.
  if (::fdatasync(targetFd) < 0) throw SysFail(errno, "fdatasync", target);
  std::string bytes = Encode(snap);
  std::string tmp = path_ + ".tmp";
  {
    Fd f = OpenOrThrow(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    PwriteFull(f.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0, tmp);
    FsyncOrThrow(f.get(), tmp);
  }
  if (::rename(tmp.c_str(), path_.c_str()) < 0) throw SysFail(errno, "rename", path_);
  std::string dir = path_.substr(0, path_.find_last_of('/') == std::string::npos ? 0 : path_.find_last_of('/'));
  if (dir.empty()) dir = ".";
  Fd d = OpenOrThrow(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FsyncOrThrow(d.get(), dir);
}

}  // namespace snapkeep::engine
