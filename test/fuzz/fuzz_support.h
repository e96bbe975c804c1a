// Shared by the libFuzzer harnesses: the fixed keys the seed corpus is made
// with (test/fuzz/make-seeds.mjs uses the same bytes), and a check that
// aborts with a message, so an invariant violated on "success" is a crash
// the fuzzer reports like any other.
#pragma once

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

#include "crypto.h"

namespace snapkeep::fuzz {

// libsodium picks its implementations here; the addon does it at load.
[[maybe_unused]] static const int kSodiumReady = sodium_init();

// `fast`: the fast algorithm set (HMAC-SHA-256 ids, AES-256-GCM), chosen
// by a bit of the input that the seeds made before it existed leave 0.
// `layout2`: format 3 (always encrypted; envelopes under the metadata key,
// version-2 packs); the public key is left zero, as nothing decoded needs it.
inline engine::RepoKeys Keys(bool encrypted, bool fast = false, bool layout2 = false) {
  engine::RepoKeys k;
  k.encrypted = encrypted || layout2;
  if (fast) {
    k.idAlg = engine::IdAlg::kHmacSha256;
    k.aead = engine::AeadAlg::kAes256Gcm;
  }
  for (int i = 0; i < 32; i++) {
    k.id[i] = static_cast<uint8_t>(i);
    k.enc[i] = static_cast<uint8_t>(32 + i);
    k.meta[i] = static_cast<uint8_t>(64 + i);
  }
  if (layout2) k.layout = 2;
  return k;
}

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

}  // namespace snapkeep::fuzz
