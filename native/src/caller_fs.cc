#include "caller_fs.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"

namespace snapkeep {
namespace {

struct Identity {
  bool set = false;  // false: the process's own identity
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// Kinds of file an open may end on (bit mask; 0: any).
constexpr int kTypeFile = 1;
constexpr int kTypeDir = 2;
constexpr int kTypeBlock = 4;
constexpr int kTypeLink = 8;  // only with O_PATH | O_NOFOLLOW
constexpr int kTypeOther = 16;

// The open flags a caller may ask for; anything else is a programming error.
constexpr int kAllowedFlags = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NOFOLLOW |
                              O_DIRECTORY | O_PATH | O_NONBLOCK | O_DIRECT;

// Takes the identity for the calling thread only. Linux keeps credentials per
// thread; the raw system calls change just this one (glibc's wrappers would
// change every thread of the process). Returns 0 or an errno.
int TakeIdentity(const Identity& who) {
  if (syscall(SYS_setgroups, who.groups.size(), who.groups.data()) < 0) return errno;
  // setfsuid/setfsgid report no errors: ask again (an invalid id returns the current one).
  syscall(SYS_setfsgid, who.gid);
  if (static_cast<gid_t>(syscall(SYS_setfsgid, static_cast<gid_t>(-1))) != who.gid) return EPERM;
  syscall(SYS_setfsuid, who.uid);
  if (static_cast<uid_t>(syscall(SYS_setfsuid, static_cast<uid_t>(-1))) != who.uid) return EPERM;
  // The kernel drops the file capabilities when fsuid leaves 0; drop every
  // effective capability anyway, so the thread is exactly an ordinary user
  // whatever the securebits say.
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (syscall(SYS_capget, &hdr, data) < 0) return errno;
  for (auto& d : data) d.effective = 0;
  if (syscall(SYS_capset, &hdr, data) < 0) return errno;
  return 0;
}

bool TypeAllowed(mode_t mode, int types) {
  if (types == 0) return true;
  if (S_ISREG(mode)) return types & kTypeFile;
  if (S_ISDIR(mode)) return types & kTypeDir;
  if (S_ISBLK(mode)) return types & kTypeBlock;
  if (S_ISLNK(mode)) return types & kTypeLink;
  return types & kTypeOther;
}

enum class Op { kOpen, kMkdir, kSymlink, kAccess };

struct Request {
  Identity who;
  Op op = Op::kOpen;
  int dirfd = AT_FDCWD;
  std::string path;
  std::string linkTarget;
  int flags = 0;
  mode_t mode = 0;
  int types = 0;
};

struct Outcome {
  int fd = -1;
  int errnum = 0;
  const char* syscall = "";
};

// The call itself, on the thread that carries the identity.
Outcome Perform(const Request& r) {
  Outcome o;
  switch (r.op) {
    case Op::kOpen: {
      // O_NONBLOCK so a FIFO planted where a file was expected cannot hang us.
      int extra = (r.flags & O_PATH) ? 0 : O_NONBLOCK;
      int fd = openat(r.dirfd, r.path.c_str(), r.flags | extra | O_CLOEXEC | O_NOCTTY, r.mode);
      if (fd < 0) return Outcome{-1, errno, "openat"};
      struct stat st {};
      if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return Outcome{-1, e, "fstat"};
      }
      if (!TypeAllowed(st.st_mode, r.types)) {
        close(fd);
        // EMEDIUMTYPE ("wrong medium type"): no open returns it, so it says "not the kind of file asked for".
        int e = S_ISDIR(st.st_mode) ? EISDIR : S_ISLNK(st.st_mode) ? ELOOP : r.types == kTypeDir ? ENOTDIR : EMEDIUMTYPE;
        return Outcome{-1, e, "openat"};
      }
      if (extra && !(r.flags & O_NONBLOCK)) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
          int e = errno;
          close(fd);
          return Outcome{-1, e, "fcntl"};
        }
      }
      o.fd = fd;
      return o;
    }
    case Op::kMkdir:
      if (mkdirat(r.dirfd, r.path.c_str(), r.mode) < 0) return Outcome{-1, errno, "mkdirat"};
      return o;
    case Op::kSymlink:
      if (symlinkat(r.linkTarget.c_str(), r.dirfd, r.path.c_str()) < 0) return Outcome{-1, errno, "symlinkat"};
      return o;
    case Op::kAccess:
      // AT_EACCESS: checked with this thread's fs identity, not the real uid.
      if (faccessat(r.dirfd, r.path.c_str(), r.flags, AT_EACCESS) < 0) return Outcome{-1, errno, "faccessat"};
      return o;
  }
  return Outcome{-1, EINVAL, "caller_fs"};
}

// Runs the request on a thread of its own that takes the identity first and
// dies with it: a pool thread never carries a user's credentials.
Outcome RunAsCaller(const Request& r) {
  Outcome out;
  std::thread t([&]() {
    if (r.who.set) {
      int e = TakeIdentity(r.who);
      if (e != 0) {
        out = Outcome{-1, e, "setfsuid"};
        return;
      }
    }
    out = Perform(r);
  });
  t.join();
  return out;
}

