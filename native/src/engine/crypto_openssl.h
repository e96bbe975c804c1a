// The fast set's primitives, from OpenSSL (SHA-NI, AES-NI, VAES): see
// crypto.h for where they are used and docs/repository-format.md for why.
#pragma once

#include <cstddef>
#include <cstdint>

namespace snapkeep::engine::ossl {

// HMAC-SHA-256 of `len` bytes under a 32-byte key into out[32].
void HmacSha256(const uint8_t key[32], const uint8_t* data, size_t len, uint8_t out[32]);
// The same over two pieces (prefix || data), for subkey derivation.
void HmacSha256(const uint8_t key[32], const uint8_t* a, size_t aLen, const uint8_t* b, size_t bLen,
                uint8_t out[32]);
// Plain SHA-256 (benchmark only: what SHA-NI gives without HMAC's framing).
void Sha256(const uint8_t* data, size_t len, uint8_t out[32]);

// AES-256-GCM with a 96-bit nonce: out receives len bytes of ciphertext,
// then the 16-byte tag.
void Aes256GcmSeal(const uint8_t key[32], const uint8_t iv[12], const uint8_t* plain, size_t len,
                   const uint8_t* ad, size_t adLen, uint8_t* out);
// `sealed` is ciphertext || tag of `len` bytes in all; false when the tag
// does not verify (out then holds nothing usable).
bool Aes256GcmOpen(const uint8_t key[32], const uint8_t iv[12], const uint8_t* sealed, size_t len,
                   const uint8_t* ad, size_t adLen, uint8_t* out);

}  // namespace snapkeep::engine::ossl
