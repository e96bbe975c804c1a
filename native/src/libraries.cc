#include "libraries.h"

#include <sodium.h>
#include <zstd.h>

namespace snapkeep {
namespace {

Napi::Value LibraryVersions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("zstd", Napi::String::New(env, ZSTD_versionString()));
  out.Set("sodium", Napi::String::New(env, sodium_version_string()));
  return out;
}

}  // namespace

void InitLibraries(Napi::Env env, Napi::Object exports) {
  // sodium_init() is idempotent and thread-safe; it must run before any
  // other libsodium call, so it runs once when the addon loads.
  if (sodium_init() < 0)
    throw Napi::Error::New(env, "libsodium failed to initialise");
  exports.Set("libraryVersions", Napi::Function::New(env, LibraryVersions));
}

}  // namespace snapkeep
