#include "crypto.h"

#include <cpuid.h>
#include <sodium.h>

#include <chrono>
#include <cstring>

#include "crypto_openssl.h"
#include "engine_error.h"

namespace snapkeep::engine {

static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kMacSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kBoxPublicKeySize == crypto_box_PUBLICKEYBYTES);
static_assert(kBoxSecretKeySize == crypto_box_SECRETKEYBYTES);
static_assert(kSealedKeySize == crypto_box_SEALBYTES + kKeySize);

namespace {

// aes256gcm: nonce[0..12] picks the subkey, nonce[12..24] is GCM's nonce.
constexpr size_t kSubkeySalt = 12;
constexpr char kSubkeyLabel[] = "snapkeep aes256gcm subkey v1";

void GcmSubkey(const uint8_t key[kKeySize], const uint8_t* nonce, uint8_t sub[kKeySize]) {
  ossl::HmacSha256(key, reinterpret_cast<const uint8_t*>(kSubkeyLabel), sizeof kSubkeyLabel - 1,
                   nonce, kSubkeySalt, sub);
}

void SealGcm(const uint8_t key[kKeySize], const uint8_t* plain, size_t len, const uint8_t* ad,
             size_t adLen, Bytes& out) {
  size_t base = out.size();
  out.resize(base + kNonceSize + len + kMacSize);
  uint8_t* nonce = out.data() + base;
  randombytes_buf(nonce, kNonceSize);
  uint8_t sub[kKeySize];
  GcmSubkey(key, nonce, sub);
  ossl::Aes256GcmSeal(sub, nonce + kSubkeySalt, plain, len, ad, adLen, nonce + kNonceSize);
  sodium_memzero(sub, sizeof sub);
}

bool OpenGcm(const uint8_t key[kKeySize], const uint8_t* sealed, size_t len, const uint8_t* ad,
             size_t adLen, Bytes& out) {
  if (len < kNonceSize + kMacSize) return false;
  size_t base = out.size();
  out.resize(base + len - kNonceSize - kMacSize);
  uint8_t sub[kKeySize];
  GcmSubkey(key, sealed, sub);
  bool ok = ossl::Aes256GcmOpen(sub, sealed + kSubkeySalt, sealed + kNonceSize, len - kNonceSize,
                                ad, adLen, out.data() + base);
  sodium_memzero(sub, sizeof sub);
  if (!ok) {
    // Never hand back plaintext that failed authentication.
    sodium_memzero(out.data() + base, out.size() - base);
    out.resize(base);
  }
  return ok;
}

}  // namespace

bool ParseIdAlg(const std::string& name, IdAlg* out) {
  if (name == "blake2b-keyed") *out = IdAlg::kBlake2bKeyed;
  else if (name == "hmac-sha256") *out = IdAlg::kHmacSha256;
  else return false;
  return true;
}

bool ParseAeadAlg(const std::string& name, AeadAlg* out) {
  if (name == "xchacha20poly1305") *out = AeadAlg::kXChaCha20Poly1305;
  else if (name == "aes256gcm") *out = AeadAlg::kAes256Gcm;
  else return false;
  return true;
}

ChunkId KeyedHash(const RepoKeys& keys, const uint8_t* data, size_t len) {
  ChunkId id;
  static_assert(sizeof id == 32);
  if (keys.idAlg == IdAlg::kHmacSha256)
    ossl::HmacSha256(keys.id, data, len, id.data());
  else
    crypto_generichash(id.data(), id.size(), data, len, keys.id, kKeySize);
  return id;
}

void Seal(const RepoKeys& keys, const uint8_t* plain, size_t len, const uint8_t* ad, size_t adLen,
          Bytes& out) {
  Seal(keys.aead, keys.enc, plain, len, ad, adLen, out);
}

bool Open(const RepoKeys& keys, const uint8_t* sealed, size_t len, const uint8_t* ad, size_t adLen,
          Bytes& out) {
  return Open(keys.aead, keys.enc, sealed, len, ad, adLen, out);
}

