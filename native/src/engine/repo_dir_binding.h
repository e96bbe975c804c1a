// engine.repoFs: repository file access for the TypeScript side.
#pragma once

#include <napi.h>

namespace snapkeep::engine {

void InitRepoFs(Napi::Env env, Napi::Object engine);

}  // namespace snapkeep::engine
