// The chunk index of an open repository: where each chunk's blob lives.
// It is the index files' tables (index_table.h: sorted, fixed-width, used
// in place from the local cache, no heap per entry) plus a small overlay
// of the packs the running backup sealed. A reload maps only index files
// it has not seen and drops tables whose files are gone, so it never holds
// the index twice.
//
// An entry counts when its pack is not "removed" (index format 2: prune
// deleted it). The canonical location of a chunk is its first counting
// entry in table order (tables sorted by file name), then the overlay;
// every entry has a position (table base + row) for prune's mark bitset.
//
// Claim() makes dedup safe with many workers: the first worker to see an
// id claims it and stores it; others (and later chunks) reuse it.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "bytes.h"
#include "flat_map.h"
#include "index_table.h"
#include "pack_format.h"

namespace snapkeep::engine {

struct ChunkLocation {
  uint32_t pack = 0;  // number in the pack table
  uint32_t offset = 0;
  uint32_t storedLen = 0;
  uint32_t rawLen = 0;
  uint8_t flags = 0;
  uint64_t pos = ~uint64_t(0);  // position in the tables; ~0 in the overlay
};

struct PackRecord {
  std::string id;
  uint64_t size = 0;
};

class ChunkIndex {
 public:
  static constexpr uint64_t kNoPos = ~uint64_t(0);

  // Makes `tables` the index (in this order) and empties the overlay.
  void SetTables(std::vector<std::shared_ptr<IndexTable>> tables);
  std::vector<std::shared_ptr<IndexTable>> Tables() const;
  // Changes with every SetTables: pack numbers and positions of one
  // generation mean nothing in another.
  uint64_t Generation() const;
  void Clear();

  // The running backup's sealed pack.
  void AddPack(const PackInfo& info);
  // True when the caller must store the chunk (not present, not claimed).
  bool Claim(const ChunkId& id);
  // Forgets claims whose chunks were never sealed (failed backup). Backups
  // on one index run one at a time (the TypeScript layer queues them).
  void ReleaseClaims();

  bool Lookup(const ChunkId& id, ChunkLocation* loc, PackRecord* pack) const;
  bool Find(const ChunkId& id, ChunkLocation* loc) const;
  bool Contains(const ChunkId& id) const;
  // Every entry (tables and overlay), duplicates included.
  uint64_t ChunkCount() const;
  // Positions of the tables' entries: [0, Positions()).
  uint64_t Positions() const;
  std::vector<PackRecord> Packs() const;  // packs that count
  uint32_t PackCount() const;             // size of the pack table (incl. removed)
  PackRecord PackAt(uint32_t no) const;
  bool PackRemoved(uint32_t no) const;
  bool PackNumber(const std::string& id, uint32_t* no) const;
  // The first table naming pack `no` (~0u: only the overlay does). A pack
  // named by several index files is counted from the first only.
  uint32_t FirstTable(uint32_t no) const;

  // Calls fn(pos, packNo, record, table) for every counting table entry in
  // table order; fn returns false to stop. Drops mapped pages
  // as it goes, so a scan of a huge index stays small in memory.
  template <typename F>
  void ScanTables(F fn) const;
  // The overlay's entries: fn(packNo, location, id).
  template <typename F>
  void ScanOverlay(F fn) const;
  void DropPages() const;
  // How many table entries name chunk `e.id` in pack `no`, and how many of
  // those agree with `e` field by field (verify: index vs pack trailer).
  void MatchEntries(const PackEntry& e, uint32_t no, uint64_t* named, uint64_t* equal) const;

 private:
  struct PackSlot {
    PackKey id{};
    uint64_t size = 0;
    bool removed = false;
    uint32_t firstTable = ~0u;
  };
  struct TableRef {
    std::shared_ptr<IndexTable> table;
    uint64_t base = 0;
    std::vector<uint32_t> packNo;  // the table's pack number -> ours
  };
  uint32_t PackNoLocked(const PackKey& id, uint64_t size);
  bool FindLocked(const ChunkId& id, ChunkLocation* loc) const;

  mutable std::shared_mutex mu_;
  std::vector<PackSlot> packs_;
  FlatMap<kPackIdBytes, uint32_t> packNo_;
  std::vector<TableRef> tables_;
  uint64_t positions_ = 0;
  uint64_t generation_ = 0;
  FlatMap<kIdSize, ChunkLocation> overlay_;
  FlatSet<kIdSize> claimed_;
};

template <typename F>
void ChunkIndex::ScanTables(F fn) const {
  std::shared_lock lock(mu_);
  for (uint32_t ti = 0; ti < tables_.size(); ti++) {
    const TableRef& t = tables_[ti];
    const IndexTable& tab = *t.table;
    for (uint64_t i = 0; i < tab.Count(); i++) {
      IndexRecord r = GetRecord(tab.Entry(i));
      if (r.pack >= t.packNo.size()) continue;  // a damaged cache file
      uint32_t no = t.packNo[r.pack];
      if (!packs_[no].removed && !fn(t.base + i, no, r, ti)) return;
      if ((i & 0xfffff) == 0xfffff) tab.DropPages();
    }
    tab.DropPages();
  }
}

template <typename F>
void ChunkIndex::ScanOverlay(F fn) const {
  std::shared_lock lock(mu_);
  overlay_.ForEach([&](const ChunkId& id, const ChunkLocation& loc) { fn(loc.pack, loc, id); });
}

}  // namespace snapkeep::engine
