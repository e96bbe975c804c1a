#include "crypto.h"

#include <sodium.h>

namespace snapkeep::engine {

static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kMacSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

ChunkId KeyedHash(const RepoKeys& keys, const uint8_t* data, size_t len) {
  ChunkId id;
  crypto_generichash(id.data(), id.size(), data, len, keys.id, kKeySize);
  return id;
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

bool DeriveKey(const std::string& passphrase, const uint8_t* salt, uint64_t opsLimit,
               uint64_t memLimit, uint8_t out[kKeySize]) {
  return crypto_pwhash(out, kKeySize, passphrase.data(), passphrase.size(), salt, opsLimit,
                       static_cast<size_t>(memLimit), crypto_pwhash_ALG_ARGON2ID13) == 0;
}

}  // namespace snapkeep::engine
