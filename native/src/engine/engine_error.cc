#include "engine_error.h"

#include <cstring>

namespace snapkeep::engine {

std::string CodeForErrno(int errnum) {
  switch (errnum) {
    case ENOSPC:
    case EDQUOT:
      return "DISK_FULL";
    case EROFS:
      return "READ_ONLY";
    case EACCES:
    case EPERM:
      return "PERMISSION_DENIED";
    case ENOENT:
      return "NOT_FOUND";
    case EBUSY:
      return "DEVICE_BUSY";
    default:
      return "IO_ERROR";
  }
}

EngineError SysFail(int errnum, const std::string& syscall, const std::string& path) {
  EngineError e(CodeForErrno(errnum), syscall + " " + path + ": " + strerror(errnum));
  e.errnum = errnum;
  e.syscall = syscall;
  e.path = path;
  return e;
}

EngineError Corrupt(const std::string& message, const std::string& pack, const std::string& chunk) {
  EngineError e("REPO_CORRUPT", message);
  e.pack = pack;
  e.chunk = chunk;
  return e;
}

}  // namespace snapkeep::engine
