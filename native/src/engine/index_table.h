// One index file's content as a flat table sorted by chunk id, used in
// place: the file is decoded once (either format) into a local cache file
// that is mmapped, so the chunk index costs no heap per entry, a process
// maps only index files it has not seen, and a repository's index is read
// from the destination once per machine, not once per job. Without a cache
// directory the table lives in anonymous memory instead.
//
//   cache file  "SKIC" | version u8 = 1 | reserved u8[3]
//               packs u32 | removed u32 | entries u64 | index file size u64
//               tag[32] = BLAKE2b(id key, "snapkeep-index-cache-1" | name)
//               packs x (id[16] | size u64) | removed x id[16] | pad to 8
//               entries x 48 bytes (the index format 2 entry)
//
// The tag binds a cache file to the repository's key and the index file's
// name; index files are immutable, so a name always means the same bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bytes.h"
#include "crypto.h"
#include "index_format.h"

namespace snapkeep::engine {

class IndexTable {
 public:
  ~IndexTable();
  IndexTable(const IndexTable&) = delete;
  IndexTable& operator=(const IndexTable&) = delete;

  // The table of index/<name>: from the cache when it holds it, else
  // decoded from the file (and cached when cacheDir is not empty). Throws
  // REPO_CORRUPT when the index file is damaged, NOT_FOUND when it is gone.
  static std::shared_ptr<IndexTable> Load(const std::string& repo, const RepoKeys& keys,
                                          const std::string& cacheDir, const std::string& name);

  const std::string& Name() const { return name_; }
  uint64_t Count() const { return count_; }
  uint32_t PackCount() const { return packCount_; }
  uint32_t RemovedCount() const { return removedCount_; }
  IndexPack Pack(uint32_t i) const { return GetIndexPack(packs_ + size_t(i) * kIndexPackBytes); }
  PackKey Removed(uint32_t i) const;
  const uint8_t* Entry(uint64_t i) const { return entries_ + i * kIndexEntryBytes; }
  // First position whose id is >= id (Count() when none): interpolation
  // search, since ids are uniformly distributed keyed hashes.
  uint64_t LowerBound(const uint8_t* id) const;
  // Gives the mapped pages back (they stay in the page cache): long scans
  // call it now and then so the process does not hold the whole file.
  void DropPages() const;
  bool Mapped() const { return map_ != nullptr; }

 private:
  IndexTable() = default;
  bool Attach(const uint8_t* base, size_t len, const uint8_t tag[kIdSize], uint64_t sourceSize);

  std::string name_;
  void* map_ = nullptr;
  size_t mapLen_ = 0;
  Bytes own_;
  uint32_t packCount_ = 0, removedCount_ = 0;
  uint64_t count_ = 0;
  const uint8_t* packs_ = nullptr;
  const uint8_t* removed_ = nullptr;
  const uint8_t* entries_ = nullptr;
};

// Removes cache files of index files that no longer exist (and temp files).
void SweepIndexCache(const std::string& cacheDir, const std::vector<std::string>& live);

}  // namespace snapkeep::engine
