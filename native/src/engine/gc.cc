#include "gc.h"

#include <set>

#include "index_file.h"
#include "pack_writer.h"

namespace snapkeep::engine {

std::vector<PackUsage> PlanGc(const ChunkIndex& index, const IdSet& live) {
  std::vector<PackUsage> out;
  for (const PackInfo& p : index.Snapshot()) {
    PackUsage u;
    u.id = p.id;
    u.size = p.size;
    for (const PackEntry& e : p.entries) {
      u.chunks++;
      u.storedBytes += e.storedLen;
      if (live.count(e.id)) {
        u.liveChunks++;
        u.liveBytes += e.storedLen;
      }
    }
    out.push_back(u);
  }
  return out;
}

CompactResult RunCompact(const CompactRequest& req, OpControl& ctl) {
  std::set<std::string> gone(req.rewrite.begin(), req.rewrite.end());
  gone.insert(req.drop.begin(), req.drop.end());
  std::vector<PackInfo> all = req.index->Snapshot();
  PackReader reader(req.repo, req.keys);
  PackWriter writer(req.repo, req.keys, req.packSize);
  std::vector<PackInfo> fresh;
  CompactResult res;
  std::set<std::string> rewrite(req.rewrite.begin(), req.rewrite.end());
  for (const PackInfo& p : all)
    if (rewrite.count(p.id))
      for (const PackEntry& e : p.entries)
        if (req.live.count(e.id)) ctl.total += e.storedLen;

  Bytes stored;
  for (const PackInfo& p : all) {
    if (!rewrite.count(p.id)) continue;
    for (const PackEntry& e : p.entries) {
      if (!req.live.count(e.id)) continue;
      ctl.CheckCancel();
      reader.ReadStored(p.id, e.offset, e.storedLen, stored);
      // Blobs move as stored: the AEAD binds them to their chunk id, not
      // to a pack or an offset.
      if (auto info = writer.Add(e.id, stored.data(), stored.size(), e.rawLen, e.flags))
        fresh.push_back(std::move(*info));
      res.copiedBytes += e.storedLen;
      ctl.done += e.storedLen;
    }
  }
  if (auto info = writer.Flush()) fresh.push_back(std::move(*info));

  std::vector<PackInfo> keep;
  for (PackInfo& p : all)
    if (!gone.count(p.id)) keep.push_back(std::move(p));
  for (PackInfo& p : fresh) {
    res.newPacks.push_back(p.id);
    keep.push_back(std::move(p));
  }
  res.indexFile = WriteIndexFile(req.repo, req.keys, keep);
  ctl.ReportFinal();
  return res;
}

std::string RebuildIndex(const std::string& repo, const RepoKeys& keys,
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
  return WriteIndexFile(repo, keys, good);
}

}  // namespace snapkeep::engine
