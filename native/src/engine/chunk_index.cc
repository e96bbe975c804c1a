#include "chunk_index.h"

#include <mutex>

namespace snapkeep::engine {

uint32_t ChunkIndex::PackNoLocked(const PackKey& id, uint64_t size) {
  auto [slot, fresh] = packNo_.Insert(id, static_cast<uint32_t>(packs_.size()));
  if (fresh) packs_.push_back(PackSlot{id, size, false});
  return *slot;
}

void ChunkIndex::SetTables(std::vector<std::shared_ptr<IndexTable>> tables) {
  std::unique_lock lock(mu_);
  // The pack table is rebuilt: numbers are only valid between reloads.
  packs_.clear();
  packNo_.Clear();
  std::vector<TableRef> refs;
  uint64_t base = 0;
  for (auto& t : tables) {
    TableRef r;
    r.table = t;
    r.base = base;
    base += t->Count();
    r.packNo.reserve(t->PackCount());
    for (uint32_t i = 0; i < t->PackCount(); i++) {
      IndexPack p = t->Pack(i);
      uint32_t no = PackNoLocked(p.id, p.size);
      if (packs_[no].firstTable == ~0u) packs_[no].firstTable = static_cast<uint32_t>(refs.size());
      r.packNo.push_back(no);
    }
    refs.push_back(std::move(r));
  }
  for (auto& r : refs)
    for (uint32_t i = 0; i < r.table->RemovedCount(); i++) {
      PackKey k = r.table->Removed(i);
      if (const uint32_t* no = packNo_.Get(k)) packs_[*no].removed = true;
    }
  // The files are the truth: what the overlay held (a backup's packs) is
  // in an index file now, or unknown (its index was never written, or its
  // packs are gone), and then stored again by the next backup.
  overlay_.Clear();
  tables_ = std::move(refs);
  positions_ = base;
  claimed_.Clear();
  generation_++;
}

uint64_t ChunkIndex::Generation() const {
  std::shared_lock lock(mu_);
  return generation_;
}

std::vector<std::shared_ptr<IndexTable>> ChunkIndex::Tables() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<IndexTable>> out;
  for (const TableRef& r : tables_) out.push_back(r.table);
  return out;
}

void ChunkIndex::Clear() {
  std::unique_lock lock(mu_);
  packs_.clear();
  packNo_.Clear();
  tables_.clear();
  positions_ = 0;
  overlay_.Clear();
  claimed_.Clear();
}

void ChunkIndex::AddPack(const PackInfo& info) {
  PackKey key;
  if (!FromHex(info.id, key.data(), key.size())) return;
  std::unique_lock lock(mu_);
  uint32_t no = PackNoLocked(key, info.size);
  for (const PackEntry& e : info.entries) {
    ChunkLocation loc{no, e.offset, e.storedLen, e.rawLen, e.flags, kNoPos};
    // The first location wins; a duplicate is just as good.
    overlay_.Insert(e.id, loc);
  }
}

bool ChunkIndex::FindLocked(const ChunkId& id, ChunkLocation* loc) const {
  for (const TableRef& t : tables_) {
    bool found = t.table->Match(id.data(), [&](uint64_t i, const uint8_t* e) {
      IndexRecord r = GetRecord(e);
      if (r.pack >= t.packNo.size()) return false;
      uint32_t no = t.packNo[r.pack];
      if (packs_[no].removed) return false;
      if (loc) *loc = ChunkLocation{no, r.offset, r.storedLen, r.rawLen, r.flags, t.base + i};
      return true;
    });
    if (found) return true;
  }
  if (const ChunkLocation* l = overlay_.Get(id)) {
    if (loc) *loc = *l;
    return true;
  }
  return false;
}

bool ChunkIndex::Find(const ChunkId& id, ChunkLocation* loc) const {
  std::shared_lock lock(mu_);
  return FindLocked(id, loc);
}

bool ChunkIndex::Claim(const ChunkId& id) {
  {
    std::shared_lock lock(mu_);
    if (FindLocked(id, nullptr) || claimed_.Get(id)) return false;
  }
  std::unique_lock lock(mu_);
  if (FindLocked(id, nullptr)) return false;
  return claimed_.Insert(id, Unit{}).second;
}

void ChunkIndex::ReleaseClaims() {
  std::unique_lock lock(mu_);
  claimed_.Clear();
}

bool ChunkIndex::Lookup(const ChunkId& id, ChunkLocation* loc, PackRecord* pack) const {
  std::shared_lock lock(mu_);
  if (!FindLocked(id, loc)) return false;
  const PackSlot& p = packs_[loc->pack];
  pack->id = Hex(p.id.data(), p.id.size());
  pack->size = p.size;
  return true;
}

bool ChunkIndex::Contains(const ChunkId& id) const { return Find(id, nullptr); }

uint64_t ChunkIndex::ChunkCount() const {
  std::shared_lock lock(mu_);
  return positions_ + overlay_.Size();
}

uint64_t ChunkIndex::Positions() const {
  std::shared_lock lock(mu_);
  return positions_;
}

std::vector<PackRecord> ChunkIndex::Packs() const {
  std::shared_lock lock(mu_);
  std::vector<PackRecord> out;
  for (const PackSlot& p : packs_)
    if (!p.removed) out.push_back(PackRecord{Hex(p.id.data(), p.id.size()), p.size});
  return out;
}

uint32_t ChunkIndex::PackCount() const {
  std::shared_lock lock(mu_);
  return static_cast<uint32_t>(packs_.size());
}

PackRecord ChunkIndex::PackAt(uint32_t no) const {
  std::shared_lock lock(mu_);
  const PackSlot& p = packs_.at(no);
  return PackRecord{Hex(p.id.data(), p.id.size()), p.size};
}

uint32_t ChunkIndex::FirstTable(uint32_t no) const {
  std::shared_lock lock(mu_);
  return packs_.at(no).firstTable;
}

bool ChunkIndex::PackRemoved(uint32_t no) const {
  std::shared_lock lock(mu_);
  return packs_.at(no).removed;
}

bool ChunkIndex::PackNumber(const std::string& id, uint32_t* no) const {
  PackKey key;
  if (!FromHex(id, key.data(), key.size())) return false;
  std::shared_lock lock(mu_);
  const uint32_t* n = packNo_.Get(key);
  if (!n) return false;
  *no = *n;
  return true;
}

void ChunkIndex::MatchEntries(const PackEntry& e, uint32_t no, uint64_t* named, uint64_t* equal) const {
  std::shared_lock lock(mu_);
  *named = *equal = 0;
  for (const TableRef& t : tables_) {
    t.table->Match(e.id.data(), [&](uint64_t, const uint8_t* p) {
      IndexRecord r = GetRecord(p);
      if (r.pack >= t.packNo.size() || t.packNo[r.pack] != no) return false;
      (*named)++;
      if (r.offset == e.offset && r.storedLen == e.storedLen && r.rawLen == e.rawLen && r.flags == e.flags)
        (*equal)++;
      return false;
    });
  }
}

void ChunkIndex::MaybeDropPages() const {
  if (MappedOverBudget()) DropPages();
}

void ChunkIndex::DropPages() const {
  std::shared_lock lock(mu_);
  for (const TableRef& t : tables_) t.table->DropPages();
}

}  // namespace snapkeep::engine
