// Preallocated files and their physical extents: the difference storage of
// a snapshot is a file the kernel module writes to through the block device
// underneath, so user space allocates it (fallocate) and reports where its
// blocks are (FIEMAP).
#pragma once

#include <napi.h>

namespace snapkeep {

void InitFsExtents(Napi::Env env, Napi::Object exports);

}  // namespace snapkeep
