// The envelope every metadata file and pack trailer is stored in
// (docs/repository-format.md, "Envelope"):
//
//   magic "SKEN" | version u8 = 1 | mode u8 | type u8 | reserved u8 = 0
//   mode 0 (plain):     payload | BLAKE2b-256(id key, header || payload)
//   mode 1 (encrypted): nonce[24] | XChaCha20-Poly1305(payload, ad = header)
//   mode 2 (encrypted): nonce[24] | AES-256-GCM(subkey, payload, ad = header)
//                       (crypto.h: the subkey and GCM nonce come from the nonce)
// Encrypted modes use the metadata key (crypto.h RepoKeys::MetaKey(), the
// blobs' key in formats 1 and 2).
//
// Plain repositories still get a keyed MAC, so a flipped bit in a manifest
// or an index is detected the same way in both modes.
#pragma once

#include <cstdint>

#include "bytes.h"
#include "crypto.h"

namespace snapkeep::engine {

enum class EnvelopeType : uint8_t {
  kPackTrailer = 1,
  kIndex = 2,
  kManifest = 3,
  kListSegment = 4,
  kOther = 5,
  kListRoot = 6,  // format 2: a device's segment ids (chunk_list.h)
};

constexpr size_t kEnvelopeHeader = 8;

Bytes SealEnvelope(const RepoKeys& keys, EnvelopeType type, const uint8_t* payload, size_t len);
// False when magic, version, type, MAC or tag do not check out.
bool OpenEnvelope(const RepoKeys& keys, EnvelopeType type, const uint8_t* data, size_t len,
                  Bytes& payload);

}  // namespace snapkeep::engine
