#include "index_file.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <queue>

#include "engine_error.h"
#include "envelope.h"
#include "file_io.h"
#include "index_format.h"
#include "repo_dir.h"

namespace snapkeep::engine {
namespace {
constexpr uint8_t kMagic[4] = {'S', 'K', 'I', 'X'};
constexpr uint8_t kVersion1 = 1;

PackKey KeyOf(const std::string& hex) {
  PackKey k;
  if (!FromHex(hex, k.data(), k.size())) throw Corrupt("bad pack id " + hex, hex);
  return k;
}

std::vector<IndexRecord> SortedRecords(const std::vector<PackInfo>& packs) {
  std::vector<IndexRecord> recs;
  for (uint32_t p = 0; p < packs.size(); p++)
    for (const PackEntry& e : packs[p].entries)
      recs.push_back(IndexRecord{e.id, p, e.offset, e.storedLen, e.rawLen, e.flags});
  std::sort(recs.begin(), recs.end(), [](const IndexRecord& a, const IndexRecord& b) {
    int c = CompareIds(a.id.data(), b.id.data());
    return c < 0 || (c == 0 && a.pack < b.pack);
  });
  return recs;
}
}  // namespace

Bytes EncodeIndex(const RepoKeys& keys, const std::vector<PackInfo>& packs) {
  Bytes p(kMagic, kMagic + 4);
  p.push_back(kVersion1);
  p.insert(p.end(), 3, 0);
  PutU32(p, static_cast<uint32_t>(packs.size()));
  for (const PackInfo& pack : packs) {
    PackKey id = KeyOf(pack.id);
    p.insert(p.end(), id.begin(), id.end());
    PutU64(p, pack.size);
    Bytes entries = EncodeEntries(pack.entries);
    p.insert(p.end(), entries.begin(), entries.end());
  }
  return SealEnvelope(keys, EnvelopeType::kIndex, p.data(), p.size());
}

bool DecodeIndex(const RepoKeys& keys, const Bytes& file, std::vector<PackInfo>& out) {
  Bytes p;
  if (!OpenEnvelope(keys, EnvelopeType::kIndex, file.data(), file.size(), p)) return false;
  if (p.size() < 12 || std::memcmp(p.data(), kMagic, 4) != 0 || p[4] != kVersion1) return false;
  uint32_t count = GetU32(p.data() + 8);
  size_t at = 12;
  out.clear();
  for (uint32_t i = 0; i < count; i++) {
    if (at + kPackIdBytes + 8 + 4 > p.size()) return false;
    PackInfo info;
    info.id = Hex(p.data() + at, kPackIdBytes);
    info.size = GetU64(p.data() + at + kPackIdBytes);
    at += kPackIdBytes + 8;
    uint64_t n = GetU32(p.data() + at);
    uint64_t len = 4 + n * kPackEntrySize;
    if (at + len > p.size()) return false;
    if (!DecodeEntries(p.data() + at, len, info.entries)) return false;
    at += len;
    out.push_back(std::move(info));
  }
  return at == p.size();
}

std::string WriteIndexFile(const std::string& repo, const RepoKeys& keys, int version,
                           const std::vector<PackInfo>& packs) {
  if (version >= 2) {
    IndexV2Writer w(repo, keys);
    for (const PackInfo& p : packs) w.AddPack(IndexPack{KeyOf(p.id), p.size});
    for (const IndexRecord& r : SortedRecords(packs)) w.AddEntry(r);
    return w.Finish();
  }
  Bytes data = EncodeIndex(keys, packs);
  // Decode what was encoded before it goes anywhere.
  std::vector<PackInfo> back;
  if (!DecodeIndex(keys, data, back) || back.size() != packs.size())
    throw Corrupt("index does not decode after encoding");
  std::string name = RandomHex(16);
  RepoDir(repo).WriteFileAtomic("index", name, data);
  return name;
}

std::string WriteRemovalRecord(const std::string& repo, const RepoKeys& keys,
                               const std::vector<std::string>& packs) {
  IndexV2Writer w(repo, keys);
  for (const std::string& p : packs) w.AddRemoved(KeyOf(p));
  return w.Finish();
}

std::string WriteConsolidatedIndex(const std::string& repo, const RepoKeys& keys, int version,
                                   const ChunkIndex& index, const std::vector<bool>& gone,
                                   const EntrySet& dropEntries) {
  const uint32_t nPacks = index.PackCount();
  auto keep = [&](uint32_t no) { return no < gone.size() ? !gone[no] : true; };
  std::vector<PackKey> keyOf(nPacks);
  for (uint32_t no = 0; no < nPacks; no++) keyOf[no] = KeyOf(index.PackAt(no).id);
  auto dropped = [&](const ChunkId& id, uint32_t no) {
    return !dropEntries.empty() && dropEntries.count({id, keyOf[no]}) != 0;
  };
  if (version < 2) {
    // Format 1 is one envelope: built in memory (a reason to upgrade).
    std::vector<PackInfo> packs;
    std::vector<uint32_t> slot(nPacks, ~0u);
    for (uint32_t no = 0; no < nPacks; no++) {
      if (!keep(no) || index.PackRemoved(no)) continue;
      PackRecord r = index.PackAt(no);
      slot[no] = static_cast<uint32_t>(packs.size());
      packs.push_back(PackInfo{r.id, r.size, {}});
    }
    index.ScanTables([&](uint64_t, uint32_t no, const IndexRecord& r, uint32_t) {
      if (slot[no] != ~0u && !dropped(r.id, no))
        packs[slot[no]].entries.push_back(PackEntry{r.id, r.offset, r.storedLen, r.rawLen, r.flags});
      return true;
    });
    index.ScanOverlay([&](uint32_t no, const ChunkLocation& l, const ChunkId& id) {
      if (slot[no] != ~0u && !dropped(id, no))
        packs[slot[no]].entries.push_back(PackEntry{id, l.offset, l.storedLen, l.rawLen, l.flags});
    });
    // A pack the tables and the overlay both name: one copy of each entry.
    for (PackInfo& p : packs) {
      std::sort(p.entries.begin(), p.entries.end(), [](const PackEntry& a, const PackEntry& b) {
        return a.offset < b.offset || (a.offset == b.offset && a.id < b.id);
      });
      p.entries.erase(std::unique(p.entries.begin(), p.entries.end()), p.entries.end());
    }
    return WriteIndexFile(repo, keys, 1, packs);
  }

  IndexV2Writer w(repo, keys);
  std::vector<uint32_t> out(nPacks, ~0u);
  uint32_t next = 0;
  for (uint32_t no = 0; no < nPacks; no++) {
    if (!keep(no) || index.PackRemoved(no)) continue;
    PackRecord r = index.PackAt(no);
    w.AddPack(IndexPack{KeyOf(r.id), r.size});
    out[no] = next++;
  }
  std::vector<IndexRecord> more;
  // Overlay entries: a backup's packs, or those compaction just wrote.
  index.ScanOverlay([&](uint32_t no, const ChunkLocation& l, const ChunkId& id) {
    if (out[no] != ~0u && !dropped(id, no)) more.push_back(IndexRecord{id, out[no], l.offset, l.storedLen, l.rawLen, l.flags});
  });
  std::sort(more.begin(), more.end(), [](const IndexRecord& a, const IndexRecord& b) {
    return CompareIds(a.id.data(), b.id.data()) < 0;
  });

  // k-way merge of the sorted tables and `more`, in id order; an entry
  // repeated exactly (same id, pack, offset) is written once.
  auto tables = index.Tables();
  struct Cursor {
    size_t src;
    uint64_t row;
  };
  auto idOf = [&](const Cursor& c) -> const uint8_t* {
    return c.src < tables.size() ? tables[c.src]->Entry(c.row) : more[c.row].id.data();
  };
  auto later = [&](const Cursor& a, const Cursor& b) { return CompareIds(idOf(a), idOf(b)) > 0; };
  std::priority_queue<Cursor, std::vector<Cursor>, decltype(later)> heap(later);
  for (size_t s = 0; s < tables.size(); s++)
    if (tables[s]->Count()) heap.push(Cursor{s, 0});
  if (!more.empty()) heap.push(Cursor{tables.size(), 0});
  // Table pack numbers -> ours (and the index's), per table.
  std::vector<std::vector<uint32_t>> map(tables.size()), global(tables.size());
  for (size_t s = 0; s < tables.size(); s++) {
    for (uint32_t i = 0; i < tables[s]->PackCount(); i++) {
      uint32_t no;
      std::string id = Hex(tables[s]->Pack(i).id.data(), kPackIdBytes);
      bool known = index.PackNumber(id, &no);
      map[s].push_back(known ? out[no] : ~0u);
      global[s].push_back(known ? no : ~0u);
    }
  }
  IndexRecord last;
  bool any = false;
  uint64_t steps = 0;
  while (!heap.empty()) {
    Cursor c = heap.top();
    heap.pop();
    IndexRecord r;
    uint64_t count;
    if (c.src < tables.size()) {
      r = GetRecord(tables[c.src]->Entry(c.row));
      bool inRange = r.pack < map[c.src].size();
      if (inRange && global[c.src][r.pack] != ~0u && dropped(r.id, global[c.src][r.pack])) inRange = false;
      r.pack = inRange ? map[c.src][r.pack] : ~0u;
      count = tables[c.src]->Count();
    } else {
      r = more[c.row];
      count = more.size();
    }
    if (r.pack != ~0u && !(any && r.id == last.id && r.pack == last.pack && r.offset == last.offset)) {
      w.AddEntry(r);
      last = r;
      any = true;
    }
    if (++c.row < count) heap.push(c);
    if ((++steps & 0xfffff) == 0) index.DropPages();
  }
  index.DropPages();
  return w.Finish();
}

IndexLoad LoadIndexDir(const std::string& repo, const RepoKeys& keys, const std::string& cacheDir,
                       ChunkIndex& index) {
  IndexLoad res;
  RepoDir root(repo);
  std::vector<std::string> names;
  for (const DirEntry& e : root.List("index")) {
    if (e.name[0] == '.') continue;
    if (e.type != EntryType::kFile) throw root.Unsafe("index/" + e.name, e.what);
    names.push_back(e.name);
  }
  std::sort(names.begin(), names.end());
  std::map<std::string, std::shared_ptr<IndexTable>> held;
  for (auto& t : index.Tables()) held[t->Name()] = t;
  std::vector<std::shared_ptr<IndexTable>> tables;
  for (const std::string& name : names) {
    auto it = held.find(name);
    if (it != held.end()) {
      tables.push_back(it->second);
      res.files.push_back(name);
      continue;
    }
    try {
      tables.push_back(IndexTable::Load(repo, keys, cacheDir, name));
      res.files.push_back(name);
      res.loaded++;
    } catch (const EngineError& e) {
      // Deleted by a prune between readdir and open: not damage.
      if (e.errnum == ENOENT) continue;
      if (e.code != "REPO_CORRUPT") throw;
      res.badFiles.push_back(name);
    }
  }
  index.SetTables(std::move(tables));
  // Cache files of index files that still exist stay, even when they did
  // not open here (another key, a damaged copy): they are not ours to judge.
  SweepIndexCache(cacheDir, names);
  return res;
}

}  // namespace snapkeep::engine
