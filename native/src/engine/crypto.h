// The repository's cryptography, all from libsodium:
//  - chunk ids: BLAKE2b-256 keyed with the repository's id key, also in
//    unencrypted repositories, so ids reveal nothing about content to
//    someone without the key and cannot be forged to collide;
//  - AEAD: XChaCha20-Poly1305 (IETF) with a random 192-bit nonce per
//    message, so nonces never need coordination between threads or runs;
//  - key derivation: Argon2id (crypto_pwhash).
#pragma once

#include <cstdint>
#include <string>

#include "bytes.h"

namespace snapkeep::engine {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 24;  // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
constexpr size_t kMacSize = 16;    // crypto_aead_xchacha20poly1305_ietf_ABYTES

// The keys of an open repository. Plain data, copied into every request.
struct RepoKeys {
  bool encrypted = false;
  uint8_t enc[kKeySize] = {};  // AEAD key (unused when not encrypted)
  uint8_t id[kKeySize] = {};   // BLAKE2b key for chunk ids and MACs
};

ChunkId KeyedHash(const RepoKeys& keys, const uint8_t* data, size_t len);

// nonce || ciphertext || tag, with `ad` authenticated but not stored.
void Seal(const uint8_t key[kKeySize], const uint8_t* plain, size_t len, const uint8_t* ad,
          size_t adLen, Bytes& out);
// Appends the plaintext of nonce||ciphertext||tag to `out`; false when the
// tag does not verify (wrong key or damaged bytes).
bool Open(const uint8_t key[kKeySize], const uint8_t* sealed, size_t len, const uint8_t* ad,
          size_t adLen, Bytes& out);

// Argon2id; false when the parameters are out of libsodium's range or
// memory cannot be had.
bool DeriveKey(const std::string& passphrase, const uint8_t* salt, uint64_t opsLimit,
               uint64_t memLimit, uint8_t out[kKeySize]);

}  // namespace snapkeep::engine
