#include "pipeline_backup.h"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

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

struct Run {
  uint64_t first;  // chunk number
  uint64_t count;
};

struct Blob {
  ChunkId id;
  Bytes stored;
  uint32_t rawLen = 0;
  uint8_t flags = 0;
};

// Which chunks to read, as runs of adjacent chunks.
std::vector<Run> PlanRuns(const BackupRequest& req, uint64_t size, uint64_t nChunks) {
  const uint64_t cs = req.chunkSize;
  const uint64_t maxRun = std::max<uint64_t>(1, kRunBytes / cs);
  std::vector<bool> want(nChunks, !req.useRanges);
  if (req.useRanges)
    for (auto [off, len] : req.ranges) {
      if (len == 0 || off >= size) continue;
      uint64_t end = std::min(size, off + len);
      for (uint64_t c = off / cs; c <= (end - 1) / cs; c++) want[c] = true;
    }
  std::vector<Run> runs;
  for (uint64_t c = 0; c < nChunks; c++) {
    if (!want[c]) continue;
    if (!runs.empty() && runs.back().first + runs.back().count == c && runs.back().count < maxRun)
      runs.back().count++;
    else
      runs.push_back(Run{c, 1});
  }
  return runs;
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
    Seal(keys.enc, payload, len, id.data(), kIdSize, stored);
  else
    stored.assign(payload, payload + len);
}

// Stage: append blobs to packs; seal full packs and publish them in the
// in-memory index so later chunks and concurrent readers see them.
void PackStage(const BackupRequest& req, BoundedQueue<Blob>& q, OpControl& ctl,
               std::vector<PackInfo>& sealed, std::atomic<uint64_t>& storedBytes) {
  PackWriter writer(req.repo, req.keys, req.packSize);
  Blob b;
  auto publish = [&](std::optional<PackInfo> info) {
    if (!info) return;
    req.index->AddPack(*info);
    sealed.push_back(std::move(*info));
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
  if (req.useRanges) {
    if (req.parentList.size() != res.chunks * kIdSize)
      throw EngineError("INVALID_ARGUMENT", "parent chunk list does not match the source size");
    res.list = req.parentList;
  } else {
    res.list.assign(res.chunks * kIdSize, 0);
  }
  std::vector<Run> runs = PlanRuns(req, res.size, res.chunks);
  for (const Run& r : runs) {
    uint64_t end = std::min(res.size, (r.first + r.count) * cs);
    ctl.total += end - r.first * cs;
  }

  BoundedQueue<Blob> queue(kQueueBlobs);
  std::vector<PackInfo> sealed;
  std::atomic<uint64_t> storedBytes{0}, bytesNew{0}, chunksNew{0}, chunksZero{0}, chunksRead{0};
  std::thread packer([&] { PackStage(req, queue, ctl, sealed, storedBytes); });

  std::atomic<size_t> next{0};
  const size_t runBuf = AlignUp(std::min<uint64_t>(std::max<uint64_t>(kRunBytes, cs), ~0u));
  // Changed-block runs are short and scattered: reads, not the CPU, are
  // the limit, so keep more of them in flight.
  int threads = req.threads > 0 ? req.threads : req.useRanges ? std::max(DefaultThreads(), 8) : DefaultThreads();
  ctl.RunWorkers(threads, [&] {
    AlignedBuf buf = AllocAligned(runBuf);
    Compressor z(req.level);
    Bytes packed;
    for (;;) {
      if (ctl.Stopping()) return;
      size_t i = next++;
      if (i >= runs.size()) return;
      const Run& r = runs[i];
      uint64_t off = r.first * cs;
      size_t len = static_cast<size_t>(std::min(res.size, (r.first + r.count) * cs) - off);
      reader.Read(off, len, buf.get());  // stage: read
      for (uint64_t k = 0; k < r.count; k++) {
        const uint8_t* data = buf.get() + k * cs;
        size_t clen = static_cast<size_t>(std::min<uint64_t>(cs, len - k * cs));
        bool zero = false;
        ChunkId id = HashStage(req.keys, data, clen, &zero);
        std::memcpy(res.list.data() + (r.first + k) * kIdSize, id.data(), kIdSize);
        chunksRead++;
        if (zero) {
          chunksZero++;
        } else if (req.index->Claim(id)) {
          Blob b;
          b.id = id;
          b.rawLen = static_cast<uint32_t>(clen);
          b.flags = CompressStage(z, data, clen, packed);
          if (b.flags)
            EncryptStage(req.keys, id, packed.data(), packed.size(), b.stored);
          else
            EncryptStage(req.keys, id, data, clen, b.stored);
          bytesNew += clen;
          chunksNew++;
          if (!queue.Push(std::move(b))) return;
        }
        ctl.done += clen;
      }
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
  std::string gonePack;
  for (auto it = sealed.begin(); it != sealed.end();) {
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
      res.indexFile = WriteIndexFile(req.repo, req.keys, sealed);
    } catch (...) {
      ctl.Fail(std::current_exception());
    }
  }
  ctl.RethrowFirst();
  ctl.CheckCancel();
  for (const PackInfo& p : sealed) res.packs.push_back(p.id);
  res.bytesRead = ctl.total;
  res.bytesNew = bytesNew;
  res.bytesStored = storedBytes;
  res.chunksNew = chunksNew;
  res.chunksZero = chunksZero;
  res.chunksRead = chunksRead;
  return res;
}

}  // namespace snapkeep::engine
