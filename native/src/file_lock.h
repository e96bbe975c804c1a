// Advisory whole-file locks (flock(2)) between processes, released by the
// kernel when the holder's last descriptor closes, also when it is killed.
// The remote working copy's lock (electron/core/engine/remote/working-copy-lock.ts).
#pragma once

#include <napi.h>

namespace snapkeep {

void InitFileLock(Napi::Env env, Napi::Object exports);

}  // namespace snapkeep
