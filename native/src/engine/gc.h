// Garbage collection support for prune: which packs hold how much live
// data, and compaction (copy the live blobs of sparse packs into new packs
// as they are, without decrypting, then write one index for every pack
// that stays). Deleting the old index files and packs is left to the
// caller, in that order, so a kill at any moment leaves either the old or
// the new index valid (docs/repository-format.md, "Prune").
#pragma once

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "chunk_index.h"
#include "crypto.h"
#include "op_control.h"
#include "pack_reader.h"

namespace snapkeep::engine {

using IdSet = std::unordered_set<ChunkId, ChunkIdHash>;

struct PackUsage {
  std::string id;
  uint64_t size = 0;
  uint64_t chunks = 0, liveChunks = 0;
  uint64_t storedBytes = 0, liveBytes = 0;
};

std::vector<PackUsage> PlanGc(const ChunkIndex& index, const IdSet& live);

struct CompactRequest {
  std::string repo;
  RepoKeys keys;
  uint64_t packSize = 0;
  IdSet live;
  std::vector<std::string> rewrite;  // packs whose live blobs move
  std::vector<std::string> drop;     // packs without live blobs
  std::shared_ptr<ChunkIndex> index;
};

struct CompactResult {
  std::string indexFile;  // the one index that now describes every kept pack
  std::vector<std::string> newPacks;
  uint64_t copiedBytes = 0;
};

CompactResult RunCompact(const CompactRequest& req, OpControl& ctl);

// Reads the trailers of `packs` and writes one index of those that are
// sound; `bad` gets the others.
std::string RebuildIndex(const std::string& repo, const RepoKeys& keys,
                         const std::vector<std::string>& packs, std::vector<std::string>& bad);

}  // namespace snapkeep::engine
