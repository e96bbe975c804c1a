// Index files (docs/repository-format.md, "Index files"): the trailers of
// many packs in one place, so opening a repository reads a few files
// instead of every pack. Always rebuildable from the pack trailers.
//
// Format 1 (repositories of format version 1, still written for them):
//   envelope(type 2, payload)
//   payload  "SKIX" | version u8 = 1 | reserved u8[3] | pack count u32
//            then per pack: id[16] | size u64 | entries (pack trailer payload)
// Format 2: index_format.h (streamed frames, sorted fixed-width entries).
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "chunk_index.h"
#include "crypto.h"
#include "pack_format.h"

namespace snapkeep::engine {

// Index files are read whole; one this long is not read at all. A 10 TiB
// repository of 256 KiB chunks after a prune has one index file of 1.9 GB.
constexpr uint64_t kMaxIndexFileBytes = 4ull << 30;

Bytes EncodeIndex(const RepoKeys& keys, const std::vector<PackInfo>& packs);
bool DecodeIndex(const RepoKeys& keys, const Bytes& file, std::vector<PackInfo>& out);

// Writes index/<random> naming `packs`, atomically, in the repository's
// format (1 or 2); returns the file name.
std::string WriteIndexFile(const std::string& repo, const RepoKeys& keys, int version,
                           const std::vector<PackInfo>& packs);

// Format 2: an index file that only says these packs are gone (prune
// writes it before it deletes them, so it needs next to no space).
std::string WriteRemovalRecord(const std::string& repo, const RepoKeys& keys,
                               const std::vector<std::string>& packs);

// Entries to leave out of a consolidated index: (chunk id, pack id).
using EntrySet = std::set<std::pair<ChunkId, PackKey>>;

// One index file naming every counting entry of `index` except those in
// packs numbered in `gone` and the entries in `dropEntries` (repair: a
// damaged blob). Format 2 streams (a k-way merge of the tables: memory
// independent of the index size); format 1 builds the file in memory.
std::string WriteConsolidatedIndex(const std::string& repo, const RepoKeys& keys, int version,
                                   const ChunkIndex& index, const std::vector<bool>& gone,
                                   const EntrySet& dropEntries);

struct IndexLoad {
  std::vector<std::string> files;
  std::vector<std::string> badFiles;
  size_t loaded = 0;  // files decoded or mapped by this call
};
// Makes `index` describe every file in <repo>/index: tables already held
// stay, new files are loaded (through the cache in cacheDir, if any), gone
// ones are dropped. Files that do not decode are listed in badFiles.
IndexLoad LoadIndexDir(const std::string& repo, const RepoKeys& keys, const std::string& cacheDir,
                       ChunkIndex& index);

}  // namespace snapkeep::engine
