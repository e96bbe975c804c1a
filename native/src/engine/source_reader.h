// The read stage: opens a backup source (image file, block device,
// snapshot image device) with O_DIRECT so a full backup neither pollutes
// nor profits from the page cache, falling back to buffered reads where the
// file system refuses O_DIRECT (tmpfs). Reads are aligned to 4 KiB.
#pragma once

#include <cstdint>
#include <string>

#include "file_io.h"

namespace snapkeep::engine {

class SourceReader {
 public:
  explicit SourceReader(const std::string& path);
  uint64_t Size() const { return size_; }
  bool Direct() const { return direct_; }
  // Reads [off, off+len) into an aligned buffer with room for len rounded
  // up to 4 KiB. Throws SOURCE_CHANGED when the source ends early.
  void Read(uint64_t off, size_t len, uint8_t* buf) const;

 private:
  std::string path_;
  Fd fd_;
  uint64_t size_ = 0;
  bool direct_ = false;
};

constexpr size_t kDirectAlign = 4096;
inline size_t AlignUp(size_t v) { return (v + kDirectAlign - 1) & ~(kDirectAlign - 1); }

}  // namespace snapkeep::engine
