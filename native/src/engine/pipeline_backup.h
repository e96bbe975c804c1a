// Backup of one device into the repository: read -> hash -> compress ->
// encrypt on a pool of workers, one pack-writer stage behind a bounded
// queue. Each stage is its own function below; memory is the workers'
// fixed buffers plus the queue, whatever the device size.
//
// Full: every chunk of the device is read (or, given the file system's
// used ranges, every chunk that touches one). Incremental: the parent's chunk
// list is copied and only chunks that overlap `ranges` are read. Either
// way a chunk whose id the repository already has is not stored again, and
// an all-zero chunk is recorded as the zero id and never stored.
//
// With `writeSegments` the list is never held whole: it is built and
// stored a segment (1024 chunks) at a time, the parent's segments read as
// needed. Before a segment is stored, every id it inherits from the parent
// is looked up in the index; a chunk the index lost (a damaged pack that
// `repair index` dropped, say) is read again from the source, so an
// incremental never inherits a missing chunk (review finding 5).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bytes.h"
#include "chunk_index.h"
#include "chunk_list.h"
#include "crypto.h"
#include "op_control.h"

namespace snapkeep::engine {

struct BackupRequest {
  std::string repo;
  RepoKeys keys;
  uint32_t chunkSize = 0;
  int level = 3;
  uint64_t packSize = 0;
  std::string source;
  uint64_t expectedSize = 0;  // 0: whatever the source's size is
  std::shared_ptr<ChunkListSource> parent;  // used with ranges
  bool useRanges = false;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // offset, length
  // Full backup of a file system's used blocks only: chunks that touch a
  // used range are read whole; the others are recorded as the zero id
  // without being read (a restore writes zeros there).
  bool useUsed = false;
  std::vector<std::pair<uint64_t, uint64_t>> used;  // offset, length
  int threads = 0;
  std::shared_ptr<ChunkIndex> index;
  int version = 1;             // index file format to write
  bool writeSegments = false;  // store the list's segments (else return the list)
  bool writeRoot = false;      // format 2: and its list root
  // Spool mode (a remote repository, docs/remote-repositories.md): the
  // repository is a local spool that someone else empties. Sealed packs are
  // uploaded and removed by the caller while the backup runs; the pack
  // stage waits while this many of the packs it sealed are still present,
  // so the spool stays bounded, and the end-of-run check that sealed packs
  // exist is the caller's (on the remote store). 0: off.
  uint32_t spoolPacks = 0;
};

struct BackupResult {
  Bytes list;  // without writeSegments
  std::vector<ChunkId> segments;
  bool hasRoot = false;
  ChunkId root{};
  uint64_t segmentsWritten = 0;
  uint64_t chunksRepaired = 0;  // inherited ids the index lacked, read again
  uint64_t size = 0;
  uint64_t bytesRead = 0;
  uint64_t bytesUnused = 0;  // with useUsed: bytes of chunks skipped as unused
  uint64_t bytesNew = 0;     // raw bytes of chunks stored by this backup
  uint64_t bytesStored = 0;  // what they take in packs
  uint64_t chunks = 0, chunksRead = 0, chunksNew = 0, chunksZero = 0;
  std::vector<std::string> packs;
  std::string indexFile;
  bool direct = false;
};

BackupResult RunBackup(const BackupRequest& req, OpControl& ctl);

}  // namespace snapkeep::engine
