// RAII file descriptors and the few file operations every engine stage
// needs: full preads/pwrites that retry short transfers and aligned buffers
// for O_DIRECT. Files inside a repository are reached only through RepoDir
// (repo_dir.h), never by joined paths.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "bytes.h"

namespace snapkeep::engine {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void Reset();
  // Hands the descriptor over (to JavaScript, say); this no longer closes it.
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Opens or throws an EngineError with the errno's code.
Fd OpenOrThrow(const std::string& path, int flags, int mode = 0644);

// Reads until `len` bytes or end of file; returns the bytes read.
size_t PreadFull(int fd, uint8_t* buf, size_t len, uint64_t off, const std::string& path);
void PwriteFull(int fd, const uint8_t* buf, size_t len, uint64_t off, const std::string& path);
void FsyncOrThrow(int fd, const std::string& path);
uint64_t FileSize(int fd, const std::string& path);  // regular file or block device

std::string RandomHex(size_t bytes);

// A buffer aligned for O_DIRECT (4 KiB), owned by unique_ptr with free().
struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuf = std::unique_ptr<uint8_t, FreeDeleter>;
AlignedBuf AllocAligned(size_t len);

}  // namespace snapkeep::engine
