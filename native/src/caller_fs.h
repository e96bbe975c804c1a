// File-system calls made with another user's identity. The root helper opens
// and creates the paths a client names as that client: each call runs on a
// fresh thread that takes the user's fsuid, fsgid and supplementary groups
// (per-thread credentials in Linux; the raw system calls, not glibc's
// process-wide wrappers) and ends with the call, so nothing else in the
// process ever runs with them. The descriptors it returns are then used by
// the helper like any other, with the file fixed: no path is looked up again.
//
// Also: a user's identity (uid, primary gid, groups) from the user database,
// for scheduled runs, which have no connected client to take it from.
#pragma once

#include <napi.h>

namespace snapkeep {

void InitCallerFs(Napi::Env env, Napi::Object exports);

}  // namespace snapkeep
