// Appends stored blobs to a pack under tmp/ and, when the pack is big
// enough, seals it: trailer, fsync, decode the trailer again from what was
// written (nothing may refer to a pack whose trailer does not read back),
// rename into packs/<xx>/, fsync the directory. Used by one thread only
// (the pipeline's pack stage). A writer that failed stays failed: every
// later call throws the first error again, so a half-written pack is never
// sealed.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "crypto.h"
#include "engine_error.h"
#include "file_io.h"
#include "pack_format.h"
#include "repo_dir.h"

namespace snapkeep::engine {

class PackWriter {
 public:
  PackWriter(std::string repo, const RepoKeys& keys, uint64_t targetSize);
  ~PackWriter();  // removes an unsealed temp file
  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;

  // Adds a blob; returns the sealed pack when this blob filled it.
  std::optional<PackInfo> Add(const ChunkId& id, const uint8_t* stored, size_t len,
                              uint32_t rawLen, uint8_t flags);
  // Seals the open pack, if any.
  std::optional<PackInfo> Flush();

 private:
  void Open();
  PackInfo Seal();
  void Check() const;

  std::string repo_;
  RepoKeys keys_;
  uint64_t target_;
  std::optional<RepoDir> dir_;  // opened with the first pack
  Fd fd_;
  std::string tmpRel_;   // tmp/<id>.pack
  std::string tmpPath_;  // the same, for messages
  PackInfo current_;
  std::unique_ptr<EngineError> failed_;
};

}  // namespace snapkeep::engine
