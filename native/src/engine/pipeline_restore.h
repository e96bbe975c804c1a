// Restore: the backup pipeline in reverse, on a pool of workers. Per
// chunk: read the stored blob from its pack, decrypt, decompress, check
// that it hashes to its id, and only then pwrite it at its offset, so a
// damaged chunk stops the restore before a wrong byte reaches the target.
//
// The byte range [rangeStart, rangeStart + rangeLen) of the device (a
// partition, or all of it) lands at offset 0 of the target, or at
// targetOffset of it (a partition moved to a new start on a smaller disk,
// restore-plan.ts): the target must then exist, be large enough, and is
// neither created nor cut.
#pragma once

#include <memory>
#include <string>

#include "bytes.h"
#include "chunk_index.h"
#include "chunk_list.h"
#include "crypto.h"
#include "op_control.h"
#include "pack_reader.h"

namespace snapkeep::engine {

struct RestoreRequest {
  RepoKeys keys;
  uint32_t chunkSize = 0;
  std::shared_ptr<ChunkListSource> list;  // read a segment at a time
  uint64_t deviceSize = 0;
  uint64_t rangeStart = 0;
  uint64_t rangeLen = 0;
  std::string target;
  // Where the range lands in the target; with `placed` the target is only
  // written inside [targetOffset, targetOffset + rangeLen).
  uint64_t targetOffset = 0;
  bool placed = false;
  // The caller made the target read as zeros (a file it cut to 0 and back):
  // zero chunks are not written.
  bool targetZeroed = false;
  bool skipIdentical = false;
  // Resumable restore (restore_resume.h): the file, and the key that ties
  // it to this point, range and target. Empty: not resumable.
  std::string resumeFile;
  std::string resumeKey;
  uint64_t resumeEveryBytes = 0;  // 0: the default (restore_resume.cc)
  int threads = 0;
  std::shared_ptr<ChunkIndex> index;
  std::shared_ptr<PackReader> packs;
};

struct RestoreResult {
  uint64_t bytesWritten = 0;
  uint64_t bytesSkipped = 0;
  // Bytes a resume file named as restored by an earlier, interrupted run.
  uint64_t bytesResumed = 0;
  // Why a resume file that existed was not used ("" when used or none).
  std::string resumeIgnored;
  bool blockDevice = false;
};

RestoreResult RunRestore(const RestoreRequest& req, OpControl& ctl);

// What RunRestore with this request would resume: the bytes of the range an
// earlier, interrupted run left durable on the target, or why its record
// would be ignored. Reads the record, the chunk list and a sample of the
// target (the check the restore makes first); writes nothing, so it can be
// shown before the user confirms.
struct ResumeProbe {
  uint64_t bytes = 0;
  std::string ignored;  // "" when there is no record or it is used
};
ResumeProbe ProbeResume(const RestoreRequest& req);

// Reads [off, off+len) of a device described by `list` into `out`
// (random access for the NBD export). Single-threaded: requests are small.
void ReadRange(const RestoreRequest& req, uint64_t off, uint64_t len, uint8_t* out);

}  // namespace snapkeep::engine
