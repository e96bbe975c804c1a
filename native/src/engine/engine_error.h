// The engine's typed error. Thrown inside worker threads (plain C++, no
// napi values), converted to a JS Error on the main thread: `code` is an
// AppError code of contract/errors.ts (REPO_CORRUPT, DISK_FULL, ...) and
// the errno name, syscall, path, pack and chunk ids travel with it, so the
// TypeScript layer maps it without parsing messages.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace snapkeep::engine {

struct EngineError : std::runtime_error {
  std::string code;     // AppError code
  int errnum = 0;       // errno when a system call failed
  std::string syscall;  // the call that failed
  std::string path;     // file involved
  std::string pack;     // pack id involved
  std::string chunk;    // chunk id (hex) involved

  EngineError(std::string code_, const std::string& message)
      : std::runtime_error(message), code(std::move(code_)) {}
};

// The AppError code for a failed system call on the repository or a target.
std::string CodeForErrno(int errnum);

// A failed system call: code from the errno, message naming path and call.
EngineError SysFail(int errnum, const std::string& syscall, const std::string& path);

EngineError Corrupt(const std::string& message, const std::string& pack = "",
                    const std::string& chunk = "");

}  // namespace snapkeep::engine
