// The pack container (docs/repository-format.md, "Pack files"):
//
//   header   "SKPACK" | version u8 = 1 | reserved u8 = 0          (8 bytes)
//   blobs    stored chunk bytes, back to back
//   trailer  envelope(type 1, payload = count u32 | entry * count)
//   footer   trailer length u32 | "SKPE"                           (8 bytes)
//
//   entry    id[32] | offset u32 | stored length u32 | raw length u32 | flags u8
//   flags    bit 0: zstd-compressed
//
// A stored blob is nonce | XChaCha20-Poly1305(payload, ad = chunk id) in
// encrypted repositories and the payload itself otherwise; the payload is
// the chunk, zstd-compressed when that made it smaller.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bytes.h"
#include "crypto.h"

namespace snapkeep::engine {

constexpr uint8_t kPackMagic[6] = {'S', 'K', 'P', 'A', 'C', 'K'};
constexpr uint8_t kPackVersion = 1;
constexpr size_t kPackHeaderSize = 8;
constexpr uint8_t kFooterMagic[4] = {'S', 'K', 'P', 'E'};
constexpr size_t kPackFooterSize = 8;
constexpr size_t kPackEntrySize = kIdSize + 4 + 4 + 4 + 1;
constexpr uint8_t kFlagCompressed = 1;
constexpr size_t kPackIdBytes = 16;  // pack ids are 32 hex digits

struct PackEntry {
  ChunkId id{};
  uint32_t offset = 0;
  uint32_t storedLen = 0;
  uint32_t rawLen = 0;
  uint8_t flags = 0;
  bool operator==(const PackEntry& o) const {
    return id == o.id && offset == o.offset && storedLen == o.storedLen && rawLen == o.rawLen &&
           flags == o.flags;
  }
};

struct PackInfo {
  std::string id;  // 32 hex digits
  uint64_t size = 0;
  std::vector<PackEntry> entries;
};

void PackHeader(uint8_t out[kPackHeaderSize]);
bool CheckPackHeader(const uint8_t* p);

Bytes EncodeEntries(const std::vector<PackEntry>& entries);
// False on a malformed payload.
bool DecodeEntries(const uint8_t* p, size_t len, std::vector<PackEntry>& out);

// Sealed trailer followed by the footer.
Bytes EncodeTrailer(const RepoKeys& keys, const std::vector<PackEntry>& entries);
// Parses trailer+footer found at the end of a pack of `packSize` bytes;
// `tail` holds the last `tailLen` bytes of the pack. Sets `needTail` when
// more bytes are needed, returns false on damage.
bool DecodeTrailer(const RepoKeys& keys, const uint8_t* tail, size_t tailLen, uint64_t packSize,
                   std::vector<PackEntry>& out, size_t* needTail);

std::string PackPath(const std::string& repo, const std::string& packId);

}  // namespace snapkeep::engine
