// The repository's cryptography (docs/repository-format.md, "Algorithms").
// Two sets, chosen per repository when it is created and named in its
// config; a repository keeps its set for life:
//
//  - classic (format 1, and CPUs without SHA-NI / AES-NI), libsodium:
//      chunk ids   BLAKE2b-256 keyed with the id key      ("blake2b-keyed")
//      AEAD        XChaCha20-Poly1305 (IETF)              ("xchacha20poly1305")
//  - fast (CPUs with SHA-NI and AES-NI + PCLMULQDQ), OpenSSL:
//      chunk ids   HMAC-SHA-256 keyed with the id key     ("hmac-sha256")
//      AEAD        AES-256-GCM under a per-message subkey ("aes256gcm")
//
// Chunk ids are keyed also in unencrypted repositories, so ids reveal
// nothing about content to someone without the key and cannot be forged to
// collide. Both AEADs take a random 192-bit nonce per message, so nonces
// never need coordination between threads, runs or computers. AES-GCM's
// own nonce is 96 bits, safe at random only up to ~2^32 messages per key;
// so the first 96 bits of ours pick a subkey, HMAC-SHA-256(enc key,
// "snapkeep aes256gcm subkey v1" || nonce[0..12]), and the last 96 are the
// GCM nonce under it (the XAES-256-GCM construction, with HMAC as the KDF).
// Metadata MACs of plain repositories and key derivation (Argon2id) are
// the same in both sets: they are not on the hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bytes.h"

namespace snapkeep::engine {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 24;  // both AEADs: random per message
constexpr size_t kMacSize = 16;    // both AEADs' tags

enum class IdAlg : uint8_t { kBlake2bKeyed = 0, kHmacSha256 = 1 };
enum class AeadAlg : uint8_t { kXChaCha20Poly1305 = 0, kAes256Gcm = 1 };

// Config names (electron/core/engine/config.ts); false for unknown ones.
bool ParseIdAlg(const std::string& name, IdAlg* out);
bool ParseAeadAlg(const std::string& name, AeadAlg* out);

// Sealed boxes (libsodium crypto_box_seal: X25519 + XSalsa20-Poly1305) for
// append-only repositories: a writer seals a random data key to the
// repository's public key and cannot open it again; only the owner's secret
// key can. The sealed form is an ephemeral public key, the ciphertext and a
// tag; each seal differs (fresh ephemeral key).
constexpr size_t kBoxPublicKeySize = 32;
constexpr size_t kBoxSecretKeySize = 32;
constexpr size_t kSealedKeySize = 32 + kKeySize + 16;  // 80
// A key pair's id in a version-2 pack header: the first 8 bytes of
// BLAKE2b-256("snapkeep-pk" || pk). Picks the owner's secret key (current or
// retired) without trying each.
constexpr size_t kKeyPairIdSize = 8;

// The owner's X25519 secret keys of a layout-2 repository, the current one
// first, retired ones after, each with its public key and key pair id.
// Shared by every copy of the RepoKeys that holds them; wiped when the last
// goes.
class OwnerKeys {
 public:
  struct Pair {
    uint8_t pk[kBoxPublicKeySize];
    uint8_t sk[kBoxSecretKeySize];
    uint8_t id[kKeyPairIdSize];
  };
  // `secrets` holds whole 32-byte keys; each public key is derived from its secret.
  explicit OwnerKeys(const std::vector<Bytes>& secrets);
  ~OwnerKeys();
  OwnerKeys(const OwnerKeys&) = delete;
  OwnerKeys& operator=(const OwnerKeys&) = delete;
  const std::vector<Pair>& Pairs() const { return pairs_; }
  // The pair with this id, or null.
  const Pair* Find(const uint8_t id[kKeyPairIdSize]) const;

 private:
  std::vector<Pair> pairs_;
};

// The keys of an open repository. Plain data, copied into every request;
// Wipe() clears them.
struct RepoKeys {
  bool encrypted = false;
  IdAlg idAlg = IdAlg::kBlake2bKeyed;
  AeadAlg aead = AeadAlg::kXChaCha20Poly1305;
  // AEAD key of blobs (unused when not encrypted). Layout 2 has no lasting
  // one: a writing session (WriteSession) puts its own here.
  uint8_t enc[kKeySize] = {};
  uint8_t id[kKeySize] = {};   // chunk-id key, also of the plain-mode MACs
  // Envelopes (manifests, lists, index frames, pack trailers) are sealed
  // under MetaKey(). Layout 1 (formats 1 and 2) has one key for blobs and
  // envelopes, so `meta` is unused there and MetaKey() is `enc`: every
  // existing byte stays the same. Layout 2 (format 3, append-only: docs/
  // append-only-design.md) gives clients `meta` without the blobs' keys.
  uint8_t layout = 1;
  uint8_t meta[kKeySize] = {};
  const uint8_t* MetaKey() const { return layout == 1 ? enc : meta; }
  // Layout 2: the repository's public key, and in a writing session `enc`
  // sealed to it (the version-2 pack header of every pack the session writes).
  uint8_t pk[kBoxPublicKeySize] = {};
  uint8_t sealed[kSealedKeySize] = {};
  // Layout 2, the owner only: what opens the packs' sealed keys. Null for an
  // append-only client, which can write blobs but not read them.
  std::shared_ptr<const OwnerKeys> owner;

