// Errors thrown into JavaScript. Every system error carries the errno name
// (err.code, e.g. "ENOENT"), the number (err.errno) and the call that failed
// (err.syscall), so callers branch on codes, never on message text.
#pragma once

#include <napi.h>

#include <string>

namespace snapkeep {

// A failed system call, captured where it happened, thrown later on the JS
// thread (worker threads must not touch napi values).
struct SysError {
  int errnum = 0;
  std::string syscall;
  std::string message;
};

// "ENOENT" for ENOENT; "E<number>" when the C library has no name for it.
std::string ErrnoName(int errnum);

Napi::Error MakeSysError(Napi::Env env, const SysError& err);

}  // namespace snapkeep
