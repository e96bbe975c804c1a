#include "crypto_openssl.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <memory>
#include <string>

#include "engine_error.h"

namespace snapkeep::engine::ossl {
namespace {

// Fetched once: an implicit fetch on every call takes a lock and a lookup
// (OpenSSL 3 "performance" notes), which shows at one call per chunk.
EVP_MAC* HmacAlg() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) throw EngineError("INTERNAL", "OpenSSL has no HMAC");
  return mac;
}

const EVP_CIPHER* GcmAlg() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!c) throw EngineError("INTERNAL", "OpenSSL has no AES-256-GCM");
  return c;
}

const EVP_MD* Sha256Alg() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md) throw EngineError("INTERNAL", "OpenSSL has no SHA-256");
  return md;
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

void Need(bool ok, const char* what) {
  if (!ok) throw EngineError("INTERNAL", std::string("OpenSSL: ") + what + " failed");
}

// EVP's lengths are int: feed long buffers in pieces.
constexpr size_t kStep = size_t{1} << 30;

MacCtx HmacInit(const uint8_t key[32]) {
  MacCtx ctx(EVP_MAC_CTX_new(HmacAlg()));
  Need(ctx != nullptr, "EVP_MAC_CTX_new");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  Need(EVP_MAC_init(ctx.get(), key, 32, params) == 1, "HMAC init");
  return ctx;
}

void HmacFinal(EVP_MAC_CTX* ctx, uint8_t out[32]) {
  size_t n = 0;
  Need(EVP_MAC_final(ctx, out, &n, 32) == 1 && n == 32, "HMAC final");
}

}  // namespace

void HmacSha256(const uint8_t key[32], const uint8_t* data, size_t len, uint8_t out[32]) {
  MacCtx ctx = HmacInit(key);
  Need(EVP_MAC_update(ctx.get(), data, len) == 1, "HMAC update");
  HmacFinal(ctx.get(), out);
}

void HmacSha256(const uint8_t key[32], const uint8_t* a, size_t aLen, const uint8_t* b, size_t bLen,
                uint8_t out[32]) {
  MacCtx ctx = HmacInit(key);
  Need(EVP_MAC_update(ctx.get(), a, aLen) == 1 && EVP_MAC_update(ctx.get(), b, bLen) == 1,
       "HMAC update");
  HmacFinal(ctx.get(), out);
}

void Sha256(const uint8_t* data, size_t len, uint8_t out[32]) {
  unsigned int n = 0;
  Need(EVP_Digest(data, len, out, &n, Sha256Alg(), nullptr) == 1, "SHA-256");
}

void Aes256GcmSeal(const uint8_t key[32], const uint8_t iv[12], const uint8_t* plain, size_t len,
                   const uint8_t* ad, size_t adLen, uint8_t* out) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  Need(ctx != nullptr, "EVP_CIPHER_CTX_new");
  // 12 bytes is GCM's default IV length.
  Need(EVP_EncryptInit_ex2(ctx.get(), GcmAlg(), key, iv, nullptr) == 1, "GCM init");
  int n = 0;
  for (size_t off = 0; off < adLen; off += kStep)
    Need(EVP_EncryptUpdate(ctx.get(), nullptr, &n, ad + off, static_cast<int>(std::min(kStep, adLen - off))) == 1,
         "GCM ad");
  size_t done = 0;
  for (size_t off = 0; off < len; off += kStep) {
    Need(EVP_EncryptUpdate(ctx.get(), out + done, &n, plain + off, static_cast<int>(std::min(kStep, len - off))) == 1,
         "GCM encrypt");
    done += static_cast<size_t>(n);
  }
  Need(EVP_EncryptFinal_ex(ctx.get(), out + done, &n) == 1, "GCM final");
  done += static_cast<size_t>(n);
  Need(done == len, "GCM length");
  Need(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out + len) == 1, "GCM tag");
}

bool Aes256GcmOpen(const uint8_t key[32], const uint8_t iv[12], const uint8_t* sealed, size_t len,
                   const uint8_t* ad, size_t adLen, uint8_t* out) {
  if (len < 16) return false;
  size_t clen = len - 16;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  Need(ctx != nullptr, "EVP_CIPHER_CTX_new");
  Need(EVP_DecryptInit_ex2(ctx.get(), GcmAlg(), key, iv, nullptr) == 1, "GCM init");
  int n = 0;
  for (size_t off = 0; off < adLen; off += kStep)
    Need(EVP_DecryptUpdate(ctx.get(), nullptr, &n, ad + off, static_cast<int>(std::min(kStep, adLen - off))) == 1,
         "GCM ad");
  size_t done = 0;
  for (size_t off = 0; off < clen; off += kStep) {
    Need(EVP_DecryptUpdate(ctx.get(), out + done, &n, sealed + off, static_cast<int>(std::min(kStep, clen - off))) == 1,
         "GCM decrypt");
    done += static_cast<size_t>(n);
  }
  // The tag is only read by the ctrl: a const_cast OpenSSL's API forces.
  Need(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, const_cast<uint8_t*>(sealed + clen)) == 1,
       "GCM set tag");
  return EVP_DecryptFinal_ex(ctx.get(), out + done, &n) == 1;
}

}  // namespace snapkeep::engine::ossl
