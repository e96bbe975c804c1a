#include "kmod_ctl.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"
#include "snapkeep.h"

namespace snapkeep {
namespace {

constexpr const char* kCtlPath = "/dev/" SNAPKEEP_CTL_NAME;

// Owns the control device's file descriptor for the duration of one call.
class CtlFd {
 public:
  CtlFd() : fd_(open(kCtlPath, O_RDONLY | O_CLOEXEC)) {}
  ~CtlFd() {
    if (fd_ >= 0) close(fd_);
  }
  CtlFd(const CtlFd&) = delete;
  CtlFd& operator=(const CtlFd&) = delete;

  int get() const { return fd_; }

  // The open error in words a user can act on.
  SysError OpenError(int errnum) const {
    SysError err{errnum, "open", ""};
    if (errnum == ENOENT)
      err.message = std::string("snapkeep kernel module not loaded (") +
                    kCtlPath + " does not exist)";
    else if (errnum == EACCES || errnum == EPERM)
      err.message = std::string("permission denied opening ") + kCtlPath +
                    " (root or the snapkeep group is required)";
    else
      err.message = std::string("cannot open ") + kCtlPath + ": " +
                    strerror(errnum);
    return err;
  }

 private:
  int fd_;
};

Napi::Value ModuleVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CtlFd ctl;
  if (ctl.get() < 0) throw MakeSysError(env, ctl.OpenError(errno));

  struct snapkeep_version ver;
  std::memset(&ver, 0, sizeof(ver));
  if (ioctl(ctl.get(), SNAPKEEP_IOCTL_VERSION, &ver) < 0)
    throw MakeSysError(env, SysError{errno, "ioctl", ""});

  ver.module_version[sizeof(ver.module_version) - 1] = '\0';
  Napi::Object out = Napi::Object::New(env);
  out.Set("abiMajor", Napi::Number::New(env, ver.abi_major));
  out.Set("abiMinor", Napi::Number::New(env, ver.abi_minor));
  out.Set("moduleVersion",
          Napi::String::New(
              env, reinterpret_cast<const char*>(ver.module_version)));
  return out;
}

}  // namespace

void InitKmodCtl(Napi::Env env, Napi::Object exports) {
  exports.Set("moduleVersion", Napi::Function::New(env, ModuleVersion));
  Napi::Object abi = Napi::Object::New(env);
  abi.Set("major", Napi::Number::New(env, SNAPKEEP_ABI_MAJOR));
  abi.Set("minor", Napi::Number::New(env, SNAPKEEP_ABI_MINOR));
  exports.Set("headerAbi", abi);
}

}  // namespace snapkeep