void Seal(AeadAlg aead, const uint8_t key[kKeySize], const uint8_t* plain, size_t len,
          const uint8_t* ad, size_t adLen, Bytes& out) {
  if (aead == AeadAlg::kAes256Gcm)
    SealGcm(key, plain, len, ad, adLen, out);
  else
    Seal(key, plain, len, ad, adLen, out);
}

bool Open(AeadAlg aead, const uint8_t key[kKeySize], const uint8_t* sealed, size_t len,
          const uint8_t* ad, size_t adLen, Bytes& out) {
  if (aead == AeadAlg::kAes256Gcm) return OpenGcm(key, sealed, len, ad, adLen, out);
  return Open(key, sealed, len, ad, adLen, out);
}

void Seal(const uint8_t key[kKeySize], const uint8_t* plain, size_t len, const uint8_t* ad,
          size_t adLen, Bytes& out) {
  size_t base = out.size();
  out.resize(base + kNonceSize + len + kMacSize);
  uint8_t* nonce = out.data() + base;
  randombytes_buf(nonce, kNonceSize);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonceSize, &clen, plain, len, ad, adLen,
                                             nullptr, nonce, key);
}

bool Open(const uint8_t key[kKeySize], const uint8_t* sealed, size_t len, const uint8_t* ad,
          size_t adLen, Bytes& out) {
  if (len < kNonceSize + kMacSize) return false;
  size_t base = out.size();
  out.resize(base + len - kNonceSize - kMacSize);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data() + base, &plen, nullptr,
                                                 sealed + kNonceSize, len - kNonceSize, ad, adLen,
                                                 sealed, key) != 0) {
    out.resize(base);
    return false;
  }
  return true;
}

void BoxKeypair(uint8_t pk[kBoxPublicKeySize], uint8_t sk[kBoxSecretKeySize]) {
  crypto_box_keypair(pk, sk);
}

bool SealKey(const uint8_t pk[kBoxPublicKeySize], const uint8_t key[kKeySize],
             uint8_t sealed[kSealedKeySize]) {
  return crypto_box_seal(sealed, key, kKeySize, pk) == 0;
}

bool OpenSealedKey(const uint8_t pk[kBoxPublicKeySize], const uint8_t sk[kBoxSecretKeySize],
                   const uint8_t sealed[kSealedKeySize], uint8_t key[kKeySize]) {
  if (crypto_box_seal_open(key, sealed, kSealedKeySize, pk, sk) == 0) return true;
  sodium_memzero(key, kKeySize);
  return false;
}

void KeyPairId(const uint8_t pk[kBoxPublicKeySize], uint8_t id[kKeyPairIdSize]) {
  static constexpr char kLabel[] = "snapkeep-pk";
  uint8_t digest[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof digest);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kLabel), sizeof kLabel - 1);
  crypto_generichash_update(&st, pk, kBoxPublicKeySize);
  crypto_generichash_final(&st, digest, sizeof digest);
  std::memcpy(id, digest, kKeyPairIdSize);
}

OwnerKeys::OwnerKeys(const std::vector<Bytes>& secrets) {
  pairs_.resize(secrets.size());
  for (size_t i = 0; i < secrets.size(); i++) {
    Pair& p = pairs_[i];
    if (secrets[i].size() != kBoxSecretKeySize) throw EngineError("INTERNAL", "secret key of the wrong length");
    std::memcpy(p.sk, secrets[i].data(), kBoxSecretKeySize);
    crypto_scalarmult_base(p.pk, p.sk);
    KeyPairId(p.pk, p.id);
  }
}

OwnerKeys::~OwnerKeys() {
  if (!pairs_.empty()) sodium_memzero(pairs_.data(), pairs_.size() * sizeof(Pair));
}

const OwnerKeys::Pair* OwnerKeys::Find(const uint8_t id[kKeyPairIdSize]) const {
  for (const Pair& p : pairs_)
    if (std::memcmp(p.id, id, kKeyPairIdSize) == 0) return &p;
  return nullptr;
}

