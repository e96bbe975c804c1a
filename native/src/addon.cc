// Entry point of the snapkeep native addon. N-API only, so one build loads
// in Node and in Electron. Each concern registers its own functions.
#include <napi.h>

#include "caller_fs.h"
#include "file_lock.h"
#include "fs_extents.h"
#include "engine/binding.h"
#include "fs/used_blocks_binding.h"
#include "kmod_ctl.h"
#include "libraries.h"
#include "peercred.h"

namespace snapkeep {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitLibraries(env, exports);
  InitKmodCtl(env, exports);
  engine::InitEngine(env, exports);
  InitFsExtents(env, exports);
  InitPeercred(env, exports);
  InitCallerFs(env, exports);
  InitFileLock(env, exports);
  fs::InitUsedBlocks(env, exports);
  return exports;
}

}  // namespace snapkeep

// NODE_API_MODULE pastes the name into an identifier, so it must be unqualified.
static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return snapkeep::Init(env, exports);
}

NODE_API_MODULE(snapkeep, InitAddon)
