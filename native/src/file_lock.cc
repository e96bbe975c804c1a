#include "file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "engine/file_io.h"
#include "errors.h"

namespace snapkeep {
namespace {

// tryLockFile(path, holder): the descriptor of `path` (created 0600) locked
// with flock(LOCK_EX | LOCK_NB), with `holder` written into the file for
// those who wait; null when another open file description holds the lock.
// Never blocks: the caller polls, so no libuv thread sleeps in flock().
// O_CLOEXEC: a child the holder spawns must not keep the lock alive.
Napi::Value TryLockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    throw Napi::TypeError::New(env, "tryLockFile(path: string, holder: string)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string holder = info[1].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos)
    throw Napi::TypeError::New(env, "path must be a non-empty string without NUL");
  if (holder.size() > 4096) throw Napi::TypeError::New(env, "holder must be at most 4096 bytes");

  // O_NONBLOCK: opening a FIFO planted under the name must not hang; it is
  // refused below as not a regular file.
  engine::Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
  if (fd.get() < 0) throw MakeSysError(env, SysError{errno, "open", ""});
  struct stat st {};
  if (fstat(fd.get(), &st) < 0) throw MakeSysError(env, SysError{errno, "fstat", ""});
  if (!S_ISREG(st.st_mode))
    throw MakeSysError(env, SysError{EINVAL, "open", "the lock file " + path + " is not a regular file"});
  if (flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) return env.Null();
    throw MakeSysError(env, SysError{errno, "flock", ""});
  }
  // Who holds it, for the waiters' message only: a reader may see it empty
  // or half written, and a killed holder's text stays until the next one.
  if (ftruncate(fd.get(), 0) < 0) throw MakeSysError(env, SysError{errno, "ftruncate", ""});
  if (!holder.empty() && pwrite(fd.get(), holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size()))
    throw MakeSysError(env, SysError{errno ? errno : EIO, "pwrite", ""});
  return Napi::Number::New(env, fd.Release());
}

// unlockFile(fd): closes a descriptor tryLockFile returned, which releases
// the lock (it is the only descriptor of its open file description).
Napi::Value UnlockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (v < 0 || v > 1 << 30 || v != static_cast<int>(v))
    throw Napi::TypeError::New(env, "fd must be a small non-negative integer");
  // Linux releases the descriptor even when close() fails (EINTR, EIO):
  // never retried, which could close another thread's new descriptor.
  if (close(static_cast<int>(v)) < 0 && errno != EINTR) throw MakeSysError(env, SysError{errno, "close", ""});
  return env.Undefined();
}

}  // namespace

void InitFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("tryLockFile", Napi::Function::New(env, TryLockFile));
  exports.Set("unlockFile", Napi::Function::New(env, UnlockFile));
}

}  // namespace snapkeep
