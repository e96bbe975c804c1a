// The checker: every pack the index names exists, has the size the index
// says, and its trailer agrees with the index entry by entry; with `data`,
// every blob is read, decrypted, decompressed and hashed against its id.
// Problems are collected, not thrown, so one run names all the damage.
// Which restore points a damaged chunk hurts is the TypeScript layer's
// business (it knows the chunk lists).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chunk_index.h"
#include "chunk_list.h"
#include "flat_map.h"
#include "crypto.h"
#include "op_control.h"
#include "pack_reader.h"

namespace snapkeep::engine {

struct VerifyProblem {
  std::string kind;  // missing-pack | bad-index | bad-chunk (VerifyReport kinds)
  std::string message;
  std::string pack;
  std::string chunk;
};

struct VerifyRequest {
  std::string repo;
  RepoKeys keys;
  std::shared_ptr<PackFetcher> fetcher;  // packs not in `repo` yet (a remote repository)
  bool data = false;
  int threads = 0;
  std::shared_ptr<ChunkIndex> index;
};

struct VerifyResult {
  std::vector<VerifyProblem> problems;
  uint64_t packs = 0;
  uint64_t chunks = 0;
};

VerifyResult RunVerify(const VerifyRequest& req, OpControl& ctl);

// The points' side of verify: which chunks of a list no index entry holds,
// and which of the known-damaged chunks and packs it references. Reads
// each distinct segment once across all lists checked with one checker,
// so verify of many points sharing most segments reads them once.
class ListChecker {
 public:
  ListChecker(std::shared_ptr<ChunkIndex> index, const Bytes& badChunks,
              const std::vector<std::string>& badPacks);
  struct Verdict {
    Bytes missing;                     // distinct ids, 32 bytes each
    Bytes badChunks;                   // distinct damaged ids it references
    std::vector<std::string> badPacks; // damaged packs it references
    std::string error;                 // a segment that is missing or damaged
    std::string errorSegment;
  };
  Verdict Check(ChunkListSource& list, OpControl& ctl);

 private:
  struct SegVerdict {
    Bytes missing, bad;
    std::vector<uint32_t> packs;
    std::string error;
  };
  SegVerdict CheckSegment(ChunkListSource& list, uint64_t k);

  std::shared_ptr<ChunkIndex> index_;
  FlatSet<kIdSize> badChunks_;
  std::vector<bool> badPacks_;
  std::mutex mu_;
  FlatMap<kIdSize, uint32_t> seen_;  // segment -> verdict
  std::vector<SegVerdict> verdicts_;
};

}  // namespace snapkeep::engine