void RepoKeys::Wipe() {
  sodium_memzero(enc, sizeof enc);
  sodium_memzero(id, sizeof id);
  sodium_memzero(meta, sizeof meta);
  sodium_memzero(sealed, sizeof sealed);
  owner.reset();
}

bool BlobsLocked(const RepoKeys& keys) { return keys.layout == 2 && !keys.owner; }

void RequireBlobKeys(const RepoKeys& keys) {
  if (BlobsLocked(keys))
    throw EngineError("OWNER_KEY_REQUIRED",
                      "the data of this repository can be read only with the owner's key "
                      "(this computer holds the keys that add backups, not those that read them)");
}

WriteSession::WriteSession(const RepoKeys& keys) : keys_(keys) {
  if (keys_.layout != 2) return;
  randombytes_buf(keys_.enc, kKeySize);
  if (!SealKey(keys_.pk, keys_.enc, keys_.sealed)) {
    keys_.Wipe();
    throw Corrupt("the repository's public key is not a usable X25519 key (low order): damaged or forged");
  }
}

bool DeriveKey(const std::string& passphrase, const uint8_t* salt, uint64_t opsLimit,
               uint64_t memLimit, uint8_t out[kKeySize]) {
  return crypto_pwhash(out, kKeySize, passphrase.data(), passphrase.size(), salt, opsLimit,
                       static_cast<size_t>(memLimit), crypto_pwhash_ALG_ARGON2ID13) == 0;
}

bool FastCryptoAvailable() {
  static const bool available = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    bool aes = c & bit_AES, pclmul = c & bit_PCLMUL;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    bool sha = b & bit_SHA;
    return aes && pclmul && sha;
  }();
  return available;
}

int64_t BenchPrimitive(const std::string& primitive, size_t len, uint32_t rounds) {
  Bytes data(len), out;
  randombytes_buf(data.data(), len);
  out.reserve(len + kNonceSize + kMacSize);
  uint8_t key[kKeySize], ad[kIdSize];
  randombytes_buf(key, sizeof key);
  randombytes_buf(ad, sizeof ad);
  RepoKeys keys;
  std::memcpy(keys.enc, key, kKeySize);
  std::memcpy(keys.id, key, kKeySize);
  uint8_t digest[32];
  auto run = [&](auto&& fn) {
    auto t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < rounds; i++) fn();
    return static_cast<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  };
  if (primitive == "blake2b-keyed" || primitive == "hmac-sha256") {
    ParseIdAlg(primitive, &keys.idAlg);
    return run([&] { digest[0] ^= KeyedHash(keys, data.data(), len)[0]; });
  }
  if (primitive == "sha256") return run([&] { ossl::Sha256(data.data(), len, digest); });
  if (primitive == "xchacha20poly1305" || primitive == "aes256gcm") {
    ParseAeadAlg(primitive, &keys.aead);
    return run([&] {
      out.clear();
      Seal(keys, data.data(), len, ad, sizeof ad, out);
    });
  }
  if (primitive == "aes256gcm-raw") {
    out.resize(len + kMacSize);
    uint8_t iv[12] = {};
    return run([&] {
      iv[0]++;
      ossl::Aes256GcmSeal(key, iv, data.data(), len, ad, sizeof ad, out.data());
    });
  }
  if (primitive == "aes256gcm-sodium") {
    if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available()) return -1;
    out.resize(len + crypto_aead_aes256gcm_ABYTES);
    uint8_t npub[crypto_aead_aes256gcm_NPUBBYTES] = {};
    return run([&] {
      npub[0]++;
      unsigned long long clen = 0;
      crypto_aead_aes256gcm_encrypt(out.data(), &clen, data.data(), len, ad, sizeof ad, nullptr, npub, key);
    });
  }
  return -1;
}

}  // namespace snapkeep::engine
