#include "source_reader.h"

#include <fcntl.h>

#include "engine_error.h"

namespace snapkeep::engine {

SourceReader::SourceReader(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd >= 0) {
    direct_ = true;
  } else if (errno == EINVAL) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    EngineError e = SysFail(errno, "open", path);
    if (errno == ENOENT) e.code = "DEVICE_NOT_FOUND";
    throw e;
  }
  fd_ = Fd(fd);
  size_ = FileSize(fd_.get(), path);
  if (!direct_) posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
}

void SourceReader::Read(uint64_t off, size_t len, uint8_t* buf) const {
  size_t want = direct_ ? AlignUp(len) : len;
  size_t got = PreadFull(fd_.get(), buf, want, off, path_);
  if (got < len) {
    EngineError e("SOURCE_CHANGED", "source " + path_ + " ended at byte " +
                                        std::to_string(off + got) + ", expected " +
                                        std::to_string(off + len) + " (it shrank during the backup)");
    e.path = path_;
    throw e;
  }
}

}  // namespace snapkeep::engine
