// ext4UsedBlocks(path, {offset, size, mergeBelow}) for JavaScript: the
// used byte ranges of an ext2/3/4 file system (ext4_used_blocks.h), read
// off the JS thread.
#pragma once

#include <napi.h>

namespace snapkeep::fs {

void InitUsedBlocks(Napi::Env env, Napi::Object exports);

}  // namespace snapkeep::fs
