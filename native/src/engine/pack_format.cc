#include "pack_format.h"

#include <zstd.h>

#include <cstring>

#include "envelope.h"

namespace snapkeep::engine {

Bytes PackHeader(const RepoKeys& keys) {
  const uint8_t version = PackVersionOf(keys.layout);
  Bytes out(PackHeaderSize(version));
  std::memcpy(out.data(), kPackMagic, 6);
  out[6] = version;
  out[7] = 0;
  if (version == kPackVersion2) {
    out[7] = kPackKeySealed;
    KeyPairId(keys.pk, out.data() + 8);
    std::memcpy(out.data() + 8 + kKeyPairIdSize, keys.sealed, kSealedKeySize);
  }
  return out;
}

bool CheckPackHeader(uint8_t layout, const uint8_t* p, size_t len, PackHeaderInfo* out,
                     std::string* why) {
  auto fail = [why](const std::string& what) {
    if (why) *why = what;
    return false;
  };
  if (len < PackHeaderSize(kPackVersion1) || std::memcmp(p, kPackMagic, 6) != 0)
    return fail("has no pack header");
  const uint8_t want = PackVersionOf(layout);
  if (p[6] != want) {
    if (PackHeaderSize(p[6]) == 0) return fail("has an unknown pack version " + std::to_string(p[6]));
    return fail("is a version " + std::to_string(p[6]) + " pack in a repository whose packs are version " +
                std::to_string(want));
  }
  if (len < PackHeaderSize(want)) return fail("is shorter than its header");
  PackHeaderInfo info;
  info.version = want;
  if (want == kPackVersion2) {
    if (p[7] != kPackKeySealed) return fail("has an unknown key kind " + std::to_string(p[7]));
    std::memcpy(info.keyPairId, p + 8, kKeyPairIdSize);
    std::memcpy(info.sealed, p + 8 + kKeyPairIdSize, kSealedKeySize);
  }
  if (out) *out = info;
  return true;
}

Bytes EncodeEntries(const std::vector<PackEntry>& entries) {
  Bytes out;
  out.reserve(4 + entries.size() * kPackEntrySize);
  PutU32(out, static_cast<uint32_t>(entries.size()));
  for (const PackEntry& e : entries) {
    out.insert(out.end(), e.id.begin(), e.id.end());
    PutU32(out, e.offset);
    PutU32(out, e.storedLen);
    PutU32(out, e.rawLen);
    out.push_back(e.flags);
  }
  return out;
}

uint64_t MaxStoredLen(uint32_t rawLen) { return uint64_t(ZSTD_COMPRESSBOUND(rawLen)) + kBlobOverhead; }

bool DecodeEntries(const uint8_t* p, size_t len, std::vector<PackEntry>& out) {
  if (len < 4) return false;
  uint32_t count = GetU32(p);
  // The count is bounded by the bytes that hold the entries, so a forged
  // count never drives an allocation.
  if (len != 4 + uint64_t(count) * kPackEntrySize) return false;
  out.clear();
  out.reserve(count);
  const uint8_t* q = p + 4;
  for (uint32_t i = 0; i < count; i++, q += kPackEntrySize) {
    PackEntry e;
    std::memcpy(e.id.data(), q, kIdSize);
    e.offset = GetU32(q + 32);
    e.storedLen = GetU32(q + 36);
    e.rawLen = GetU32(q + 40);
    e.flags = q[44];
    if (e.flags & ~kFlagCompressed) return false;
    if (IsZeroId(e.id)) return false;  // zero chunks are never stored
    if (e.rawLen == 0 || e.rawLen > kMaxChunkSize) return false;
    if (e.storedLen == 0 || e.storedLen > MaxStoredLen(e.rawLen)) return false;
    // A raw blob is the chunk itself (plus the AEAD overhead when encrypted).
    if (!(e.flags & kFlagCompressed) && e.storedLen != e.rawLen && e.storedLen != e.rawLen + kBlobOverhead)
      return false;
    out.push_back(e);
  }
  return true;
}

Bytes EncodeTrailer(const RepoKeys& keys, const std::vector<PackEntry>& entries) {
  Bytes payload = EncodeEntries(entries);
  Bytes out = SealEnvelope(keys, EnvelopeType::kPackTrailer, payload.data(), payload.size());
  uint32_t len = static_cast<uint32_t>(out.size());
  PutU32(out, len);
  out.insert(out.end(), kFooterMagic, kFooterMagic + 4);
  return out;
}

bool DecodeTrailer(const RepoKeys& keys, const uint8_t* tail, size_t tailLen, uint64_t packSize,
                   std::vector<PackEntry>& out, size_t* needTail) {
  *needTail = 0;
  const size_t headerSize = PackHeaderSizeOf(keys);
  if (tailLen < kPackFooterSize || packSize < headerSize + kPackFooterSize) return false;
  const uint8_t* footer = tail + tailLen - kPackFooterSize;
  if (std::memcmp(footer + 4, kFooterMagic, 4) != 0) return false;
  uint32_t tlen = GetU32(footer);
  if (uint64_t(tlen) + kPackFooterSize + headerSize > packSize || tlen > kMaxTrailerSize) return false;
  if (tlen + kPackFooterSize > tailLen) {
    *needTail = tlen + kPackFooterSize;
    return false;
  }
  Bytes payload;
  if (!OpenEnvelope(keys, EnvelopeType::kPackTrailer, footer - tlen, tlen, payload)) return false;
  if (!DecodeEntries(payload.data(), payload.size(), out)) return false;
  uint64_t blobsEnd = packSize - kPackFooterSize - tlen;
  for (const PackEntry& e : out)
    if (e.offset < headerSize || uint64_t(e.offset) + e.storedLen > blobsEnd) return false;
  return true;
}

std::string PackRel(const std::string& packId) {
  return "packs/" + packId.substr(0, 2) + "/" + packId;
}

std::string PackPath(const std::string& repo, const std::string& packId) {
  return repo + "/" + PackRel(packId);
}

bool ValidPackId(const std::string& packId) {
  uint8_t raw[kPackIdBytes];
  return FromHex(packId, raw, kPackIdBytes);
}

}  // namespace snapkeep::engine
