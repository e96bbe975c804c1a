#include "peercred.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "errors.h"

namespace snapkeep {
namespace {

int FdArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(info.Env(), "fd must be a number");
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (v < 0 || v > 1 << 30 || v != static_cast<int>(v))
    throw Napi::TypeError::New(info.Env(), "fd must be a small non-negative integer");
  return static_cast<int>(v);
}

// The peer's supplementary groups at connect time. Read from the socket, not
// from /proc/<pid>, which could belong to another process by the time we look.
std::vector<gid_t> PeerGroups(Napi::Env env, int fd) {
  std::vector<gid_t> groups(64);
  for (;;) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    // ERANGE: the buffer was too small and len now holds the size needed.
    if (errno != ERANGE || len / sizeof(gid_t) <= groups.size())
      throw MakeSysError(env, SysError{errno, "getsockopt", ""});
    groups.resize(len / sizeof(gid_t));
  }
}

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    throw MakeSysError(env, SysError{errno, "getsockopt", ""});
  std::vector<gid_t> groups = PeerGroups(env, fd);

  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  Napi::Array arr = Napi::Array::New(env, groups.size());
  for (size_t i = 0; i < groups.size(); i++)
    arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, groups[i]));
  out.Set("groups", arr);
  return out;
}

// The gid of a group by name through NSS (files, LDAP, ...), or null.
Napi::Value GroupId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::vector<char> buf(16384);
  struct group grp {};
  struct group* found = nullptr;
  for (;;) {
    int r = getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found);
    if (r == ERANGE && buf.size() < (1u << 22)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (r != 0) throw MakeSysError(env, SysError{r, "getgrnam_r", ""});
    break;
  }
  if (found == nullptr) return env.Null();
  return Napi::Number::New(env, found->gr_gid);
}

}  // namespace

void InitPeercred(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials));
  exports.Set("groupId", Napi::Function::New(env, GroupId));
}

}  // namespace snapkeep
