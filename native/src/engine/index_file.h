// Index files (docs/repository-format.md, "Index files"): the trailers of
// many packs in one place, so opening a repository reads a few files
// instead of every pack. Always rebuildable from the pack trailers.
//
//   envelope(type 2, payload):
//   payload  "SKIX" | version u8 = 1 | reserved u8[3] | pack count u32
//            then per pack: id[16] | size u64 | entries (pack trailer payload)
#pragma once

#include <string>
#include <vector>

#include "crypto.h"
#include "pack_format.h"

namespace snapkeep::engine {

// Index files are read whole; one this long is not read at all. A 10 TiB
// repository of 256 KiB chunks after a prune has one index file of 1.9 GB.
constexpr uint64_t kMaxIndexFileBytes = 4ull << 30;

Bytes EncodeIndex(const RepoKeys& keys, const std::vector<PackInfo>& packs);
bool DecodeIndex(const RepoKeys& keys, const Bytes& file, std::vector<PackInfo>& out);

// Writes index/<random>, atomically; returns the file name.
std::string WriteIndexFile(const std::string& repo, const RepoKeys& keys,
                           const std::vector<PackInfo>& packs);

}  // namespace snapkeep::engine

namespace snapkeep::engine {
class ChunkIndex;
struct IndexLoad {
  std::vector<std::string> files;
  std::vector<std::string> badFiles;
};
// Fills `index` from every file in <repo>/index; files that do not open or
// decode are listed in badFiles (their packs may still be rebuilt).
IndexLoad LoadIndexDir(const std::string& repo, const RepoKeys& keys, ChunkIndex& index);
}  // namespace snapkeep::engine
