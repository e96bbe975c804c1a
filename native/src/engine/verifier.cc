#include "verifier.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "compress.h"
#include "file_io.h"
#include "repo_dir.h"

namespace snapkeep::engine {
namespace {

struct PackJob {
  uint32_t no;
  PackRecord rec;
  uint64_t indexed;  // table entries naming it
};

// Structure of one pack: exists, size, every index entry naming it is an
// entry of its trailer. Returns the trailer entries the index names.
bool CheckStructure(const VerifyRequest& req, PackReader& reader, const PackJob& job,
                    std::vector<PackEntry>& named, std::vector<VerifyProblem>& out) {
  const std::string& id = job.rec.id;
  uint64_t onDisk = 0;
  if (req.fetcher) {
    // A remote repository's read cache: the pack is fetched when it is not
    // here, and may be evicted again, so its size is taken from the
    // descriptor the reader holds (opened like any pack: regular files only).
    try {
      onDisk = reader.Size(id);
    } catch (const EngineError& e) {
      if (e.code != "REPO_CORRUPT") throw;
      out.push_back({"missing-pack", "pack " + id + " is missing", id, ""});
      return false;
    }
  } else {
    RepoDir root(req.repo);
    std::optional<struct stat> st = root.Lstat(PackRel(id));
    if (!st) {
      out.push_back({"missing-pack", "pack " + id + " is missing", id, ""});
      return false;
    }
    if (!S_ISREG(st->st_mode)) throw root.Unsafe(PackRel(id), DescribeMode(st->st_mode));
    onDisk = static_cast<uint64_t>(st->st_size);
  }
  if (onDisk != job.rec.size) {
    out.push_back({"bad-index", "pack " + id + " has " + std::to_string(onDisk) +
                                    " bytes, the index says " + std::to_string(job.rec.size),
                   id, ""});
    return false;
  }
  std::vector<PackEntry> trailer;
  uint64_t size = 0;
  try {
    trailer = reader.ReadTrailer(id, &size);
  } catch (const EngineError& e) {
    out.push_back({"bad-index", e.what(), id, ""});
    return false;
  }
  uint64_t matched = 0;
  for (const PackEntry& e : trailer) {
    uint64_t n = 0, eq = 0;
    req.index->MatchEntries(e, job.no, &n, &eq);
    if (n != eq)
      out.push_back({"bad-index", "index entry of chunk " + Hex(e.id) + " disagrees with pack " + id +
                                      "'s trailer",
                     id, Hex(e.id)});
    if (eq) named.push_back(e);
    matched += eq;
  }
  if (matched != job.indexed)
    out.push_back({"bad-index", "the index names " + std::to_string(job.indexed - std::min(job.indexed, matched)) +
                                    " chunks in pack " + id + " that its trailer does not hold",
                   id, ""});
  return true;
}

// Data of one pack: every indexed blob decodes to its id.
void CheckData(PackReader& reader, const std::string& id, const std::vector<PackEntry>& entries,
               std::vector<VerifyProblem>& out, OpControl& ctl) {
  Decompressor dz;
  Bytes stored, scratch, raw;
  for (const PackEntry& e : entries) {
    if (ctl.Stopping()) return;
    raw.resize(e.rawLen);
    try {
      reader.ReadStored(id, e.offset, e.storedLen, stored);
      reader.Decode(id, e, stored, scratch, dz, raw.data(), e.rawLen);
    } catch (const EngineError& err) {
      if (err.code == "OWNER_KEY_REQUIRED") throw;  // not the chunk's fault
      out.push_back({"bad-chunk", err.what(), id, Hex(e.id)});
    }
    ctl.done += e.storedLen;
  }
}

}  // namespace

VerifyResult RunVerify(const VerifyRequest& req, OpControl& ctl) {
  // The structure (trailers under the metadata key, headers by form) needs
  // no owner key; decoding blobs does.
  if (req.data) RequireBlobKeys(req.keys);
  const ChunkIndex& index = *req.index;
  std::vector<uint64_t> count(index.PackCount(), 0), stored(index.PackCount(), 0);
  VerifyResult res;
  index.ScanTables([&](uint64_t, uint32_t no, const IndexRecord& r, uint32_t) {
    count[no]++;
    stored[no] += r.storedLen;
    res.chunks++;
    return true;
  });
  std::vector<PackJob> packs;
  for (uint32_t no = 0; no < count.size(); no++) {
    if (index.PackRemoved(no) || index.FirstTable(no) == ~0u) continue;
    packs.push_back(PackJob{no, index.PackAt(no), count[no]});
    if (req.data) ctl.total += stored[no];
  }
  res.packs = packs.size();
  PackReader reader(req.repo, req.keys, req.fetcher);
  std::atomic<size_t> next{0};
  std::mutex mu;
  int threads = req.threads > 0 ? req.threads : DefaultThreads();
  ctl.RunWorkers(threads, [&] {
    for (;;) {
      if (ctl.Stopping()) return;
      size_t i = next++;
      if (i >= packs.size()) return;
      std::vector<VerifyProblem> found;
      std::vector<PackEntry> named;
      if (CheckStructure(req, reader, packs[i], named, found) && req.data)
        CheckData(reader, packs[i].rec.id, named, found, ctl);
      req.index->MaybeDropPages();
      std::lock_guard lock(mu);
      res.problems.insert(res.problems.end(), found.begin(), found.end());
    }
  });
  ctl.RethrowFirst();
  ctl.CheckCancel();
  ctl.ReportFinal();
  return res;
}

ListChecker::ListChecker(std::shared_ptr<ChunkIndex> index, const Bytes& badChunks,
                         const std::vector<std::string>& badPacks)
    : index_(std::move(index)) {
  for (size_t at = 0; at + kIdSize <= badChunks.size(); at += kIdSize) {
    ChunkId id;
    std::memcpy(id.data(), badChunks.data() + at, kIdSize);
    badChunks_.Insert(id, Unit{});
  }
  badPacks_.assign(index_->PackCount(), false);
  for (const std::string& p : badPacks) {
    uint32_t no;
    if (index_->PackNumber(p, &no)) badPacks_[no] = true;
  }
}

ListChecker::SegVerdict ListChecker::CheckSegment(ChunkListSource& list, uint64_t k) {
  SegVerdict v;
  std::shared_ptr<const Bytes> seg;
  try {
    seg = list.Segment(k);
  } catch (const EngineError& e) {
    if (e.code != "REPO_CORRUPT") throw;
    v.error = e.what();
    return v;
  }
  FlatSet<kIdSize> seen;
  for (size_t at = 0; at + kIdSize <= seg->size(); at += kIdSize) {
    ChunkId id;
    std::memcpy(id.data(), seg->data() + at, kIdSize);
    if (IsZeroId(id) || !seen.Insert(id, Unit{}).second) continue;
    ChunkLocation loc;
    if (!index_->Find(id, &loc)) {
      v.missing.insert(v.missing.end(), id.begin(), id.end());
      continue;
    }
    if (badChunks_.Get(id)) v.bad.insert(v.bad.end(), id.begin(), id.end());
    if (loc.pack < badPacks_.size() && badPacks_[loc.pack] &&
        std::find(v.packs.begin(), v.packs.end(), loc.pack) == v.packs.end())
      v.packs.push_back(loc.pack);
  }
  return v;
}

ListChecker::Verdict ListChecker::Check(ChunkListSource& list, OpControl& ctl) {
  const uint64_t nSeg = (list.Chunks() + kSegmentEntries - 1) / kSegmentEntries;
  const bool shared = !list.Segments().empty();
  std::vector<uint32_t> verdictOf(nSeg, ~0u);
  std::vector<uint64_t> todo;
  {
    std::lock_guard lock(mu_);
    for (uint64_t k = 0; k < nSeg; k++) {
      const uint32_t* v = shared ? seen_.Get(list.Segments()[k]) : nullptr;
      if (v) verdictOf[k] = *v;
      else todo.push_back(k);
    }
  }
  ctl.total += todo.size();
  std::atomic<size_t> next{0};
  ctl.RunWorkers(DefaultThreads(), [&] {
    for (;;) {
      if (ctl.Stopping()) return;
      size_t i = next++;
      if (i >= todo.size()) return;
      uint64_t k = todo[i];
      SegVerdict v = CheckSegment(list, k);
      std::lock_guard lock(mu_);
      uint32_t no = static_cast<uint32_t>(verdicts_.size());
      verdicts_.push_back(std::move(v));
      if (shared) seen_.Insert(list.Segments()[k], no);
      verdictOf[k] = no;
      ctl.done++;
      index_->MaybeDropPages();
    }
  });
  ctl.RethrowFirst();
  ctl.CheckCancel();

  Verdict out;
  FlatSet<kIdSize> missing, bad;
  std::vector<uint32_t> packs;
  std::lock_guard lock(mu_);
  for (uint64_t k = 0; k < nSeg; k++) {
    const SegVerdict& v = verdicts_[verdictOf[k]];
    if (!v.error.empty() && out.error.empty()) {
      out.error = v.error;
      if (shared) out.errorSegment = Hex(list.Segments()[k]);
    }
    for (size_t at = 0; at < v.missing.size(); at += kIdSize) {
      ChunkId id;
      std::memcpy(id.data(), v.missing.data() + at, kIdSize);
      if (missing.Insert(id, Unit{}).second) out.missing.insert(out.missing.end(), id.begin(), id.end());
    }
    for (size_t at = 0; at < v.bad.size(); at += kIdSize) {
      ChunkId id;
      std::memcpy(id.data(), v.bad.data() + at, kIdSize);
      if (bad.Insert(id, Unit{}).second) out.badChunks.insert(out.badChunks.end(), id.begin(), id.end());
    }
    for (uint32_t p : v.packs)
      if (std::find(packs.begin(), packs.end(), p) == packs.end()) packs.push_back(p);
  }
  for (uint32_t p : packs) out.badPacks.push_back(index_->PackAt(p).id);
  return out;
}

}  // namespace snapkeep::engine
