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
// A stored blob is nonce[24] | AEAD(payload, ad = chunk id) in
// encrypted repositories and the payload itself otherwise; the payload is
// the chunk, zstd-compressed when that made it smaller. The AEAD is the
// repository's (crypto.h); both take 24 bytes of nonce and 16 of tag.
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

// Chunk sizes a repository may have (electron/core/engine/format.ts).
constexpr uint32_t kMinChunkSize = 4096;
constexpr uint32_t kMaxChunkSize = 16u << 20;
// Packs are sealed once they reach the config's pack size; offsets are u32.
constexpr uint64_t kMinPackSize = 64u << 10;
constexpr uint64_t kMaxPackSize = 1u << 30;
// What encryption adds to a stored blob: nonce and tag.
constexpr uint32_t kBlobOverhead = kNonceSize + kMacSize;
// The most a blob of rawLen bytes may take stored: zstd's worst case plus
// the AEAD overhead. Anything longer is damage or an attack.
uint64_t MaxStoredLen(uint32_t rawLen);
// A trailer longer than this (a 1 GiB pack of 4 KiB chunks needs 12 MiB)
// is not read: its length field is damaged or forged.
constexpr uint32_t kMaxTrailerSize = 64u << 20;

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
// False on a malformed payload: a count that does not fit the length, a
// zero id, unknown flags, a raw length of 0 or above kMaxChunkSize, a
// stored length that cannot belong to that raw length.
bool DecodeEntries(const uint8_t* p, size_t len, std::vector<PackEntry>& out);

// Sealed trailer followed by the footer.
Bytes EncodeTrailer(const RepoKeys& keys, const std::vector<PackEntry>& entries);
// Parses trailer+footer found at the end of a pack of `packSize` bytes;
// `tail` holds the last `tailLen` bytes of the pack. Sets `needTail` when
// more bytes are needed, returns false on damage.
bool DecodeTrailer(const RepoKeys& keys, const uint8_t* tail, size_t tailLen, uint64_t packSize,
                   std::vector<PackEntry>& out, size_t* needTail);

// packs/<xx>/<id>, relative to the repository (for RepoDir).
std::string PackRel(const std::string& packId);
// The same below `repo`, for messages.
std::string PackPath(const std::string& repo, const std::string& packId);
// 32 lowercase hex digits.
bool ValidPackId(const std::string& packId);

}  // namespace snapkeep::engine
