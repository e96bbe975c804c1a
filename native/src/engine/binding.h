// N-API surface of the engine (typed in native/engine.ts). JS values are
// converted into the plain request structs of the pipelines on the JS
// thread; Execute() runs the pipeline on that struct only; results and
// errors come back through Promises.
#pragma once

#include <napi.h>

namespace snapkeep::engine {
void InitEngine(Napi::Env env, Napi::Object exports);
}
