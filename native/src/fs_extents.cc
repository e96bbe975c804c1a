#include "fs_extents.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"

namespace snapkeep {
namespace {

// Closes a descriptor on every path out of a worker.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Extent {
  uint64_t logical;
  uint64_t physical;
  uint64_t length;
  uint32_t flags;
};

// A worker that reports a SysError (errno name and all) instead of a plain
// message; Execute() only fills `err_` and calls SetError().
class SysWorker : public Napi::AsyncWorker {
 public:
  explicit SysWorker(Napi::Env env)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Fail(int errnum, const char* syscall, const std::string& what) {
    err_ = SysError{errnum, syscall, what + ": " + strerror(errnum)};
    SetError(err_.message);
  }
  void OnError(const Napi::Error&) override {
    deferred_.Reject(MakeSysError(Env(), err_).Value());
  }
  Napi::Promise::Deferred deferred_;
  SysError err_;
};

// allocateFile(path, bytes): creates the file (never reuses one) and
// reserves its blocks, so the module's writes cannot fail for lack of space
// and FIEMAP has physical extents to report.
class AllocateWorker : public SysWorker {
 public:
  AllocateWorker(Napi::Env env, std::string path, uint64_t bytes)
      : SysWorker(env), path_(std::move(path)), bytes_(bytes) {}

  void Execute() override {
    Fd fd(open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Fail(errno, "open", path_);
    if (fallocate(fd.get(), 0, 0, static_cast<off_t>(bytes_)) < 0) {
      int e = errno;
      unlink(path_.c_str());
      return Fail(e, "fallocate", path_);
    }
    // The extents must be on disk before they are handed to the module.
    if (fsync(fd.get()) < 0) {
      int e = errno;
      unlink(path_.c_str());
      return Fail(e, "fsync", path_);
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }

 private:
  std::string path_;
  uint64_t bytes_;
};

// fileExtents(path): the device the file lives on and its extents.
class ExtentsWorker : public SysWorker {
 public:
  ExtentsWorker(Napi::Env env, std::string path)
      : SysWorker(env), path_(std::move(path)) {}

  void Execute() override {
    Fd fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return Fail(errno, "open", path_);
    struct stat st {};
    if (fstat(fd.get(), &st) < 0) return Fail(errno, "fstat", path_);
    major_ = major(st.st_dev);
    minor_ = minor(st.st_dev);
    size_ = static_cast<uint64_t>(st.st_size);

    constexpr uint32_t kBatch = 256;
    const size_t bytes = sizeof(struct fiemap) + kBatch * sizeof(struct fiemap_extent);
    std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes]);
    uint64_t start = 0;
    for (;;) {
      std::memset(buf.get(), 0, bytes);
      auto* fm = reinterpret_cast<struct fiemap*>(buf.get());
      fm->fm_start = start;
      fm->fm_length = FIEMAP_MAX_OFFSET - start;
      fm->fm_flags = FIEMAP_FLAG_SYNC;
      fm->fm_extent_count = kBatch;
      if (ioctl(fd.get(), FS_IOC_FIEMAP, fm) < 0) return Fail(errno, "ioctl(FS_IOC_FIEMAP)", path_);
      if (fm->fm_mapped_extents == 0) break;
      bool last = false;
      for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
        const struct fiemap_extent& e = fm->fm_extents[i];
        extents_.push_back({e.fe_logical, e.fe_physical, e.fe_length, e.fe_flags});
        if (e.fe_flags & FIEMAP_EXTENT_LAST) last = true;
        start = e.fe_logical + e.fe_length;
      }
      if (last || fm->fm_mapped_extents < kBatch) break;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("major", Napi::Number::New(env, major_));
    out.Set("minor", Napi::Number::New(env, minor_));
    out.Set("size", Napi::Number::New(env, static_cast<double>(size_)));
    Napi::Array arr = Napi::Array::New(env, extents_.size());
    for (size_t i = 0; i < extents_.size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("logical", Napi::Number::New(env, static_cast<double>(extents_[i].logical)));
      e.Set("physical", Napi::Number::New(env, static_cast<double>(extents_[i].physical)));
      e.Set("length", Napi::Number::New(env, static_cast<double>(extents_[i].length)));
      e.Set("flags", Napi::Number::New(env, extents_[i].flags));
      arr.Set(static_cast<uint32_t>(i), e);
    }
    out.Set("extents", arr);
    deferred_.Resolve(out);
  }

 private:
  std::string path_;
  unsigned major_ = 0;
  unsigned minor_ = 0;
  uint64_t size_ = 0;
  std::vector<Extent> extents_;
};

std::string PathArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(info.Env(), "path must be a string");
  std::string p = info[0].As<Napi::String>().Utf8Value();
  if (p.empty() || p[0] != '/' || p.find('\0') != std::string::npos)
    throw Napi::TypeError::New(info.Env(), "path must be absolute");
  return p;
}

Napi::Value AllocateFile(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info);
  if (info.Length() < 2 || !info[1].IsNumber())
    throw Napi::TypeError::New(info.Env(), "bytes must be a number");
  double bytes = info[1].As<Napi::Number>().DoubleValue();
  // 2^53: exact in a double, and far beyond any real file.
  if (!(bytes > 0) || bytes > 9007199254740992.0 || bytes != static_cast<double>(static_cast<uint64_t>(bytes)))
    throw Napi::TypeError::New(info.Env(), "bytes must be a positive integer");
  auto* w = new AllocateWorker(info.Env(), path, static_cast<uint64_t>(bytes));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value FileExtents(const Napi::CallbackInfo& info) {
  auto* w = new ExtentsWorker(info.Env(), PathArg(info));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitFsExtents(Napi::Env env, Napi::Object exports) {
  exports.Set("allocateFile", Napi::Function::New(env, AllocateFile));
  exports.Set("fileExtents", Napi::Function::New(env, FileExtents));
  Napi::Object flags = Napi::Object::New(env);
  flags.Set("LAST", Napi::Number::New(env, FIEMAP_EXTENT_LAST));
  flags.Set("UNKNOWN", Napi::Number::New(env, FIEMAP_EXTENT_UNKNOWN));
  flags.Set("DELALLOC", Napi::Number::New(env, FIEMAP_EXTENT_DELALLOC));
  flags.Set("ENCODED", Napi::Number::New(env, FIEMAP_EXTENT_ENCODED));
  flags.Set("DATA_ENCRYPTED", Napi::Number::New(env, FIEMAP_EXTENT_DATA_ENCRYPTED));
  flags.Set("NOT_ALIGNED", Napi::Number::New(env, FIEMAP_EXTENT_NOT_ALIGNED));
  flags.Set("DATA_INLINE", Napi::Number::New(env, FIEMAP_EXTENT_DATA_INLINE));
  flags.Set("DATA_TAIL", Napi::Number::New(env, FIEMAP_EXTENT_DATA_TAIL));
  flags.Set("UNWRITTEN", Napi::Number::New(env, FIEMAP_EXTENT_UNWRITTEN));
  flags.Set("MERGED", Napi::Number::New(env, FIEMAP_EXTENT_MERGED));
  flags.Set("SHARED", Napi::Number::New(env, FIEMAP_EXTENT_SHARED));
  exports.Set("fiemapFlags", flags);
}

}  // namespace snapkeep
