// The pack container (docs/repository-format.md, "Pack files"):
//
//   header   version 1 (layout 1: formats 1 and 2):
//              "SKPACK" | version u8 = 1 | reserved u8 = 0         (8 bytes)
//            version 2 (layout 2: format 3, append-only):
//              "SKPACK" | version u8 = 2 | key kind u8 = 1 |
//              key pair id[8] | sealed session key[80]             (96 bytes)
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
// repository's (crypto.h); both take 24 bytes of nonce and 16 of tag. Its
// key is the repository's in version 1, the session key sealed in the
// header (crypto_box_seal to the repository's public key) in version 2.
// A pack's version follows from the repository's layout: the other one is
// damage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bytes.h"
#include "crypto.h"

namespace snapkeep::engine {

constexpr uint8_t kPackMagic[6] = {'S', 'K', 'P', 'A', 'C', 'K'};
constexpr uint8_t kPackVersion1 = 1;
constexpr uint8_t kPackVersion2 = 2;
// Version 2's key kind: a session key sealed to the repository's key pair.
constexpr uint8_t kPackKeySealed = 1;
// The largest header (what a reader reads to know a pack's version).
constexpr size_t kMaxPackHeaderSize = 8 + kKeyPairIdSize + kSealedKeySize;
// 8 for version 1, 96 for version 2, 0 for any other.
constexpr size_t PackHeaderSize(uint8_t version) {
  return version == kPackVersion1 ? 8 : version == kPackVersion2 ? kMaxPackHeaderSize : 0;
}
// The version of the packs of a repository of this layout.
constexpr uint8_t PackVersionOf(uint8_t layout) { return layout == 2 ? kPackVersion2 : kPackVersion1; }
inline size_t PackHeaderSizeOf(const RepoKeys& keys) { return PackHeaderSize(PackVersionOf(keys.layout)); }
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

// What a pack's header says (version 2: whose key pair sealed its session key, and the seal).
struct PackHeaderInfo {
  uint8_t version = 0;
  uint8_t keyPairId[kKeyPairIdSize] = {};
  uint8_t sealed[kSealedKeySize] = {};
};

// The header of a pack written under `keys` (a WriteSession's in layout 2:
// its `sealed`), PackHeaderSizeOf(keys) bytes.
Bytes PackHeader(const RepoKeys& keys);
// Checks the form of the header at `p` (`len` bytes there) for a pack of a
// repository of `layout`: magic, the version of that layout, version 2's key
// kind. The seal is not opened here. On failure `why` says what is wrong.
bool CheckPackHeader(uint8_t layout, const uint8_t* p, size_t len, PackHeaderInfo* out,
                     std::string* why = nullptr);

Bytes EncodeEntries(const std::vector<PackEntry>& entries);
// False on a malformed payload: a count that does not fit the length, a
// zero id, unknown flags, a raw length of 0 or above kMaxChunkSize, a
// stored length that cannot belong to that raw length.
bool DecodeEntries(const uint8_t* p, size_t len, std::vector<PackEntry>& out);

// Sealed trailer followed by the footer.
Bytes EncodeTrailer(const RepoKeys& keys, const std::vector<PackEntry>& entries);
// Parses trailer+footer found at the end of a pack of `packSize` bytes
// (its header that of `keys`' layout); `tail` holds the last `tailLen` bytes
// of the pack. Sets `needTail` when
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
