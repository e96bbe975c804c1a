#include "pack_format.h"

#include <cstring>

#include "envelope.h"

namespace snapkeep::engine {

void PackHeader(uint8_t out[kPackHeaderSize]) {
  std::memcpy(out, kPackMagic, 6);
  out[6] = kPackVersion;
  out[7] = 0;
}

bool CheckPackHeader(const uint8_t* p) {
  return std::memcmp(p, kPackMagic, 6) == 0 && p[6] == kPackVersion;
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

bool DecodeEntries(const uint8_t* p, size_t len, std::vector<PackEntry>& out) {
  if (len < 4) return false;
  uint32_t count = GetU32(p);
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
  if (tailLen < kPackFooterSize || packSize < kPackHeaderSize + kPackFooterSize) return false;
  const uint8_t* footer = tail + tailLen - kPackFooterSize;
  if (std::memcmp(footer + 4, kFooterMagic, 4) != 0) return false;
  uint32_t tlen = GetU32(footer);
  if (uint64_t(tlen) + kPackFooterSize + kPackHeaderSize > packSize) return false;
  if (tlen + kPackFooterSize > tailLen) {
    *needTail = tlen + kPackFooterSize;
    return false;
  }
  Bytes payload;
  if (!OpenEnvelope(keys, EnvelopeType::kPackTrailer, footer - tlen, tlen, payload)) return false;
  if (!DecodeEntries(payload.data(), payload.size(), out)) return false;
  uint64_t blobsEnd = packSize - kPackFooterSize - tlen;
  for (const PackEntry& e : out)
    if (e.offset < kPackHeaderSize || uint64_t(e.offset) + e.storedLen > blobsEnd) return false;
  return true;
}

std::string PackPath(const std::string& repo, const std::string& packId) {
  return repo + "/packs/" + packId.substr(0, 2) + "/" + packId;
}

}  // namespace snapkeep::engine
