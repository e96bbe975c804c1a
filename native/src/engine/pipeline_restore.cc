#include "pipeline_restore.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "compress.h"
#include "crypto.h"
#include "file_io.h"
#include "restore_resume.h"

namespace snapkeep::engine {
namespace {

// Stage: fetch and decode the `len`-byte chunk `id` into `out` (checks the
// length before writing, the id after).
void FetchStage(const RestoreRequest& req, const ChunkId& id, Bytes& stored, Bytes& scratch,
                Decompressor& dz, uint8_t* out, uint64_t len) {
  ChunkLocation loc;
  PackRecord pack;
  if (!req.index->Lookup(id, &loc, &pack)) {
    EngineError e = Corrupt("chunk " + Hex(id) + " is not in any pack", "", Hex(id));
    throw e;
  }
  req.packs->ReadStored(pack.id, loc.offset, loc.storedLen, stored);
  PackEntry e{id, loc.offset, loc.storedLen, loc.rawLen, loc.flags};
  req.packs->Decode(pack.id, e, stored, scratch, dz, out, len);
}

// Zeroes [off, off+len) of a block device without sending zeros from
// here: the device zeroes it (WRITE_ZEROES, an unmap that reads back as
// zeros) or the kernel writes its own zero page. Most of a used-blocks
// point is zero chunks, so this is most of such a restore. False when the
// device or the range does not allow it (the caller writes zeros instead);
// an I/O error is an error.
bool ZeroDeviceRange(int fd, uint64_t off, uint64_t len, const std::string& target) {
  if ((off | len) & 511) return false;
  uint64_t range[2] = {off, len};
  if (::ioctl(fd, BLKZEROOUT, range) == 0) return true;
  if (errno == EINVAL || errno == EOPNOTSUPP || errno == ENOTTY) return false;
  throw SysFail(errno, "BLKZEROOUT", target);
}

void CheckTargetSize(const RestoreRequest& req, uint64_t size) {
  if (size < req.targetOffset + req.rangeLen) {
    EngineError e("TARGET_TOO_SMALL", "restore target " + req.target + " has " + std::to_string(size) +
                                          " bytes, the point needs " + std::to_string(req.targetOffset + req.rangeLen));
    e.path = req.target;
    throw e;
  }
}

// Opens the target: an image file is created or cut to size (a fresh file
// lets zero chunks stay holes; a resumed one keeps what it holds); a block
// device is opened exclusively, so a mounted one fails with EBUSY, and
// must be big enough.
Fd OpenTarget(const RestoreRequest& req, bool resuming, bool* fresh, bool* blockDev) {
  struct stat st;
  bool exists = ::stat(req.target.c_str(), &st) == 0;
  *blockDev = exists && S_ISBLK(st.st_mode);
  if (*blockDev) {
    // Read as well when resuming (the sample check) or comparing.
    int fd = ::open(req.target.c_str(), (req.skipIdentical || resuming ? O_RDWR : O_WRONLY) | O_EXCL | O_CLOEXEC);
    if (fd < 0) {
      EngineError e = SysFail(errno, "open", req.target);
      if (errno == EBUSY) {
        e = EngineError("TARGET_MOUNTED", "restore target " + req.target +
                                              " is in use (mounted or held by another program)");
        e.path = req.target;
      }
      throw e;
    }
    Fd f(fd);
    CheckTargetSize(req, FileSize(f.get(), req.target));
    *fresh = false;
    return f;
  }
  if (req.placed) {
    // A part of a disk image laid out by the caller: never created or cut.
    Fd f = OpenOrThrow(req.target, O_RDWR, 0);
    CheckTargetSize(req, FileSize(f.get(), req.target));
    *fresh = req.targetZeroed && !req.skipIdentical && !resuming;
    return f;
  }
  Fd f = OpenOrThrow(req.target, (req.skipIdentical || resuming ? O_RDWR : O_WRONLY) | O_CREAT, 0644);
  bool keep = req.skipIdentical || resuming;
  if (!keep && ::ftruncate(f.get(), 0) < 0) throw SysFail(errno, "ftruncate", req.target);
  if (::ftruncate(f.get(), static_cast<off_t>(req.rangeLen)) < 0)
    throw SysFail(errno, "ftruncate", req.target);
  *fresh = !keep;
  return f;
}

// The list must describe the device and the range lie inside it.
void CheckGeometry(const RestoreRequest& req) {
  const uint64_t cs = req.chunkSize;
  if (cs == 0 || !req.list || req.list->Chunks() != (req.deviceSize + cs - 1) / cs ||
      req.rangeStart + req.rangeLen > req.deviceSize)
    throw EngineError("INVALID_ARGUMENT", "chunk list or range does not match the device size");
}

// The chunks a range of the device touches: [first, last], none when empty.
struct ChunkSpan {
  uint64_t first, last, count;
};

ChunkSpan SpanOf(const RestoreRequest& req) {
  const uint64_t cs = req.chunkSize;
  const uint64_t first = req.rangeStart / cs;
  if (req.rangeLen == 0) return {first, first, 0};
  const uint64_t last = (req.rangeStart + req.rangeLen - 1) / cs;
  return {first, last, last - first + 1};
}

// The bytes of chunk `c` inside the restored range.
uint64_t InRange(const RestoreRequest& req, uint64_t c) {
  const uint64_t cs = req.chunkSize;
  uint64_t cStart = c * cs;
  uint64_t cEnd = std::min<uint64_t>(cStart + cs, req.deviceSize);
  uint64_t from = std::max(cStart, req.rangeStart);
  uint64_t to = std::min(cEnd, req.rangeStart + req.rangeLen);
  return to > from ? to - from : 0;
}

// The progress record is tied to the target by its identity, which a
// second disk can share (two USB sticks of one model with one serial), and
// the target may have been written since. Before the record is trusted, a
// sample of the chunks it names is read back and must hash to the point's
// ids; the first mismatch makes the restore start over. Returns why, or "".
std::string CheckResumedSample(const RestoreRequest& req, const RestoreResume& resume, int fd) {
  const uint64_t cs = req.chunkSize;
  Bytes buf(cs);
  for (uint64_t c : resume.Sample(16)) {
    uint64_t cStart = c * cs;
    uint64_t cLen = std::min<uint64_t>(cs, req.deviceSize - cStart);
    // Only chunks wholly inside the range can be hashed.
    if (cStart < req.rangeStart || cStart + cLen > req.rangeStart + req.rangeLen) continue;
    if (PreadFull(fd, buf.data(), cLen, cStart - req.rangeStart + req.targetOffset, req.target) != cLen)
      return "the target is shorter than the progress record says";
    ChunkId want = req.list->IdAt(c);
    const auto end = buf.begin() + static_cast<std::ptrdiff_t>(cLen);
    bool ok = IsZeroId(want) ? std::all_of(buf.begin(), end, [](uint8_t b) { return b == 0; })
                             : KeyedHash(req.keys, buf.data(), cLen) == want;
    if (!ok)
      return "the target does not hold what the progress record says was restored (chunk " + std::to_string(c) +
             "): another disk, or written since";
  }
  return "";
}

}  // namespace

ResumeProbe ProbeResume(const RestoreRequest& req) {
  CheckGeometry(req);
  const ChunkSpan span = SpanOf(req);
  RestoreResume resume(req.resumeFile, req.resumeKey, span.first, span.count);
  ResumeProbe out;
  out.ignored = resume.IgnoredReason();
  if (resume.LoadedChunks() == 0) return out;
  // The same read-back sample the restore checks first, so what is said
  // before the start is what the restore will do.
  int fd = ::open(req.target.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    out.ignored = std::string("cannot read the target: ") + std::strerror(errno);
    return out;
  }
  Fd target(fd);
  std::string wrong = CheckResumedSample(req, resume, target.get());
  if (!wrong.empty()) {
    out.ignored = wrong;
    return out;
  }
  for (uint64_t c = span.first; c < span.first + span.count; c++)
    if (resume.Done(c)) out.bytes += InRange(req, c);
  return out;
}

RestoreResult RunRestore(const RestoreRequest& req, OpControl& ctl) {
  // Before the target is opened, created or cut.
  RequireBlobKeys(req.keys);
  CheckGeometry(req);
  const uint64_t cs = req.chunkSize;
  RestoreResult res;
  const ChunkSpan span = SpanOf(req);
  const uint64_t first = span.first, last = span.last;
  RestoreResume resume(req.resumeFile, req.resumeKey, first, span.count, req.resumeEveryBytes);
  bool fresh = false;
  Fd target = OpenTarget(req, resume.LoadedChunks() > 0, &fresh, &res.blockDevice);
  if (resume.LoadedChunks() > 0) {
    std::string wrong = CheckResumedSample(req, resume, target.get());
    if (!wrong.empty()) resume.Forget(wrong);
  }
  res.resumeIgnored = resume.IgnoredReason();
  ctl.total = req.rangeLen;
  if (req.rangeLen == 0) return res;
  std::atomic<uint64_t> next{first}, written{0}, skipped{0}, resumed{0};
  // Off after the first refusal: the device does not zero on request.
  std::atomic<bool> deviceZeroes{res.blockDevice && !req.skipIdentical && !fresh};
  int threads = req.threads > 0 ? req.threads : DefaultThreads();

  ctl.RunWorkers(threads, [&] {
    Bytes chunk(cs), stored, scratch, existing(cs);
    Decompressor dz;
    for (;;) {
      if (ctl.Stopping()) return;
      uint64_t c = next++;
      if (c > last) return;
      uint64_t cStart = c * cs;
      uint64_t cLen = std::min<uint64_t>(cs, req.deviceSize - cStart);
      // The part of this chunk inside the range, and where it goes.
      uint64_t from = std::max(cStart, req.rangeStart);
      uint64_t to = std::min(cStart + cLen, req.rangeStart + req.rangeLen);
      uint64_t n = to - from;
      uint64_t dst = from - req.rangeStart + req.targetOffset;
      if (resume.Done(c)) {
        resumed += n;
        ctl.done += n;
        continue;
      }
      const uint8_t* src;
      ChunkId id = req.list->IdAt(c);
      bool zero = IsZeroId(id);
      if (zero && deviceZeroes.load(std::memory_order_relaxed)) {
        if (ZeroDeviceRange(target.get(), dst, n, req.target)) {
          written += n;
          ctl.done += n;
          resume.Mark(c);
          resume.MaybeCheckpoint(target.get(), req.target, n);
          continue;
        }
        if (((dst | n) & 511) == 0) deviceZeroes = false;
      }
      if (zero) {
        std::memset(chunk.data(), 0, cLen);
      } else {
        FetchStage(req, id, stored, scratch, dz, chunk.data(), cLen);
      }
      src = chunk.data() + (from - cStart);
      bool skip = false;
      if (zero && fresh) {
        skip = true;  // the fresh file reads as zeros already
      } else if (req.skipIdentical) {
        size_t got = PreadFull(target.get(), existing.data(), n, dst, req.target);
        skip = got == n && std::memcmp(existing.data(), src, n) == 0;
      }
      if (skip) {
        skipped += n;
      } else {
        PwriteFull(target.get(), src, n, dst, req.target);  // stage: write
        written += n;
      }
      ctl.done += n;
      resume.Mark(c);
      resume.MaybeCheckpoint(target.get(), req.target, n);
    }
  });
  if (ctl.Stopping() && resume.Enabled()) {
    // Stopped (cancel, an error, the target gone): keep what is durable for
    // the next run, as far as the target still takes a sync.
    try {
      resume.Checkpoint(target.get(), req.target);
    } catch (const EngineError&) {
    }
  }
  ctl.RethrowFirst();
  ctl.CheckCancel();
  if (::fsync(target.get()) < 0) throw SysFail(errno, "fsync", req.target);
  ctl.ReportFinal();
  res.bytesWritten = written;
  res.bytesSkipped = skipped;
  res.bytesResumed = resumed;
  return res;
}

void ReadRange(const RestoreRequest& req, uint64_t off, uint64_t len, uint8_t* out) {
  RequireBlobKeys(req.keys);
  const uint64_t cs = req.chunkSize;
  if (off + len > req.deviceSize || !req.list || req.list->Chunks() != (req.deviceSize + cs - 1) / cs)
    throw EngineError("INVALID_ARGUMENT", "read beyond the end of the device");
  Bytes chunk(cs), stored, scratch;
  Decompressor dz;
  uint64_t pos = off;
  while (pos < off + len) {
    uint64_t c = pos / cs;
    uint64_t cStart = c * cs;
    uint64_t n = std::min(off + len, cStart + cs) - pos;
    ChunkId id = req.list->IdAt(c);
    if (IsZeroId(id)) {
      std::memset(out + (pos - off), 0, n);
    } else {
      FetchStage(req, id, stored, scratch, dz, chunk.data(), std::min<uint64_t>(cs, req.deviceSize - cStart));
      std::memcpy(out + (pos - off), chunk.data() + (pos - cStart), n);
    }
    pos += n;
  }
}

}  // namespace snapkeep::engine
