#include "file_io.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sodium.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "engine_error.h"

namespace snapkeep::engine {

void Fd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Fd OpenOrThrow(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw SysFail(errno, "open", path);
  return Fd(fd);
}

size_t PreadFull(int fd, uint8_t* buf, size_t len, uint64_t off, const std::string& path) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, buf + done, len - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SysFail(errno, "pread", path);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

void PwriteFull(int fd, const uint8_t* buf, size_t len, uint64_t off, const std::string& path) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pwrite(fd, buf + done, len - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SysFail(errno, "pwrite", path);
    }
    if (n == 0) throw SysFail(EIO, "pwrite", path);
    done += static_cast<size_t>(n);
  }
}

void FsyncOrThrow(int fd, const std::string& path) {
  if (::fsync(fd) < 0) throw SysFail(errno, "fsync", path);
}

uint64_t FileSize(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) < 0) throw SysFail(errno, "fstat", path);
  if (S_ISBLK(st.st_mode)) {
    uint64_t size = 0;
    if (::ioctl(fd, BLKGETSIZE64, &size) < 0) throw SysFail(errno, "ioctl(BLKGETSIZE64)", path);
    return size;
  }
  return static_cast<uint64_t>(st.st_size);
}

std::string RandomHex(size_t bytes) {
  Bytes b(bytes);
  randombytes_buf(b.data(), b.size());
  return Hex(b.data(), b.size());
}

AlignedBuf AllocAligned(size_t len) {
  void* p = nullptr;
  if (posix_memalign(&p, 4096, len == 0 ? 4096 : len) != 0) throw std::bad_alloc();
  return AlignedBuf(static_cast<uint8_t*>(p));
}

}  // namespace snapkeep::engine
