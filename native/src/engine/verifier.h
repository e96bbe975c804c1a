// The checker: every pack the index names exists, has the size the index
// says, and its trailer agrees with the index entry by entry; with `data`,
// every blob is read, decrypted, decompressed and hashed against its id.
// Problems are collected, not thrown, so one run names all the damage.
// Which restore points a damaged chunk hurts is the TypeScript layer's
// business (it knows the chunk lists).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chunk_index.h"
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

}  // namespace snapkeep::engine
