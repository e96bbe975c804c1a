// Versions of the distribution libraries the addon links (zstd, libsodium).
#pragma once

#include <napi.h>

namespace snapkeep {

// Initialises libsodium; throws if the library cannot start (no entropy).
void InitLibraries(Napi::Env env, Napi::Object exports);

}  // namespace snapkeep
