// One index file's content as a flat table sorted by chunk id, used in
// place: the file is decoded once (either format) into a local cache file
// that is mmapped, so the chunk index costs no heap per entry, a process
// maps only index files it has not seen, and a repository's index is read
// from the destination once per machine, not once per job. Without a cache
// directory the table lives in anonymous memory instead.
//
//   cache file  "SKIC" | version u8 = 2 | reserved u8[3]
//               packs u32 | removed u32 | entries u64 | index file size u64
//               tag[32] = BLAKE2b(id key, "snapkeep-index-cache-1" | name)
//               packs x (id[16] | size u64) | removed x id[16]
//               entries x 48 bytes (the index format 2 entry)
//               summary: the first 8 id bytes (big-endian u64, stored LE)
//               of every 64th entry
//
// A lookup (Match) searches the summary (held on the heap: 1/384 of the
// entries' size, with a jump table by key prefix in front) and then reads
// 16 entries of the block (64 entries) it names, where interpolation
// places the id (ids are uniform keyed hashes), with pread; the whole block
// when the id is not among them: lookups land all over a big index, and through the mapping each
// would cost a page fault (and the pages, given back to stay small, a
// fault again next time): several times one small read, measured 10 TiB
// (docs/repository-format.md, "Scale"). Scans walk the mapping in order and
// give mapped pages back when they exceed a budget (MaybeDropPages), so a
// pass over a 2 GiB index does not hold 2 GiB of page cache mapped.
//
// The tag binds a cache file to the repository's key and the index file's
// name; index files are immutable, so a name always means the same bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bytes.h"
#include "crypto.h"
#include "file_io.h"
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
  // Calls fn(row, entry) for the entries whose id is `id`, in row order,
  // until fn returns true; returns whether it did. `entry` is valid during
  // the call only. A mapped table is read with pread, not through the map.
  using MatchFn = std::function<bool(uint64_t row, const uint8_t* entry)>;
  bool Match(const uint8_t* id, const MatchFn& fn) const;
  // Gives the mapped pages back (they stay in the page cache): long scans
  // call it now and then so the process does not hold the whole file.
  void DropPages() const;
  bool Mapped() const { return map_ != nullptr; }
  static constexpr uint64_t kSummaryStride = 64;

 private:
  IndexTable() = default;
  bool Attach(const uint8_t* base, size_t len, const uint8_t tag[kIdSize], uint64_t sourceSize);
  // The summary's answer for key8 k: the lower bound of any id with that
  // key lies in [*lo, *hi], and *kl <= key8 of rows [*lo, *hi) <= *kh.
  void Bracket(uint64_t k, uint64_t* lo, uint64_t* hi, uint64_t* kl, uint64_t* kh) const;
  // Rows [row, row + n) of a mapped table into buf, by pread.
  void ReadRows(uint64_t row, uint64_t n, uint8_t* buf) const;

  std::string name_;
  void* map_ = nullptr;
  size_t mapLen_ = 0;
  Fd fd_;  // the mapped cache file, for Match's reads
  std::string file_;
  Bytes own_;
  uint32_t packCount_ = 0, removedCount_ = 0;
  uint64_t count_ = 0;
  const uint8_t* packs_ = nullptr;
  const uint8_t* removed_ = nullptr;
  const uint8_t* entries_ = nullptr;
  std::vector<uint64_t> summary_;
  // jump_[p]: the first summary block whose key's top jumpBits_ bits are
  // >= p (p = 0 .. 2^jumpBits_): Bracket searches a few blocks, not all.
  std::vector<uint32_t> jump_;
  int jumpBits_ = 0;
};

// Mapped index pages this process may hold during a scan before they are
// given back (the pages stay in the page cache).
constexpr uint64_t kMappedBudgetBytes = 128ull << 20;
// True when the process's file-backed resident memory grew by more than
// kMappedBudgetBytes since the last call that returned true.
bool MappedOverBudget();

// Removes cache files of index files that no longer exist (and temp files).
void SweepIndexCache(const std::string& cacheDir, const std::vector<std::string>& live);

}  // namespace snapkeep::engine
