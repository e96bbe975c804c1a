#include "envelope.h"

#include <sodium.h>

#include <cstring>

namespace snapkeep::engine {
namespace {

constexpr uint8_t kMagic[4] = {'S', 'K', 'E', 'N'};
constexpr uint8_t kVersion = 1;

void Header(const RepoKeys& keys, EnvelopeType type, uint8_t out[kEnvelopeHeader]) {
  std::memcpy(out, kMagic, 4);
  out[4] = kVersion;
  // The mode names the AEAD, and the header is its associated data: an
  // envelope opens only under the algorithm it was sealed with.
  out[5] = !keys.encrypted ? 0 : keys.aead == AeadAlg::kAes256Gcm ? 2 : 1;
  out[6] = static_cast<uint8_t>(type);
  out[7] = 0;
}

void Mac(const RepoKeys& keys, const uint8_t* header, const uint8_t* payload, size_t len,
         uint8_t out[kIdSize]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, keys.id, kKeySize, kIdSize);
  crypto_generichash_update(&st, header, kEnvelopeHeader);
  crypto_generichash_update(&st, payload, len);
  crypto_generichash_final(&st, out, kIdSize);
}

}  // namespace

Bytes SealEnvelope(const RepoKeys& keys, EnvelopeType type, const uint8_t* payload, size_t len) {
  uint8_t header[kEnvelopeHeader];
  Header(keys, type, header);
  Bytes out(kEnvelopeHeader);
  std::memcpy(out.data(), header, kEnvelopeHeader);
  if (keys.encrypted) {
    Seal(keys.aead, keys.MetaKey(), payload, len, header, kEnvelopeHeader, out);
  } else {
    out.resize(kEnvelopeHeader + len);
    if (len) std::memcpy(out.data() + kEnvelopeHeader, payload, len);
    uint8_t mac[kIdSize];
    Mac(keys, header, payload, len, mac);
    out.resize(kEnvelopeHeader + len + kIdSize);
    std::memcpy(out.data() + kEnvelopeHeader + len, mac, kIdSize);
  }
  return out;
}

bool OpenEnvelope(const RepoKeys& keys, EnvelopeType type, const uint8_t* data, size_t len,
                  Bytes& payload) {
  uint8_t expect[kEnvelopeHeader];
  Header(keys, type, expect);
  if (len < kEnvelopeHeader || std::memcmp(data, expect, kEnvelopeHeader) != 0) return false;
  payload.clear();
  if (keys.encrypted)
    return Open(keys.aead, keys.MetaKey(), data + kEnvelopeHeader, len - kEnvelopeHeader, data,
                kEnvelopeHeader, payload);
  if (len < kEnvelopeHeader + kIdSize) return false;
  size_t plen = len - kEnvelopeHeader - kIdSize;
  uint8_t mac[kIdSize];
  Mac(keys, data, data + kEnvelopeHeader, plen, mac);
  if (sodium_memcmp(mac, data + kEnvelopeHeader + plen, kIdSize) != 0) return false;
  payload.assign(data + kEnvelopeHeader, data + kEnvelopeHeader + plen);
  return true;
}

}  // namespace snapkeep::engine
