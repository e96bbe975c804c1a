#include "verifier.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <map>

#include "compress.h"
#include "file_io.h"
#include "repo_dir.h"

namespace snapkeep::engine {
namespace {

// Structure of one pack: exists, size, trailer == index.
bool CheckStructure(const VerifyRequest& req, PackReader& reader, const PackInfo& pack,
                    std::vector<VerifyProblem>& out) {
  RepoDir root(req.repo);
  std::optional<struct stat> st = root.Lstat(PackRel(pack.id));
  if (!st) {
    out.push_back({"missing-pack", "pack " + pack.id + " is missing", pack.id, ""});
    return false;
  }
  if (!S_ISREG(st->st_mode)) throw root.Unsafe(PackRel(pack.id), DescribeMode(st->st_mode));
  if (static_cast<uint64_t>(st->st_size) != pack.size) {
    out.push_back({"bad-index", "pack " + pack.id + " has " + std::to_string(st->st_size) +
                                    " bytes, the index says " + std::to_string(pack.size),
                   pack.id, ""});
    return false;
  }
  std::vector<PackEntry> trailer;
  uint64_t size = 0;
  try {
    trailer = reader.ReadTrailer(pack.id, &size);
  } catch (const EngineError& e) {
    out.push_back({"bad-index", e.what(), pack.id, ""});
    return false;
  }
  std::map<ChunkId, PackEntry> byId;
  for (const PackEntry& e : trailer) byId[e.id] = e;
  for (const PackEntry& e : pack.entries) {
    auto it = byId.find(e.id);
    if (it == byId.end() || !(it->second == e))
      out.push_back({"bad-index", "index entry of chunk " + Hex(e.id) + " disagrees with pack " +
                                      pack.id + "'s trailer",
                     pack.id, Hex(e.id)});
  }
  return true;
}

// Data of one pack: every indexed blob decodes to its id.
void CheckData(PackReader& reader, const PackInfo& pack, std::vector<VerifyProblem>& out,
               OpControl& ctl) {
  Decompressor dz;
  Bytes stored, scratch, raw;
  for (const PackEntry& e : pack.entries) {
    if (ctl.Stopping()) return;
    raw.resize(e.rawLen);
    try {
      reader.ReadStored(pack.id, e.offset, e.storedLen, stored);
      reader.Decode(pack.id, e, stored, scratch, dz, raw.data(), e.rawLen);
    } catch (const EngineError& err) {
      out.push_back({"bad-chunk", err.what(), pack.id, Hex(e.id)});
    }
    ctl.done += e.storedLen;
  }
}

}  // namespace

VerifyResult RunVerify(const VerifyRequest& req, OpControl& ctl) {
  std::vector<PackInfo> packs = req.index->Snapshot();
  VerifyResult res;
  res.packs = packs.size();
  for (const PackInfo& p : packs) {
    res.chunks += p.entries.size();
    if (req.data)
      for (const PackEntry& e : p.entries) ctl.total += e.storedLen;
  }
  PackReader reader(req.repo, req.keys);
  std::atomic<size_t> next{0};
  std::mutex mu;
  int threads = req.threads > 0 ? req.threads : DefaultThreads();
  ctl.RunWorkers(threads, [&] {
    for (;;) {
      if (ctl.Stopping()) return;
      size_t i = next++;
      if (i >= packs.size()) return;
      std::vector<VerifyProblem> found;
      if (CheckStructure(req, reader, packs[i], found) && req.data)
        CheckData(reader, packs[i], found, ctl);
      std::lock_guard lock(mu);
      res.problems.insert(res.problems.end(), found.begin(), found.end());
    }
  });
  ctl.RethrowFirst();
  ctl.CheckCancel();
  ctl.ReportFinal();
  return res;
}

}  // namespace snapkeep::engine
