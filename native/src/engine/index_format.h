// Index format 2 (docs/repository-format.md, "Index files, version 2"):
// sorted fixed-width entries written and read as a stream of small
// authenticated frames, so neither side ever holds a whole index, and the
// local cache file they are decoded into, which is used in place (mmap).
//
//   file   "SKIX" | version u8 = 2 | reserved u8[3]
//          then frames: length u32 | envelope(type 2, frame payload)
//   frame  file id[16] | sequence u32 | kind u8 | reserved u8[3] | count u32 | body
//          kind 1 packs    count x (pack id[16] | size u64)
//          kind 2 removed  count x pack id[16]
//          kind 3 entries  count x entry (sorted by chunk id across frames)
//          kind 4 end      packs u32 | removed u32 | entries u64 | frames u32
//   entry  chunk id[32] | pack u32 | offset u32 | stored length u32 |
//          raw length (bits 0-27) and flags (bits 28-31) u32            48 bytes
//
// Frames come in kind order (packs, removed, entries, end), numbered from
// 0; the file id is the file's name, so frames cannot be moved between
// files, reordered, dropped or repeated without failing. A "removed" pack
// is one prune deleted: entries naming it in any index file are void.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <sodium.h>

#include "bytes.h"
#include "crypto.h"
#include "file_io.h"
#include "pack_format.h"
#include "repo_dir.h"

namespace snapkeep::engine {

constexpr size_t kIndexEntryBytes = 48;
constexpr size_t kIndexPackBytes = kPackIdBytes + 8;
constexpr size_t kFrameHeaderBytes = 16 + 4 + 1 + 3 + 4;
constexpr size_t kEntriesPerFrame = 16384;  // 768 KiB of entries
constexpr size_t kMaxFrameBytes = 2 << 20;  // sealed frame, incl. envelope
constexpr uint32_t kMaxRawLen = (1u << 28) - 1;

enum class FrameKind : uint8_t { kPacks = 1, kRemoved = 2, kEntries = 3, kEnd = 4 };

using PackKey = std::array<uint8_t, kPackIdBytes>;

// One entry; `pack` is a number into the pack table of the file it is in.
struct IndexRecord {
  ChunkId id{};
  uint32_t pack = 0;
  uint32_t offset = 0;
  uint32_t storedLen = 0;
  uint32_t rawLen = 0;
  uint8_t flags = 0;
};

void PutRecord(uint8_t* p, const IndexRecord& r);
IndexRecord GetRecord(const uint8_t* p);
inline int CompareIds(const uint8_t* a, const uint8_t* b) { return std::memcmp(a, b, kIdSize); }

struct IndexPack {
  PackKey id{};
  uint64_t size = 0;
};

// What a frame holds, pointing into the decoded payload.
struct FrameView {
  FrameKind kind = FrameKind::kEnd;
  uint32_t count = 0;
  const uint8_t* body = nullptr;
  size_t bodyLen = 0;
};

// Opens one sealed frame (without its length prefix) and checks the file
// id, the sequence number and that count matches the body's length.
// `payload` receives the plaintext that `out` points into. False on any
// mismatch or damage.
bool DecodeFrame(const RepoKeys& keys, const uint8_t* sealed, size_t len, const PackKey& fileId,
                 uint32_t seq, Bytes& payload, FrameView& out);
Bytes EncodeFrame(const RepoKeys& keys, const PackKey& fileId, uint32_t seq, FrameKind kind,
                  uint32_t count, const uint8_t* body, size_t bodyLen);

// Where the decoded frames of an index file go, in file order: each
// frame's body (count items of the kind's size). Entries are checked
// (sorted, pack numbers in range, lengths inside their pack) before.
using IndexSink = std::function<void(FrameKind kind, const uint8_t* body, uint32_t count)>;
IndexPack GetIndexPack(const uint8_t* p);

// Reads an index file of version 2 through `fd` frame by frame. Throws
// REPO_CORRUPT naming the file when anything does not check out.
void ReadIndexV2(const RepoKeys& keys, int fd, const std::string& path, const std::string& name,
                 const IndexSink& sink);

// Is this file (its first bytes) an index of version 2? Version 1 files
// are one envelope and start with "SKEN".
bool IsIndexV2(const uint8_t* head, size_t len);

// Writes index/<random name> of version 2 as a stream: first every pack,
// then removed packs, then entries in id order. Finish() seals it, reads
// it back whole before it gets its name, and returns the name.
class IndexV2Writer {
 public:
  IndexV2Writer(const std::string& repo, const RepoKeys& keys);
  ~IndexV2Writer();  // removes the temp file unless finished
  IndexV2Writer(const IndexV2Writer&) = delete;
  IndexV2Writer& operator=(const IndexV2Writer&) = delete;

  void AddPack(const IndexPack& p);
  void AddRemoved(const PackKey& p);
  // `r.pack` numbers the packs in the order they were added.
  void AddEntry(const IndexRecord& r);
  std::string Finish();
  uint64_t Entries() const { return entries_; }

 private:
  void Emit(FrameKind kind);
  void Flush();

  RepoDir root_;
  std::string name_, tmpRel_, tmp_;  // tmp_: for messages
  RepoKeys keys_;
  PackKey fileId_{};
  Fd fd_;
  uint64_t at_ = 0;
  uint32_t seq_ = 0;
  FrameKind kind_ = FrameKind::kPacks;
  Bytes body_;
  uint32_t bodyCount_ = 0;
  uint64_t packs_ = 0, removed_ = 0, entries_ = 0;
  uint8_t last_[kIdSize] = {};
  bool finished_ = false;
  crypto_generichash_state hash_;  // of every body written, checked on read-back
};

std::string IndexPath(const std::string& repo, const std::string& name);

}  // namespace snapkeep::engine
