#include "chunk_index.h"

#include <mutex>

namespace snapkeep::engine {

void ChunkIndex::Clear() {
  std::unique_lock lock(mu_);
  packs_.clear();
  packNo_.clear();
  map_.clear();
  claimed_.clear();
}

void ChunkIndex::ReplaceWith(ChunkIndex& fresh) {
  std::scoped_lock lock(mu_, fresh.mu_);
  packs_.swap(fresh.packs_);
  packNo_.swap(fresh.packNo_);
  map_.swap(fresh.map_);
  claimed_.clear();
}

void ChunkIndex::AddPack(const PackInfo& info) {
  std::unique_lock lock(mu_);
  uint32_t no;
  auto it = packNo_.find(info.id);
  if (it != packNo_.end()) {
    no = it->second;
  } else {
    no = static_cast<uint32_t>(packs_.size());
    packs_.push_back(PackRecord{info.id, info.size});
    packNo_[info.id] = no;
  }
  for (const PackEntry& e : info.entries) {
    // The first location wins; a duplicate (after a repack or two
    // concurrent backups) is just as good.
    map_.emplace(e.id, ChunkLocation{no, e.offset, e.storedLen, e.rawLen, e.flags});
    claimed_.erase(e.id);
  }
}

bool ChunkIndex::Claim(const ChunkId& id) {
  {
    std::shared_lock lock(mu_);
    if (map_.count(id) || claimed_.count(id)) return false;
  }
  std::unique_lock lock(mu_);
  if (map_.count(id)) return false;
  return claimed_.insert(id).second;
}

void ChunkIndex::ReleaseClaims() {
  std::unique_lock lock(mu_);
  claimed_.clear();
}

bool ChunkIndex::Lookup(const ChunkId& id, ChunkLocation* loc, PackRecord* pack) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(id);
  if (it == map_.end()) return false;
  *loc = it->second;
  *pack = packs_[it->second.pack];
  return true;
}

bool ChunkIndex::Contains(const ChunkId& id) const {
  std::shared_lock lock(mu_);
  return map_.count(id) != 0;
}

size_t ChunkIndex::ChunkCount() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

std::vector<PackRecord> ChunkIndex::Packs() const {
  std::shared_lock lock(mu_);
  return packs_;
}

std::vector<PackInfo> ChunkIndex::Snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<PackInfo> out(packs_.size());
  for (size_t i = 0; i < packs_.size(); i++) {
    out[i].id = packs_[i].id;
    out[i].size = packs_[i].size;
  }
  for (const auto& [id, loc] : map_) {
    PackEntry e;
    e.id = id;
    e.offset = loc.offset;
    e.storedLen = loc.storedLen;
    e.rawLen = loc.rawLen;
    e.flags = loc.flags;
    out[loc.pack].entries.push_back(e);
  }
  return out;
}

}  // namespace snapkeep::engine
