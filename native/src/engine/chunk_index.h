// The in-memory map from chunk id to where its blob lives, built from the
// index files at open and extended as a backup seals packs. About 80 bytes
// per stored chunk (one 256 KiB chunk), so 1 TiB of distinct data costs
// some 320 MiB. Shared between the JS thread and pipeline workers behind a
// reader-writer lock.
//
// Claim() makes dedup safe with many workers: the first worker to see an
// id claims it and stores it; others (and later chunks) reuse it.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bytes.h"
#include "pack_format.h"

namespace snapkeep::engine {

struct ChunkLocation {
  uint32_t pack = 0;  // index into the pack table
  uint32_t offset = 0;
  uint32_t storedLen = 0;
  uint32_t rawLen = 0;
  uint8_t flags = 0;
};

struct PackRecord {
  std::string id;
  uint64_t size = 0;
};

class ChunkIndex {
 public:
  void Clear();
  // Takes over `fresh`'s contents in one step, so readers never see a
  // half-loaded index.
  void ReplaceWith(ChunkIndex& fresh);
  void AddPack(const PackInfo& info);
  // True when the caller must store the chunk (not present, not claimed).
  bool Claim(const ChunkId& id);
  // Forgets claims whose chunks were never sealed (failed backup). Backups
  // on one index run one at a time (the TypeScript layer queues them), so
  // every claim left after a backup's pack stage ended is its own.
  void ReleaseClaims();
  bool Lookup(const ChunkId& id, ChunkLocation* loc, PackRecord* pack) const;
  bool Contains(const ChunkId& id) const;
  size_t ChunkCount() const;
  std::vector<PackRecord> Packs() const;
  // Every pack with its entries (index rewrite, verify, GC).
  std::vector<PackInfo> Snapshot() const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<PackRecord> packs_;
  std::unordered_map<std::string, uint32_t> packNo_;
  std::unordered_map<ChunkId, ChunkLocation, ChunkIdHash> map_;
  std::unordered_set<ChunkId, ChunkIdHash> claimed_;
};

}  // namespace snapkeep::engine
