#include "errors.h"

#include <cstring>

namespace snapkeep {

std::string ErrnoName(int errnum) {
  const char* name = strerrorname_np(errnum);
  if (name != nullptr) return name;
  return "E" + std::to_string(errnum);
}

Napi::Error MakeSysError(Napi::Env env, const SysError& err) {
  std::string text = err.message.empty()
                         ? std::string(strerror(err.errnum))
                         : err.message;
  Napi::Error error = Napi::Error::New(env, text);
  error.Set("code", Napi::String::New(env, ErrnoName(err.errnum)));
  error.Set("errno", Napi::Number::New(env, err.errnum));
  if (!err.syscall.empty())
    error.Set("syscall", Napi::String::New(env, err.syscall));
  return error;
}

}  // namespace snapkeep
