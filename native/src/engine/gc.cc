#include "gc.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "compress.h"
#include "index_file.h"
#include "pack_writer.h"

namespace snapkeep::engine {

GcMark::GcMark(std::shared_ptr<ChunkIndex> idx)
    : index(std::move(idx)), generation_(index->Generation()), positions_(index->Positions()) {
  bits_.assign((positions_ + 63) / 64, 0);
  overlayPacks_.assign(index->PackCount(), false);
  index->ScanOverlay([&](uint32_t no, const ChunkLocation&, const ChunkId&) { overlayPacks_[no] = true; });
}

void GcMark::CheckCurrent() const {
  if (index->Generation() != generation_)
    throw EngineError("INVALID_ARGUMENT", "the index was reloaded during prune's mark");
}

void GcMark::Add(const std::vector<std::shared_ptr<ChunkListSource>>& lists, OpControl& ctl) {
  CheckCurrent();
  // The distinct segments, in list order, so reads follow the lists.
  struct Job {
    std::shared_ptr<ChunkListSource> list;
    uint64_t k;
  };
  std::vector<Job> jobs;
  for (const auto& l : lists) {
    if (l->HasRoot() && seenObjects_.Insert(l->Root(), Unit{}).second)
      objects.insert(objects.end(), l->Root().begin(), l->Root().end());
    const auto& segs = l->Segments();
    for (uint64_t k = 0; k < segs.size(); k++)
      if (seenObjects_.Insert(segs[k], Unit{}).second) {
        objects.insert(objects.end(), segs[k].begin(), segs[k].end());
        jobs.push_back(Job{l, k});
      }
    // A list given whole (tests) has no segments to share: mark it all.
    if (segs.empty() && l->Chunks()) {
      for (uint64_t k = 0; k * kSegmentEntries < l->Chunks(); k++) jobs.push_back(Job{l, k});
    }
  }
  ctl.total += jobs.size();
  std::mutex mu;  // guards missing, and bits_ words (set with atomics below)
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> marked{0};
  auto* words = reinterpret_cast<std::atomic<uint64_t>*>(bits_.data());
  static_assert(sizeof(std::atomic<uint64_t>) == sizeof(uint64_t), "bitset words");
  ctl.RunWorkers(DefaultThreads(), [&] {
    for (;;) {
      if (ctl.Stopping()) return;
      size_t i = next++;
      if (i >= jobs.size()) return;
      auto seg = jobs[i].list->Segment(jobs[i].k);
      // Sorted lookups touch the index in order: fewer pages per segment.
      std::vector<ChunkId> ids(seg->size() / kIdSize);
      for (size_t j = 0; j < ids.size(); j++) std::memcpy(ids[j].data(), seg->data() + j * kIdSize, kIdSize);
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      for (const ChunkId& id : ids) {
        if (IsZeroId(id)) continue;
        ChunkLocation loc;
        if (!index->Find(id, &loc)) {
          std::lock_guard lock(mu);
          if (missingSet_.Insert(id, Unit{}).second) missing.insert(missing.end(), id.begin(), id.end());
          continue;
        }
        if (loc.pos == ChunkIndex::kNoPos) continue;  // in the overlay: its pack stays anyway
        uint64_t bit = uint64_t(1) << (loc.pos & 63);
        if (!(words[loc.pos >> 6].fetch_or(bit) & bit)) marked++;
      }
      index->MaybeDropPages();
      ctl.done++;
    }
  });
  ctl.RethrowFirst();
  ctl.CheckCancel();
  this->marked += marked;
  segmentsRead += jobs.size();
}

GcPlanResult PlanGc(const GcMark& mark, const GcPlanOptions& opts) {
  mark.CheckCurrent();
  const ChunkIndex& index = *mark.index;
  const uint32_t n = index.PackCount();
  struct Use {
    uint64_t chunks = 0, live = 0, stored = 0, liveBytes = 0;
  };
  std::vector<Use> use(n);
  index.ScanTables([&](uint64_t pos, uint32_t no, const IndexRecord& r, uint32_t table) {
    // A pack named by several index files: counted from the first.
    if (index.FirstTable(no) != table) return true;
    Use& u = use[no];
    u.chunks++;
    u.stored += r.storedLen;
    if (mark.Live(pos)) {
      u.live++;
      u.liveBytes += r.storedLen;
    }
    return true;
  });
  GcPlanResult res;
  std::vector<PackUsage> candidates;
  for (uint32_t no = 0; no < n; no++) {
    if (index.PackRemoved(no)) continue;
    if (no < mark.OverlayPacks().size() && mark.OverlayPacks()[no]) continue;
    if (index.FirstTable(no) == ~0u) continue;
    PackRecord p = index.PackAt(no);
    const Use& u = use[no];
    res.packs++;
    res.storedBytes += u.stored;
    res.liveBytes += u.liveBytes;
    PackUsage pu{p.id, p.size, u.chunks, u.live, u.stored, u.liveBytes};
    if (u.live == 0)
      res.drop.push_back(pu);
    else if (double(u.liveBytes) < double(u.stored) * opts.repackBelow)
      candidates.push_back(pu);
  }
  // Emptiest first: most space freed per byte copied.
  std::sort(candidates.begin(), candidates.end(), [](const PackUsage& a, const PackUsage& b) {
    return double(a.liveBytes) / double(std::max<uint64_t>(1, a.storedBytes)) <
           double(b.liveBytes) / double(std::max<uint64_t>(1, b.storedBytes));
  });
  uint64_t copied = 0;
  for (const PackUsage& c : candidates) {
    if (opts.maxRepackBytes && copied + c.liveBytes > opts.maxRepackBytes) {
      res.deferredPacks++;
      continue;
    }
    copied += c.liveBytes;
    res.rewrite.push_back(c);
  }
  return res;
}

CompactResult RunCompact(const CompactRequest& req, OpControl& ctl) {
  // Every copied blob is decoded first: without the owner's keys nothing
  // can be, so refuse before a pack is written.
  RequireBlobKeys(req.keys);
  GcMark& mark = *req.mark;
  mark.CheckCurrent();
  ChunkIndex& index = *mark.index;
  std::vector<bool> rewrite(index.PackCount(), false);
  for (const std::string& id : req.rewrite) {
    uint32_t no;
    if (!index.PackNumber(id, &no)) throw EngineError("INVALID_ARGUMENT", "pack " + id + " is not indexed");
    rewrite[no] = true;
  }
  // What moves: live positions in packs being rewritten.
  const uint64_t positions = index.Positions();
  std::vector<uint64_t> copied((positions + 63) / 64, 0);
  index.ScanTables([&](uint64_t pos, uint32_t no, const IndexRecord& r, uint32_t) {
    if (rewrite[no] && mark.Live(pos)) ctl.total += r.storedLen;
    return true;
  });

  // Layout 2: the new packs mix blobs of many sessions, so each is sealed
  // again under this compaction's own session key.
  WriteSession session(req.keys);
  const bool reseal = req.keys.layout == 2;
  PackWriter writer(req.repo, session.Keys(), req.packSize);
  CompactResult res;
  Decompressor dz;
  Bytes stored, scratch, raw, resealed;
  uint64_t steps = 0;
  // Copies the blob at `loc` after checking it decodes to `id`.
  auto copy = [&](const ChunkId& id, const ChunkLocation& loc) {
    ctl.CheckCancel();
    copied[loc.pos >> 6] |= uint64_t(1) << (loc.pos & 63);
    PackRecord pack = index.PackAt(loc.pack);
    req.packs->ReadStored(pack.id, loc.offset, loc.storedLen, stored);
    raw.resize(loc.rawLen);
    PackEntry e{id, loc.offset, loc.storedLen, loc.rawLen, loc.flags};
    // Throws REPO_CORRUPT naming the pack and chunk: the source pack stays.
    req.packs->Decode(pack.id, e, stored, scratch, dz, raw.data(), loc.rawLen);
    // Layout 1: blobs move as stored (the AEAD binds them to their chunk
    // id, not to a pack or an offset). Layout 2: the payload Decode left in
    // `scratch`, under the new packs' key; the same length (nonce and tag).
    const Bytes* out = &stored;
    if (reseal) {
      resealed.clear();
      Seal(session.Keys(), scratch.data(), scratch.size(), id.data(), kIdSize, resealed);
      out = &resealed;
    }
    if (auto info = writer.Add(id, out->data(), out->size(), loc.rawLen, loc.flags))
      res.newPacks.push_back(std::move(*info));
    res.copiedBytes += loc.storedLen;
    res.copiedChunks++;
    ctl.done += loc.storedLen;
    if ((++steps & 0x3ff) == 0) index.MaybeDropPages();
  };
  auto wanted = [&](const ChunkLocation& loc) {
    return loc.pos != ChunkIndex::kNoPos && rewrite[loc.pack] && mark.Live(loc.pos) &&
           !((copied[loc.pos >> 6] >> (loc.pos & 63)) & 1);
  };
  // Device order: the lists' order, each segment once.
  FlatSet<kIdSize> seen;
  for (const auto& list : req.order) {
    uint64_t nSeg = (list->Chunks() + kSegmentEntries - 1) / kSegmentEntries;
    for (uint64_t k = 0; k < nSeg; k++) {
      if (!list->Segments().empty() && !seen.Insert(list->Segments()[k], Unit{}).second) continue;
      auto seg = list->Segment(k);
      for (size_t j = 0; j * kIdSize < seg->size(); j++) {
        ChunkId id;
        std::memcpy(id.data(), seg->data() + j * kIdSize, kIdSize);
        ChunkLocation loc;
        if (IsZeroId(id) || !index.Find(id, &loc) || !wanted(loc)) continue;
        copy(id, loc);
      }
    }
  }
  // Whatever the lists did not reach (they should all be there).
  std::vector<std::pair<ChunkId, ChunkLocation>> rest;
  index.ScanTables([&](uint64_t pos, uint32_t no, const IndexRecord& r, uint32_t) {
    ChunkLocation loc{no, r.offset, r.storedLen, r.rawLen, r.flags, pos};
    if (wanted(loc)) rest.emplace_back(r.id, loc);
    return true;
  });
  for (const auto& [id, loc] : rest) copy(id, loc);
  if (auto info = writer.Flush()) res.newPacks.push_back(std::move(*info));

  // The new packs are indexed before anything else changes.
  if (!res.newPacks.empty()) {
    res.indexFile = WriteIndexFile(req.repo, req.keys, req.version, res.newPacks);
    for (const PackInfo& p : res.newPacks) index.AddPack(p);
  }
  ctl.ReportFinal();
  return res;
}

std::string RebuildIndex(const std::string& repo, const RepoKeys& keys, int version,
                         const std::vector<std::string>& packs, std::vector<std::string>& bad) {
  PackReader reader(repo, keys);
  std::vector<PackInfo> good;
  for (const std::string& id : packs) {
    try {
      PackInfo info;
      info.id = id;
      info.entries = reader.ReadTrailer(id, &info.size);
      good.push_back(std::move(info));
    } catch (const EngineError&) {
      bad.push_back(id);
    }
  }
  return WriteIndexFile(repo, keys, version, good);
}

}  // namespace snapkeep::engine
