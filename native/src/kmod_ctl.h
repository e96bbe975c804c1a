// Bindings of the snapkeep kernel module's control device (/dev/snapkeep).
#pragma once

#include <napi.h>

namespace snapkeep {

void InitKmodCtl(Napi::Env env, Napi::Object exports);

}  // namespace snapkeep