class CallerFsWorker : public Napi::AsyncWorker {
 public:
  CallerFsWorker(Napi::Env env, Request req)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), req_(std::move(req)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    out_ = RunAsCaller(req_);
    if (out_.errnum != 0) SetError(strerror(out_.errnum));
  }
  void OnOK() override {
    Napi::Env env = Env();
    deferred_.Resolve(req_.op == Op::kOpen ? Napi::Number::New(env, out_.fd) : env.Undefined());
  }
  void OnError(const Napi::Error&) override {
    std::string what = req_.path + ": " + strerror(out_.errnum);
    deferred_.Reject(MakeSysError(Env(), SysError{out_.errnum, out_.syscall, what}).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Request req_;
  Outcome out_;
};

uint32_t IdArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  // (uid_t)-1 means "no change" to the kernel: never a valid identity.
  if (d < 0 || d >= 4294967295.0 || d != static_cast<uint32_t>(d))
    throw Napi::TypeError::New(env, std::string(what) + " must be an id below 2^32-1");
  return static_cast<uint32_t>(d);
}

int IntArg(Napi::Env env, const Napi::Value& v, const char* what, int lo, int hi) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < lo || d > hi || d != static_cast<int>(d))
    throw Napi::TypeError::New(env, std::string(what) + " is out of range");
  return static_cast<int>(d);
}

// null/undefined: the process's own identity; else {uid, gid, groups}.
Identity IdentityArg(Napi::Env env, const Napi::Value& v) {
  Identity who;
  if (v.IsNull() || v.IsUndefined()) return who;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "identity must be an object or null");
  Napi::Object o = v.As<Napi::Object>();
  who.set = true;
  who.uid = IdArg(env, o.Get("uid"), "uid");
  who.gid = IdArg(env, o.Get("gid"), "gid");
  Napi::Value g = o.Get("groups");
  if (!g.IsArray()) throw Napi::TypeError::New(env, "groups must be an array");
  Napi::Array arr = g.As<Napi::Array>();
  if (arr.Length() > 65536) throw Napi::TypeError::New(env, "too many groups");
  for (uint32_t i = 0; i < arr.Length(); i++) who.groups.push_back(IdArg(env, arr.Get(i), "group"));
  return who;
}

std::string PathArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string(what) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty() || s.size() >= PATH_MAX || s.find('\0') != std::string::npos)
    throw Napi::TypeError::New(env, std::string(what) + " must be a non-empty path without NUL");
  return s;
}

int DirFdArg(Napi::Env env, const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return AT_FDCWD;
  return IntArg(env, v, "dirfd", 0, 1 << 30);
}

void Expect(const Napi::CallbackInfo& info, size_t n) {
  if (info.Length() < n) throw Napi::TypeError::New(info.Env(), "too few arguments");
}

// callerOpen(identity, dirfd, path, flags, mode, types) -> Promise<fd>
Napi::Value CallerOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Expect(info, 6);
  Request r;
  r.op = Op::kOpen;
  r.who = IdentityArg(env, info[0]);
  r.dirfd = DirFdArg(env, info[1]);
  r.path = PathArg(env, info[2], "path");
  r.flags = IntArg(env, info[3], "flags", 0, INT_MAX);
  if (r.flags & ~kAllowedFlags) throw Napi::TypeError::New(env, "unsupported open flags");
  r.mode = static_cast<mode_t>(IntArg(env, info[4], "mode", 0, 07777));
  r.types = IntArg(env, info[5], "types", 0, 31);
  auto* w = new CallerFsWorker(env, std::move(r));
  w->Queue();
  return w->Promise();
}

// callerMkdir(identity, dirfd, path, mode) -> Promise<void>
Napi::Value CallerMkdir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Expect(info, 4);
  Request r;
  r.op = Op::kMkdir;
  r.who = IdentityArg(env, info[0]);
  r.dirfd = DirFdArg(env, info[1]);
  r.path = PathArg(env, info[2], "path");
  r.mode = static_cast<mode_t>(IntArg(env, info[3], "mode", 0, 0777));
  auto* w = new CallerFsWorker(env, std::move(r));
  w->Queue();
  return w->Promise();
}

// callerSymlink(identity, target, dirfd, path) -> Promise<void>
Napi::Value CallerSymlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Expect(info, 4);
  Request r;
  r.op = Op::kSymlink;
  r.who = IdentityArg(env, info[0]);
  r.linkTarget = PathArg(env, info[1], "target");
  r.dirfd = DirFdArg(env, info[2]);
  r.path = PathArg(env, info[3], "path");
  auto* w = new CallerFsWorker(env, std::move(r));
  w->Queue();
  return w->Promise();
}

