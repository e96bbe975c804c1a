#include "pipeline_backup.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <unordered_map>

#include "bounded_queue.h"
#include "compress.h"
#include "file_io.h"
#include "index_file.h"
#include "pack_format.h"
#include "pack_writer.h"
#include "source_reader.h"

namespace snapkeep::engine {
namespace {

// Reads per work item: big enough for O_DIRECT to reach disk speed, small
// enough that the workers' buffers stay a few MiB.
constexpr uint64_t kRunBytes = 4 << 20;
constexpr size_t kQueueBlobs = 16;

// A work item: a run of adjacent chunks inside one segment, or (count 0)
// just the check of a segment this backup reads nothing of.
struct Item {
  uint64_t first;  // chunk number
  uint64_t count;
  uint64_t seg;
};

struct Blob {
  ChunkId id;
  Bytes stored;
  uint32_t rawLen = 0;
  uint8_t flags = 0;
};

// A segment being built: its ids (from the parent, then overwritten by
// what is read), which were read, and how many items are still out.
struct SegState {
  std::mutex mu;
  bool ready = false;
  Bytes ids;
  std::vector<uint8_t> read;
  std::atomic<uint64_t> pending{0};
};

// Which chunks to read, as runs of adjacent chunks cut at segment ends.
std::vector<Item> PlanItems(const BackupRequest& req, uint64_t size, uint64_t nChunks,
                            std::vector<uint64_t>& perSeg) {
  const uint64_t cs = req.chunkSize;
  const uint64_t maxRun = std::max<uint64_t>(1, kRunBytes / cs);
  std::vector<bool> want(nChunks, !req.useRanges && !req.useUsed);
  auto mark = [&](const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
    for (auto [off, len] : ranges) {
      if (len == 0 || off >= size) continue;
      uint64_t end = std::min(size, off + std::min(len, size - off));
      for (uint64_t c = off / cs; c <= (end - 1) / cs; c++) want[c] = true;
    }
  };
  if (req.useRanges) mark(req.ranges);
  else if (req.useUsed) mark(req.used);
  const uint64_t nSeg = (nChunks + kSegmentEntries - 1) / kSegmentEntries;
  perSeg.assign(nSeg, 0);
  std::vector<Item> items;
  for (uint64_t k = 0; k < nSeg; k++) {
    uint64_t from = k * kSegmentEntries, to = std::min(nChunks, from + kSegmentEntries);
    size_t before = items.size();
    for (uint64_t c = from; c < to; c++) {
      if (!want[c]) continue;
      // back() of an empty vector is undefined: look only when this
      // segment already has a run.
      if (items.size() > before) {
        Item& last = items.back();
        if (last.first + last.count == c && last.count < maxRun) {
          last.count++;
          continue;
        }
      }
      items.push_back(Item{c, 1, k});
    }
    if (items.size() == before) items.push_back(Item{from, 0, k});
    perSeg[k] = items.size() - before;
  }
  return items;
}

bool AllZero(const uint8_t* p, size_t len) {
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    if (v) return false;
  }
  for (; i < len; i++)
    if (p[i]) return false;
  return true;
}

// Stage: hash (and recognise zero chunks, which get the zero id).
ChunkId HashStage(const RepoKeys& keys, const uint8_t* data, size_t len, bool* zero) {
  *zero = AllZero(data, len);
  if (*zero) return ChunkId{};
  return KeyedHash(keys, data, len);
}

// Stage: compress; returns the flags and leaves the payload in `out` (or
// tells the caller to store the raw bytes).
uint8_t CompressStage(Compressor& z, const uint8_t* data, size_t len, Bytes& out) {
  return z.Compress(data, len, out) ? kFlagCompressed : 0;
}

// Stage: encrypt the payload into the stored form, bound to the chunk id.
void EncryptStage(const RepoKeys& keys, const ChunkId& id, const uint8_t* payload, size_t len,
                  Bytes& stored) {
  stored.clear();
  if (keys.encrypted)
    Seal(keys, payload, len, id.data(), kIdSize, stored);
  else
    stored.assign(payload, payload + len);
}

// Spool mode: blocks while `limit` or more of the sealed packs are still in
// the spool (not yet uploaded and removed by the caller). Waiting here
// stops the pack stage, which fills the queue, which stops the workers: the
// whole pipeline waits for the uploads. Returns early when stopping.
void WaitForSpool(const BackupRequest& req, OpControl& ctl, std::vector<std::string>& inSpool) {
  for (;;) {
    for (auto it = inSpool.begin(); it != inSpool.end();) {
      struct stat st;
      if (::stat(PackPath(req.repo, *it).c_str(), &st) < 0 && errno == ENOENT)
        it = inSpool.erase(it);
      else
        ++it;
    }
    if (inSpool.size() < req.spoolPacks || ctl.Stopping()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Stage: append blobs to packs; seal full packs and publish them in the
// in-memory index so later chunks and concurrent readers see them.
void PackStage(const BackupRequest& req, const RepoKeys& session, BoundedQueue<Blob>& q, OpControl& ctl,
               std::vector<PackInfo>& sealed, std::atomic<uint64_t>& storedBytes) {
  PackWriter writer(req.repo, session, req.packSize);
  Blob b;
  std::vector<std::string> inSpool;
  auto publish = [&](std::optional<PackInfo> info) {
    if (!info) return;
    req.index->AddPack(*info);
    if (req.spoolPacks) inSpool.push_back(info->id);
    sealed.push_back(std::move(*info));
    if (req.spoolPacks) WaitForSpool(req, ctl, inSpool);
  };
  try {
    while (q.Pop(b)) {
      if (ctl.Failed()) continue;  // drain so workers never block forever
      storedBytes += b.stored.size();
      publish(writer.Add(b.id, b.stored.data(), b.stored.size(), b.rawLen, b.flags));
    }
    if (!ctl.Stopping()) publish(writer.Flush());
  } catch (...) {
    ctl.Fail(std::current_exception());
    while (q.Pop(b)) {
    }
  }
}

}  // namespace

BackupResult RunBackup(const BackupRequest& req, OpControl& ctl) {
  if (req.chunkSize == 0 || (req.chunkSize & (req.chunkSize - 1)) || req.chunkSize % kDirectAlign)
    throw EngineError("INVALID_ARGUMENT", "chunk size must be a power of two >= 4096");
  // Layout 2: this call's own data key, sealed once to the repository's
  // public key (every pack header of the call carries the seal) and wiped
  // when the call ends; the workers encrypt under it. Drawn before a byte
  // is read, so an unusable public key fails the call before it writes.
  WriteSession session(req.keys);
  const RepoKeys& keys = session.Keys();
  SourceReader reader(req.source);
  BackupResult res;
  res.direct = reader.Direct();
  res.size = reader.Size();
  if (req.expectedSize && res.size != req.expectedSize) {
    EngineError e("SOURCE_CHANGED", "source " + req.source + " has " + std::to_string(res.size) +
                                        " bytes, expected " + std::to_string(req.expectedSize));
    e.path = req.source;
    throw e;
  }
  const uint64_t cs = req.chunkSize;
  res.chunks = (res.size + cs - 1) / cs;
  if (req.useRanges && (!req.parent || req.parent->Chunks() != res.chunks))
    throw EngineError("INVALID_ARGUMENT", "parent chunk list does not match the source size");
  if (!req.writeSegments) res.list.assign(res.chunks * kIdSize, 0);
  std::vector<uint64_t> perSeg;
  std::vector<Item> items = PlanItems(req, res.size, res.chunks, perSeg);
  const uint64_t nSeg = perSeg.size();
  res.segments.resize(nSeg);
  for (const Item& it : items) {
    uint64_t end = std::min(res.size, (it.first + it.count) * cs);
    if (it.count) ctl.total += end - it.first * cs;
  }
  if (req.useUsed && !req.useRanges) res.bytesUnused = res.size - ctl.total;

  BoundedQueue<Blob> queue(kQueueBlobs);
  std::vector<PackInfo> sealed;
  std::atomic<uint64_t> storedBytes{0}, bytesNew{0}, chunksNew{0}, chunksZero{0}, chunksRead{0},
      repaired{0}, segsWritten{0}, repairBytes{0};
  std::thread packer([&] { PackStage(req, keys, queue, ctl, sealed, storedBytes); });

  std::mutex segMu;
  std::unordered_map<uint64_t, std::shared_ptr<SegState>> segs;
  auto segState = [&](uint64_t k) {
    std::shared_ptr<SegState> st;
    {
      std::lock_guard lock(segMu);
      auto& slot = segs[k];
      if (!slot) {
        slot = std::make_shared<SegState>();
        slot->pending = perSeg[k];
      }
      st = slot;
    }
    std::lock_guard lock(st->mu);
    if (!st->ready) {
      uint64_t n = std::min<uint64_t>(kSegmentEntries, res.chunks - k * kSegmentEntries);
      if (req.useRanges)
        st->ids = *req.parent->Segment(k);
      else
        st->ids.assign(n * kIdSize, 0);
      st->read.assign(n, 0);
      st->ready = true;
    }
    return st;
  };

  std::atomic<size_t> next{0};
  const size_t runBuf = AlignUp(std::min<uint64_t>(std::max<uint64_t>(kRunBytes, cs), ~0u));
  // Changed-block runs are short and scattered: reads, not the CPU, are
  // the limit, so keep more of them in flight.
  int threads = req.threads > 0 ? req.threads : req.useRanges ? std::max(DefaultThreads(), 8) : DefaultThreads();
  ctl.RunWorkers(threads, [&] {
    AlignedBuf buf = AllocAligned(runBuf);
    Compressor z(req.level);
    Bytes packed;
    // Stages for one chunk already in `data`: hash, then (unless zero or
    // known) compress, encrypt and queue. Returns false when stopping.
    auto process = [&](const uint8_t* data, size_t clen, ChunkId* out) {
      bool zero = false;
      ChunkId id = HashStage(keys, data, clen, &zero);
      *out = id;
      if (zero) {
        chunksZero++;
      } else if (req.index->Claim(id)) {
        Blob b;
        b.id = id;
        b.rawLen = static_cast<uint32_t>(clen);
        b.flags = CompressStage(z, data, clen, packed);
        if (b.flags)
          EncryptStage(keys, id, packed.data(), packed.size(), b.stored);
        else
          EncryptStage(keys, id, data, clen, b.stored);
        bytesNew += clen;
        chunksNew++;
        if (!queue.Push(std::move(b))) return false;
      }
      return true;
    };
    // A segment whose items are all done: check what it inherits, then
    // store it (or copy it into the whole list).
    auto finalize = [&](uint64_t k, SegState& st) {
      const uint64_t n = st.read.size();
      const uint64_t base = k * kSegmentEntries;
      if (req.useRanges) {
        for (uint64_t j = 0; j < n; j++) {
          if (st.read[j]) continue;
          ChunkId id;
          std::memcpy(id.data(), st.ids.data() + j * kIdSize, kIdSize);
          if (IsZeroId(id) || req.index->Contains(id)) continue;
          // The parent's chunk is gone from the index: read it again.
          uint64_t off = (base + j) * cs;
          size_t clen = static_cast<size_t>(std::min<uint64_t>(cs, res.size - off));
          reader.Read(off, clen, buf.get());
          if (!process(buf.get(), clen, &id)) return;
          std::memcpy(st.ids.data() + j * kIdSize, id.data(), kIdSize);
          repaired++;
          repairBytes += clen;
        }
        // Lookups all over a big index: give mapped pages back past a budget.
        req.index->MaybeDropPages();
      }
      if (req.writeSegments) {
        bool written = false;
        res.segments[k] = WriteSegment(req.repo, req.keys, st.ids.data(), n, &written);
        if (written) segsWritten++;
      } else {
        std::memcpy(res.list.data() + base * kIdSize, st.ids.data(), st.ids.size());
      }
      std::lock_guard lock(segMu);
      segs.erase(k);
    };
    for (;;) {
      if (ctl.Stopping()) return;
      size_t i = next++;
      if (i >= items.size()) return;
      const Item& it = items[i];
      auto st = segState(it.seg);
      const uint64_t base = it.seg * kSegmentEntries;
      if (it.count) {
        uint64_t off = it.first * cs;
        size_t len = static_cast<size_t>(std::min(res.size, (it.first + it.count) * cs) - off);
        reader.Read(off, len, buf.get());  // stage: read
        for (uint64_t k = 0; k < it.count; k++) {
          const uint8_t* data = buf.get() + k * cs;
          size_t clen = static_cast<size_t>(std::min<uint64_t>(cs, len - k * cs));
          ChunkId id;
          if (!process(data, clen, &id)) return;
          uint64_t j = it.first + k - base;
          std::memcpy(st->ids.data() + j * kIdSize, id.data(), kIdSize);
          st->read[j] = 1;
          chunksRead++;
          ctl.done += clen;
        }
      }
      if (--st->pending == 0) finalize(it.seg, *st);
    }
  });
  queue.Close();
  packer.join();
  req.index->ReleaseClaims();
  ctl.ReportFinal();

  // Index what was sealed even when the backup failed or was cancelled:
  // the next backup then reuses those chunks instead of storing them again.
  // But only packs that still exist: a prune that took the repository from
  // under this run (its lock judged stale) may have deleted them, and an
  // index naming them would make every later backup dedup against nothing.
  // In spool mode the caller uploads and removes sealed packs, and checks
  // them on the remote store.
  std::string gonePack;
  for (auto it = sealed.begin(); !req.spoolPacks && it != sealed.end();) {
    struct stat st;
    if (::stat(PackPath(req.repo, it->id).c_str(), &st) < 0 && errno == ENOENT) {
      gonePack = it->id;
      it = sealed.erase(it);
    } else {
      ++it;
    }
  }
  if (!gonePack.empty())
    ctl.Fail(std::make_exception_ptr(Corrupt("pack " + gonePack + " written by this backup is gone (pruned by another process?)", gonePack)));
  if (!sealed.empty()) {
    try {
      res.indexFile = WriteIndexFile(req.repo, req.keys, req.version, sealed);
    } catch (...) {
      ctl.Fail(std::current_exception());
    }
  }
  ctl.RethrowFirst();
  ctl.CheckCancel();
  if (req.writeRoot) {
    res.root = WriteListRoot(req.repo, req.keys, res.chunks, res.segments);
    res.hasRoot = true;
  }
  for (const PackInfo& p : sealed) res.packs.push_back(p.id);
  res.bytesRead = ctl.total + repairBytes;
  res.bytesNew = bytesNew;
  res.bytesStored = storedBytes;
  res.chunksNew = chunksNew;
  res.chunksZero = chunksZero;
  res.chunksRead = chunksRead + repaired;
  res.chunksRepaired = repaired;
  res.segmentsWritten = segsWritten;
  return res;
}

}  // namespace snapkeep::engine
