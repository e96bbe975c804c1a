// Credentials of the process at the other end of a Unix socket, as the
// kernel recorded them at connect time (SO_PEERCRED, SO_PEERGROUPS).
#pragma once

#include <napi.h>

namespace snapkeep {

void InitPeercred(Napi::Env env, Napi::Object exports);

}  // namespace snapkeep