// callerAccess(identity, dirfd, path, amode) -> Promise<void>
Napi::Value CallerAccess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Expect(info, 4);
  Request r;
  r.op = Op::kAccess;
  r.who = IdentityArg(env, info[0]);
  r.dirfd = DirFdArg(env, info[1]);
  r.path = PathArg(env, info[2], "path");
  r.flags = IntArg(env, info[3], "amode", 0, R_OK | W_OK | X_OK);
  auto* w = new CallerFsWorker(env, std::move(r));
  w->Queue();
  return w->Promise();
}

// Copies the user.* extended attributes of one open file to another, through
// the descriptors (no path looked up again). Only user.*: security.*
// (file capabilities, SELinux labels), trusted.* and system.* (ACLs) from a
// backup are never put on a file a user owns. A destination file system
// without xattrs is not an error.
class CopyXattrsWorker : public Napi::AsyncWorker {
 public:
  CopyXattrsWorker(Napi::Env env, int src, int dst)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), src_(src), dst_(dst) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  static constexpr size_t kMaxValue = 64 * 1024;
  static constexpr size_t kMaxList = 64 * 1024;

  void Execute() override {
    std::vector<char> names(kMaxList);
    ssize_t n = flistxattr(src_, names.data(), names.size());
    if (n < 0) {
      if (errno == ENOTSUP) return;
      return Fail(errno, "flistxattr");
    }
    std::vector<char> value(kMaxValue);
    for (ssize_t off = 0; off < n;) {
      std::string name(names.data() + off);
      off += static_cast<ssize_t>(name.size()) + 1;
      if (name.rfind("user.", 0) != 0) continue;
      ssize_t len = fgetxattr(src_, name.c_str(), value.data(), value.size());
      if (len < 0) {
        if (errno == ENODATA) continue;  // removed meanwhile
        return Fail(errno, "fgetxattr");
      }
      if (fsetxattr(dst_, name.c_str(), value.data(), static_cast<size_t>(len), 0) < 0) {
        if (errno == ENOTSUP) return;  // the destination keeps none
        return Fail(errno, "fsetxattr");
      }
      copied_++;
    }
  }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), copied_)); }
  void OnError(const Napi::Error&) override {
    deferred_.Reject(MakeSysError(Env(), SysError{errnum_, syscall_, std::string(syscall_) + ": " + strerror(errnum_)}).Value());
  }

 private:
  void Fail(int e, const char* call) {
    errnum_ = e;
    syscall_ = call;
    SetError(strerror(e));
  }
  Napi::Promise::Deferred deferred_;
  int src_, dst_;
  int copied_ = 0;
  int errnum_ = 0;
  const char* syscall_ = "";
};

// copyUserXattrs(srcFd, dstFd) -> Promise<number copied>
Napi::Value CopyUserXattrs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Expect(info, 2);
  int src = IntArg(env, info[0], "srcFd", 0, 1 << 30);
  int dst = IntArg(env, info[1], "dstFd", 0, 1 << 30);
  auto* w = new CopyXattrsWorker(env, src, dst);
  w->Queue();
  return w->Promise();
}

// userIdentity(uid) -> {uid, gid, name, groups} | null: the user database's
// view now (NSS: files, LDAP, ...), so a user removed from a group loses
// what the group gave at the next run.
Napi::Value UserIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Expect(info, 1);
  uid_t uid = IdArg(env, info[0], "uid");
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  for (;;) {
    int r = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
    if (r == ERANGE && buf.size() < (1u << 22)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (r != 0) throw MakeSysError(env, SysError{r, "getpwuid_r", ""});
    break;
  }
  if (found == nullptr) return env.Null();
  std::vector<gid_t> groups(64);
  for (;;) {
    int n = static_cast<int>(groups.size());
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) >= 0) {
      groups.resize(n);
      break;
    }
    if (n <= static_cast<int>(groups.size()) || n > 65536)
      throw MakeSysError(env, SysError{ERANGE, "getgrouplist", pw.pw_name});
    groups.resize(n);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("uid", Napi::Number::New(env, pw.pw_uid));
  out.Set("gid", Napi::Number::New(env, pw.pw_gid));
  out.Set("name", Napi::String::New(env, pw.pw_name));
  Napi::Array arr = Napi::Array::New(env, groups.size());
  for (size_t i = 0; i < groups.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, groups[i]));
  out.Set("groups", arr);
  return out;
}

}  // namespace

void InitCallerFs(Napi::Env env, Napi::Object exports) {
  exports.Set("callerOpen", Napi::Function::New(env, CallerOpen));
  exports.Set("callerMkdir", Napi::Function::New(env, CallerMkdir));
  exports.Set("callerSymlink", Napi::Function::New(env, CallerSymlink));
  exports.Set("callerAccess", Napi::Function::New(env, CallerAccess));
  exports.Set("userIdentity", Napi::Function::New(env, UserIdentity));
  exports.Set("copyUserXattrs", Napi::Function::New(env, CopyUserXattrs));
  // Node's fs.constants has no O_PATH.
  exports.Set("O_PATH", Napi::Number::New(env, O_PATH));
}

}  // namespace snapkeep
