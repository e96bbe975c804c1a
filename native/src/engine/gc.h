// Garbage collection for prune (docs/repository-format.md, "Prune"):
//
//  - GcMark: the live set, one bit per index position. It streams the chunk
//    lists of the points that stay, reading each distinct segment once, and
//    marks the canonical location of every id (so memory is one bit per
//    indexed chunk plus the segment ids, whatever the number of points).
//  - PlanGc: per pack, how much is live; packs with nothing live are
//    dropped, packs mostly dead are rewritten, up to a cap of bytes copied
//    per run (the rest waits for the next prune).
//  - RunCompact: copies the live blobs of the packs to rewrite into new
//    packs in device order (the order of the lists given, newest point
//    first), verifying each blob (AEAD, decompression, hash) before it is
//    copied as stored (layout 2: sealed again under the compaction's own
//    session key; needs the owner's keys), and indexes the new packs. A
//    damaged blob stops the compaction and leaves its pack in place.
// Deleting packs and index files is the caller's, in the crash-safe order
// described there.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chunk_index.h"
#include "chunk_list.h"
#include "crypto.h"
#include "flat_map.h"
#include "op_control.h"
#include "pack_reader.h"

namespace snapkeep::engine {

class GcMark {
 public:
  explicit GcMark(std::shared_ptr<ChunkIndex> index);
  // Marks every chunk of `lists`; segments seen before are not read again.
  void Add(const std::vector<std::shared_ptr<ChunkListSource>>& lists, OpControl& ctl);
  // Throws INVALID_ARGUMENT when the index was reloaded since the mark began.
  void CheckCurrent() const;
  bool Live(uint64_t pos) const { return pos < positions_ && (bits_[pos >> 6] >> (pos & 63)) & 1; }
  // Packs the overlay names (a running backup's, not yet in an index file)
  // count as wholly live: nothing is known about them.
  const std::vector<bool>& OverlayPacks() const { return overlayPacks_; }

  std::shared_ptr<ChunkIndex> index;
  Bytes missing;         // ids no index entry holds (32 bytes each, distinct)
  Bytes objects;         // live list objects: roots and segments (32 bytes each)
  uint64_t marked = 0;   // distinct live positions
  uint64_t segmentsRead = 0;

 private:
  uint64_t generation_;
  uint64_t positions_;
  std::vector<uint64_t> bits_;
  std::vector<bool> overlayPacks_;
  FlatSet<kIdSize> seenObjects_;
  FlatSet<kIdSize> missingSet_;
};

struct PackUsage {
  std::string id;
  uint64_t size = 0;
  uint64_t chunks = 0, liveChunks = 0;
  uint64_t storedBytes = 0, liveBytes = 0;
};

struct GcPlanOptions {
  double repackBelow = 0.5;     // rewrite packs whose live share is below this
  uint64_t maxRepackBytes = 0;  // live bytes copied per run; 0: no cap
};

struct GcPlanResult {
  std::vector<PackUsage> drop, rewrite;
  uint64_t deferredPacks = 0;  // would be rewritten but for the cap
  uint64_t packs = 0, storedBytes = 0, liveBytes = 0;
};

GcPlanResult PlanGc(const GcMark& mark, const GcPlanOptions& opts);

struct CompactRequest {
  std::string repo;
  RepoKeys keys;
  uint64_t packSize = 0;
  int version = 1;
  std::shared_ptr<GcMark> mark;
  std::vector<std::string> rewrite;
  std::vector<std::shared_ptr<ChunkListSource>> order;
  std::shared_ptr<PackReader> packs;
};

struct CompactResult {
  std::string indexFile;  // indexes the new packs
  std::vector<PackInfo> newPacks;
  uint64_t copiedBytes = 0, copiedChunks = 0;
};

CompactResult RunCompact(const CompactRequest& req, OpControl& ctl);

// Reads the trailers of `packs` and writes one index of those that are
// sound; `bad` gets the others.
std::string RebuildIndex(const std::string& repo, const RepoKeys& keys, int version,
                         const std::vector<std::string>& packs, std::vector<std::string>& bad);

}  // namespace snapkeep::engine
