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

void FsyncDir(const std::string& dir) {
  Fd d = OpenOrThrow(dir, O_RDONLY | O_DIRECTORY);
  FsyncOrThrow(d.get(), dir);
}

void MkdirP(const std::string& dir) {
  if (dir.empty()) return;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) return;
  auto slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) MkdirP(dir.substr(0, slash));
  if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) throw SysFail(errno, "mkdir", dir);
}

void WriteFileAtomic(const std::string& dir, const std::string& name, const Bytes& data) {
  MkdirP(dir);
  std::string tmp = dir + "/." + name + ".tmp-" + RandomHex(6);
  std::string dst = dir + "/" + name;
  {
    Fd f = OpenOrThrow(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    try {
      PwriteFull(f.get(), data.data(), data.size(), 0, tmp);
      FsyncOrThrow(f.get(), tmp);
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), dst.c_str()) < 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw SysFail(e, "rename", dst);
  }
  FsyncDir(dir);
}

Bytes ReadWholeFile(const std::string& path) {
  Fd f = OpenOrThrow(path, O_RDONLY);
  uint64_t size = FileSize(f.get(), path);
  Bytes out(size);
  size_t n = PreadFull(f.get(), out.data(), out.size(), 0, path);
  out.resize(n);
  return out;
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