  void Wipe();
};

// Layout 2 and no owner keys: the blobs cannot be read here.
bool BlobsLocked(const RepoKeys& keys);
// Throws OWNER_KEY_REQUIRED when BlobsLocked(keys): before an operation
// that reads blobs writes or locks anything.
void RequireBlobKeys(const RepoKeys& keys);

// A writing session's keys (a backup call, a compaction): layout 1 the
// repository's keys as they are; layout 2 a copy whose `enc` is a fresh
// random key and `sealed` that key sealed to `pk`. The session key exists
// in this object and the pack writer's copy only, and is wiped with them.
// Throws REPO_CORRUPT when `pk` is not a usable X25519 key.
class WriteSession {
 public:
  explicit WriteSession(const RepoKeys& keys);
  ~WriteSession() { keys_.Wipe(); }
  WriteSession(const WriteSession&) = delete;
  WriteSession& operator=(const WriteSession&) = delete;
  const RepoKeys& Keys() const { return keys_; }

 private:
  RepoKeys keys_;
};

ChunkId KeyedHash(const RepoKeys& keys, const uint8_t* data, size_t len);

// nonce || ciphertext || tag with the repository's AEAD, `ad` authenticated
// but not stored.
void Seal(const RepoKeys& keys, const uint8_t* plain, size_t len, const uint8_t* ad, size_t adLen,
          Bytes& out);
// Appends the plaintext of nonce||ciphertext||tag to `out`; false when the
// tag does not verify (wrong key, wrong algorithm or damaged bytes).
bool Open(const RepoKeys& keys, const uint8_t* sealed, size_t len, const uint8_t* ad, size_t adLen,
          Bytes& out);

// The repository's AEAD with one of its keys given explicitly (envelopes:
// keys.MetaKey()); the RepoKeys overloads above use `enc`.
void Seal(AeadAlg aead, const uint8_t key[kKeySize], const uint8_t* plain, size_t len,
          const uint8_t* ad, size_t adLen, Bytes& out);
bool Open(AeadAlg aead, const uint8_t key[kKeySize], const uint8_t* sealed, size_t len,
          const uint8_t* ad, size_t adLen, Bytes& out);

// XChaCha20-Poly1305 with an explicit key: the master keys wrapped under the
// passphrase's key, the same in every repository.
void Seal(const uint8_t key[kKeySize], const uint8_t* plain, size_t len, const uint8_t* ad,
          size_t adLen, Bytes& out);
bool Open(const uint8_t key[kKeySize], const uint8_t* sealed, size_t len, const uint8_t* ad,
          size_t adLen, Bytes& out);

void BoxKeypair(uint8_t pk[kBoxPublicKeySize], uint8_t sk[kBoxSecretKeySize]);
// False when `pk` is not a usable X25519 public key (one of low order gives
// an all-zero shared secret, which libsodium refuses): damaged or forged.
bool SealKey(const uint8_t pk[kBoxPublicKeySize], const uint8_t key[kKeySize],
             uint8_t sealed[kSealedKeySize]);
// False when the seal does not open with this key pair: damaged, sealed to
// another pair, or `sk` not the secret of `pk`. `key` is then zeroed.
bool OpenSealedKey(const uint8_t pk[kBoxPublicKeySize], const uint8_t sk[kBoxSecretKeySize],
                   const uint8_t sealed[kSealedKeySize], uint8_t key[kKeySize]);
void KeyPairId(const uint8_t pk[kBoxPublicKeySize], uint8_t id[kKeyPairIdSize]);

// Argon2id; false when the parameters are out of libsodium's range or
// memory cannot be had.
bool DeriveKey(const std::string& passphrase, const uint8_t* salt, uint64_t opsLimit,
               uint64_t memLimit, uint8_t out[kKeySize]);

// The CPU has the instructions the fast set needs (SHA-NI for SHA-256,
// AES-NI and PCLMULQDQ for AES-GCM). Read once with CPUID.
bool FastCryptoAvailable();

// Micro-benchmark (test/bench/crypto.mjs): runs `primitive` over `len`
// bytes `rounds` times on the calling thread, returns nanoseconds. Names:
// blake2b-keyed, hmac-sha256, sha256, xchacha20poly1305, aes256gcm (ours,
// subkey per message), aes256gcm-raw (OpenSSL, one key),
// aes256gcm-sodium (libsodium). -1 for an unknown or unavailable one.
int64_t BenchPrimitive(const std::string& primitive, size_t len, uint32_t rounds);

}  // namespace snapkeep::engine
