// Chunk lists in the repository (docs/repository-format.md, "Chunk-list
// segments" and "List roots"): a device's chunk ids in device order, stored
// as content-addressed segments of 1024 ids (lists/<xx>/<id>, envelope
// type 4 around the raw ids, id = keyed BLAKE2b of those ids), and, from
// format 2 on, one list root per device naming its segments:
//
//   list root  envelope(type 6, "SKLR" | version u8 = 1 | reserved u8[3] |
//              chunk count u64 | segment count u32 | segment ids[32] ...)
//              id = keyed BLAKE2b of the payload, stored in lists/<xx>/<id>
//
// A ChunkListSource reads a list lazily, a segment at a time with a small
// cache, so a reader of a 10 TiB device (40960 segments) holds 1.3 MiB of
// segment ids and a few segments, never the 1.3 GiB list.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "bytes.h"
#include "crypto.h"

namespace snapkeep::engine {

constexpr uint32_t kSegmentEntries = 1024;
constexpr uint64_t kMaxListChunks = uint64_t(1) << 32;  // 1 PiB at 256 KiB chunks; a root of 128 MiB

std::string ListObjectPath(const std::string& repo, const std::string& hexId);

// Reads and checks a segment: envelope, whole ids, at most 1024 of them,
// content hashes to the name. REPO_CORRUPT (naming the segment) otherwise.
Bytes ReadSegment(const std::string& repo, const RepoKeys& keys, const ChunkId& id);
// Stores a segment unless it exists (content-addressed); returns its id.
ChunkId WriteSegment(const std::string& repo, const RepoKeys& keys, const uint8_t* ids, size_t n,
                     bool* written);

Bytes EncodeListRoot(uint64_t chunks, const std::vector<ChunkId>& segments);
// False when malformed (bad magic, counts that do not match each other or
// the length, a segment count that cannot hold `chunks`).
bool DecodeListRoot(const uint8_t* p, size_t len, uint64_t* chunks, std::vector<ChunkId>& segments);
ChunkId WriteListRoot(const std::string& repo, const RepoKeys& keys, uint64_t chunks,
                      const std::vector<ChunkId>& segments);
void ReadListRoot(const std::string& repo, const RepoKeys& keys, const ChunkId& id, uint64_t* chunks,
                  std::vector<ChunkId>& segments);

// One device's list, read on demand. Thread-safe.
class ChunkListSource {
 public:
  ChunkListSource(std::string repo, const RepoKeys& keys, std::vector<ChunkId> segments,
                  uint64_t chunks, const ChunkId* root);
  // A list given whole (ids, 32 bytes each): tests and small callers.
  explicit ChunkListSource(Bytes list);
  uint64_t Chunks() const { return chunks_; }
  const std::vector<ChunkId>& Segments() const { return segments_; }
  bool HasRoot() const { return hasRoot_; }
  const ChunkId& Root() const { return root_; }
  // The id of chunk c (loads its segment if needed).
  ChunkId IdAt(uint64_t c);
  // The ids of segment k (1024, the last shorter).
  std::shared_ptr<const Bytes> Segment(uint64_t k);

 private:
  std::string repo_;
  RepoKeys keys_;
  std::vector<ChunkId> segments_;
  uint64_t chunks_;
  bool hasRoot_ = false;
  ChunkId root_{};
  bool whole_ = false;
  Bytes list_;
  std::mutex mu_;
  std::list<uint64_t> lru_;
  std::unordered_map<uint64_t, std::pair<std::shared_ptr<const Bytes>, std::list<uint64_t>::iterator>> cache_;
};

}  // namespace snapkeep::engine
