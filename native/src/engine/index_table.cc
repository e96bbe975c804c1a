#include "index_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <atomic>
#include <cstdio>
#include <ctime>

#include "engine_error.h"
#include "file_io.h"
#include "index_file.h"
#include "repo_dir.h"

namespace snapkeep::engine {
namespace {

constexpr uint8_t kCacheMagic[8] = {'S', 'K', 'I', 'C', 2, 0, 0, 0};
constexpr size_t kCacheHeader = 64;
constexpr const char* kTagContext = "snapkeep-index-cache-1";
constexpr time_t kTempMaxAge = 3600;

ChunkId CacheTag(const RepoKeys& keys, const std::string& name) {
  std::string s = std::string(kTagContext) + name;
  return KeyedHash(keys, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

uint64_t Key8(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

// Where a table is built: a cache file (pwrite) or memory.
struct TableOut {
  int fd = -1;
  std::string path;
  Bytes* mem = nullptr;
  uint64_t at = kCacheHeader;
  void Append(const uint8_t* p, size_t n) {
    if (mem) {
      mem->insert(mem->end(), p, p + n);
    } else {
      PwriteFull(fd, p, n, at, path);
    }
    at += n;
  }
  void Header(const uint8_t* h) {
    if (mem)
      std::memcpy(mem->data(), h, kCacheHeader);
    else
      PwriteFull(fd, h, kCacheHeader, 0, path);
  }
};

// Decodes index/<name> (format 1 or 2) into `out`; returns the header.
Bytes Build(const RepoDir& root, const RepoKeys& keys, int fd, const std::string& path,
            const std::string& name, uint64_t sourceSize, TableOut& out) {
  uint32_t packs = 0, removed = 0;
  uint64_t entries = 0;
  Bytes summary;
  auto summarize = [&](const uint8_t* e, uint64_t at) {
    if (at % IndexTable::kSummaryStride == 0) PutU64(summary, Key8(e));
  };
  uint8_t head[8] = {};
  size_t got = PreadFull(fd, head, sizeof head, 0, path);
  if (IsIndexV2(head, got)) {
    ReadIndexV2(keys, fd, path, name, [&](FrameKind kind, const uint8_t* body, uint32_t count) {
      if (kind == FrameKind::kPacks) {
        out.Append(body, size_t(count) * kIndexPackBytes);
        packs += count;
      } else if (kind == FrameKind::kRemoved) {
        out.Append(body, size_t(count) * kPackIdBytes);
        removed += count;
      } else if (kind == FrameKind::kEntries) {
        out.Append(body, size_t(count) * kIndexEntryBytes);
        for (uint32_t i = 0; i < count; i++) summarize(body + size_t(i) * kIndexEntryBytes, entries + i);
        entries += count;
      }
    });
  } else {
    // Format 1: one envelope; small files written by backups, or one per
    // repository after a prune. Decoded whole, then sorted.
    Bytes file = root.ReadFile("index/" + name, kMaxIndexFileBytes);
    std::vector<PackInfo> infos;
    if (!DecodeIndex(keys, file, infos)) {
      EngineError e = Corrupt("index file " + name + " is damaged");
      e.path = path;
      throw e;
    }
    Bytes().swap(file);
    std::vector<IndexRecord> recs;
    for (uint32_t p = 0; p < infos.size(); p++) {
      uint8_t rec[kIndexPackBytes];
      if (!FromHex(infos[p].id, rec, kPackIdBytes)) throw Corrupt("index file " + name + " names a bad pack id");
      for (int i = 0; i < 8; i++) rec[16 + i] = static_cast<uint8_t>(infos[p].size >> (8 * i));
      out.Append(rec, sizeof rec);
      for (const PackEntry& e : infos[p].entries)
        recs.push_back(IndexRecord{e.id, p, e.offset, e.storedLen, e.rawLen, e.flags});
      std::vector<PackEntry>().swap(infos[p].entries);
    }
    packs = static_cast<uint32_t>(infos.size());
    std::sort(recs.begin(), recs.end(), [](const IndexRecord& a, const IndexRecord& b) {
      int c = CompareIds(a.id.data(), b.id.data());
      return c < 0 || (c == 0 && a.pack < b.pack);
    });
    uint8_t rec[kIndexEntryBytes];
    for (const IndexRecord& r : recs) {
      PutRecord(rec, r);
      out.Append(rec, sizeof rec);
      summarize(rec, entries++);
    }
  }
  out.Append(summary.data(), summary.size());
  Bytes h(kCacheHeader, 0);
  std::memcpy(h.data(), kCacheMagic, 8);
  for (int i = 0; i < 4; i++) h[8 + i] = static_cast<uint8_t>(packs >> (8 * i));
  for (int i = 0; i < 4; i++) h[12 + i] = static_cast<uint8_t>(removed >> (8 * i));
  for (int i = 0; i < 8; i++) h[16 + i] = static_cast<uint8_t>(entries >> (8 * i));
  for (int i = 0; i < 8; i++) h[24 + i] = static_cast<uint8_t>(sourceSize >> (8 * i));
  ChunkId tag = CacheTag(keys, name);
  std::memcpy(h.data() + 32, tag.data(), kIdSize);
  return h;
}

}  // namespace

IndexTable::~IndexTable() {
  if (map_) ::munmap(map_, mapLen_);
}

PackKey IndexTable::Removed(uint32_t i) const {
  PackKey k;
  std::memcpy(k.data(), removed_ + size_t(i) * kPackIdBytes, kPackIdBytes);
  return k;
}

bool IndexTable::Attach(const uint8_t* base, size_t len, const uint8_t tag[kIdSize],
                        uint64_t sourceSize) {
  if (len < kCacheHeader || std::memcmp(base, kCacheMagic, 8) != 0) return false;
  if (sodium_memcmp(base + 32, tag, kIdSize) != 0 || GetU64(base + 24) != sourceSize) return false;
  packCount_ = GetU32(base + 8);
  removedCount_ = GetU32(base + 12);
  count_ = GetU64(base + 16);
  uint64_t want = kCacheHeader + uint64_t(packCount_) * kIndexPackBytes +
                  uint64_t(removedCount_) * kPackIdBytes;
  if (count_ > (len - std::min<uint64_t>(len, want)) / kIndexEntryBytes) return false;
  const uint64_t blocks = (count_ + kSummaryStride - 1) / kSummaryStride;
  if (want + count_ * kIndexEntryBytes + blocks * 8 != len) return false;
  packs_ = base + kCacheHeader;
  removed_ = packs_ + size_t(packCount_) * kIndexPackBytes;
  entries_ = removed_ + size_t(removedCount_) * kPackIdBytes;
  const uint8_t* sum = entries_ + count_ * kIndexEntryBytes;
  summary_.resize(blocks);
  for (uint64_t b = 0; b < blocks; b++) summary_[b] = GetU64(sum + b * 8);
  // About one jump entry per block, at most 2^16 + 1 of them.
  jumpBits_ = 0;
  while (jumpBits_ < 16 && (uint64_t(2) << jumpBits_) <= blocks) jumpBits_++;
  jump_.assign((size_t(1) << jumpBits_) + 1, 0);
  if (blocks < (uint64_t(1) << 32)) {
    uint64_t b = 0;
    for (uint64_t p = 0; p < jump_.size(); p++) {
      // Monotone and within [0, blocks] even if the summary were unsorted.
      while (b < blocks && (jumpBits_ == 0 ? 0 : summary_[b] >> (64 - jumpBits_)) < p) b++;
      jump_[p] = static_cast<uint32_t>(b);
    }
  } else {
    jump_.clear();
  }
  return true;
}

std::shared_ptr<IndexTable> IndexTable::Load(const std::string& repo, const RepoKeys& keys,
                                             const std::string& cacheDir, const std::string& name) {
  std::string path = IndexPath(repo, name);
  RepoDir root(repo);
  Fd src = root.OpenRead("index/" + name);
  uint64_t sourceSize = FileSize(src.get(), path);
  ChunkId tag = CacheTag(keys, name);
  std::shared_ptr<IndexTable> t(new IndexTable());
  t->name_ = name;

  auto mapFile = [&](const std::string& file) -> bool {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    Fd f(fd);
    struct stat st;
    if (::fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < off_t(kCacheHeader)) return false;
    void* m = ::mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return false;
    // Lookups jump around: no read-ahead, no fault-around.
    ::madvise(m, size_t(st.st_size), MADV_RANDOM);
    t->map_ = m;
    t->mapLen_ = size_t(st.st_size);
    if (t->Attach(static_cast<const uint8_t*>(m), t->mapLen_, tag.data(), sourceSize)) {
      t->fd_ = std::move(f);
      t->file_ = file;
      return true;
    }
    ::munmap(m, t->mapLen_);
    t->map_ = nullptr;
    return false;
  };

  if (!cacheDir.empty()) {
    std::string file = cacheDir + "/" + name;
    if (mapFile(file)) return t;
    // Build the cache file; any failure to write it (no space, read-only
    // cache) falls back to memory.
    std::string tmp = cacheDir + "/." + name + ".tmp-" + RandomHex(6);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      Fd f(fd);
      TableOut out;
      out.fd = fd;
      out.path = tmp;
      bool ok = false;
      try {
        Bytes h = Build(root, keys, src.get(), path, name, sourceSize, out);
        out.Header(h.data());
        ok = ::fsync(fd) == 0 && ::rename(tmp.c_str(), file.c_str()) == 0;
      } catch (const EngineError& e) {
        ::unlink(tmp.c_str());
        // Damage in the index file is the caller's business; trouble with
        // the cache is not.
        if (e.code == "REPO_CORRUPT") throw;
      }
      if (!ok) ::unlink(tmp.c_str());
      f.Reset();
      if (ok && mapFile(file)) return t;
    }
  }
  TableOut out;
  t->own_.assign(kCacheHeader, 0);
  out.mem = &t->own_;
  Bytes h = Build(root, keys, src.get(), path, name, sourceSize, out);
  out.Header(h.data());
  t->own_.shrink_to_fit();
  if (!t->Attach(t->own_.data(), t->own_.size(), tag.data(), sourceSize))
    throw EngineError("INTERNAL", "index table of " + name + " does not attach");
  return t;
}

void IndexTable::Bracket(uint64_t k, uint64_t* lo, uint64_t* hi, uint64_t* kl, uint64_t* kh) const {
  // The answer lies in [lo, hi]. The summary narrows it to the blocks that
  // can hold it: from the one before the first block starting at or above
  // the id's key to the first block starting above it.
  *lo = 0;
  *hi = count_;
  *kl = 0;
  *kh = ~uint64_t(0);
  if (summary_.empty()) return;
  auto from = summary_.begin(), to = summary_.end();
  if (!jump_.empty()) {
    // Blocks before jump_[p] have smaller keys, those from jump_[p + 1] larger.
    const uint64_t p = jumpBits_ == 0 ? 0 : k >> (64 - jumpBits_);
    from = summary_.begin() + jump_[p];
    to = summary_.begin() + jump_[p + 1];
  }
  uint64_t first = std::lower_bound(from, to, k) - summary_.begin();
  uint64_t last = std::upper_bound(summary_.begin() + first, to, k) - summary_.begin();
  if (first > 0) {
    *lo = (first - 1) * kSummaryStride;
    *kl = summary_[first - 1];
  }
  if (last < summary_.size()) {
    *hi = std::min(count_, last * kSummaryStride);
    *kh = summary_[last];
  }
}

void IndexTable::ReadRows(uint64_t row, uint64_t n, uint8_t* buf) const {
  const uint64_t off = uint64_t(entries_ - static_cast<const uint8_t*>(map_)) + row * kIndexEntryBytes;
  const size_t len = size_t(n * kIndexEntryBytes);
  if (PreadFull(fd_.get(), buf, len, off, file_) != len)
    throw EngineError("IO_ERROR", "index cache file " + file_ + " is shorter than when it was opened");
}

bool IndexTable::Match(const uint8_t* id, const MatchFn& fn) const {
  if (!map_) {
    for (uint64_t i = LowerBound(id); i < count_; i++) {
      const uint8_t* e = Entry(i);
      if (CompareIds(e, id) != 0) return false;
      if (fn(i, e)) return true;
    }
    return false;
  }
  // Windows of two summary blocks and a row: the bracket is one block and
  // a row (two blocks when the id's key starts a block) unless several
  // blocks share the id's 8-byte key, which only ids made to collide do;
  // those are narrowed a row at a time.
  constexpr uint64_t kWindow = 2 * kSummaryStride + 1;
  // Rows read first, where interpolation puts the id: 16 of them hold it
  // about 19 times in 20 (the rest read the whole bracket).
  constexpr uint64_t kGuessRows = 16;
  const uint64_t k = Key8(id);
  uint64_t lo, hi, kl, kh;
  Bracket(k, &lo, &hi, &kl, &kh);
  uint8_t buf[kWindow * kIndexEntryBytes];
  bool narrowed = false;
  while (hi - lo >= kWindow) {
    uint64_t mid = lo + (hi - lo) / 2;
    ReadRows(mid, 1, buf);
    if (CompareIds(buf, id) < 0)
      lo = mid + 1;
    else
      hi = mid;
    narrowed = true;
  }
  // The lower bound is in [lo, hi], hi - lo < kWindow; rows [lo, end) hold
  // it unless it is Count().
  const uint64_t end = std::min(hi + 1, count_);
  if (lo >= end) return false;
  auto lowerBound = [&](uint64_t n) {
    uint64_t a = 0, b = n;
    while (a < b) {
      uint64_t mid = a + (b - a) / 2;
      if (CompareIds(buf + mid * kIndexEntryBytes, id) < 0)
        a = mid + 1;
      else
        b = mid;
    }
    return a;
  };
  uint64_t s = lo, e = end;
  if (!narrowed && e - s > kGuessRows && k >= kl && k <= kh) {
    long double frac = (static_cast<long double>(k) - kl) / (static_cast<long double>(kh) - kl + 1);
    uint64_t g = lo + static_cast<uint64_t>(frac * (hi - lo));
    s = g > lo + kGuessRows / 2 ? g - kGuessRows / 2 : lo;
    if (s + kGuessRows > end) s = end - kGuessRows;
    e = s + kGuessRows;
  }
  uint64_t n = e - s;
  ReadRows(s, n, buf);
  uint64_t a = lowerBound(n);
  if ((a == 0 && s > lo) || (a == n && e < end)) {
    // The lower bound is outside the guessed rows: read the bracket.
    s = lo;
    n = end - lo;
    ReadRows(s, n, buf);
    a = lowerBound(n);
  }
  lo = s;
  // Equal ids may run past the window (one chunk in many packs).
  for (;;) {
    for (; a < n; a++) {
      const uint8_t* row = buf + a * kIndexEntryBytes;
      if (CompareIds(row, id) != 0) return false;
      if (fn(lo + a, row)) return true;
    }
    lo += n;
    n = std::min(kWindow, count_ - lo);
    if (n == 0) return false;
    ReadRows(lo, n, buf);
    a = 0;
  }
}

uint64_t IndexTable::LowerBound(const uint8_t* id) const {
  const uint64_t k = Key8(id);
  uint64_t lo, hi, kl, kh;  // keys bounding [lo, hi)
  Bracket(k, &lo, &hi, &kl, &kh);
  // Ids are uniform keyed hashes: interpolation lands next to the answer.
  for (int step = 0; step < 4 && hi - lo > 8; step++) {
    if (k < kl || k > kh) break;
    long double frac = (static_cast<long double>(k) - kl) / (static_cast<long double>(kh) - kl + 1);
    uint64_t g = lo + static_cast<uint64_t>(frac * (hi - lo));
    if (g >= hi) g = hi - 1;
    const uint8_t* e = Entry(g);
    if (CompareIds(e, id) < 0) {
      lo = g + 1;
      kl = Key8(e);
    } else {
      hi = g;
      kh = Key8(e);
    }
  }
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (CompareIds(Entry(mid), id) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void IndexTable::DropPages() const {
  if (map_) ::madvise(map_, mapLen_, MADV_DONTNEED);
}

bool MappedOverBudget() {
  // statm: size resident shared ... in pages; "shared" counts file-backed
  // resident pages, the mapped index among them.
  static std::atomic<uint64_t> base{0};
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return false;
  unsigned long size = 0, resident = 0, shared = 0;
  int n = std::fscanf(f, "%lu %lu %lu", &size, &resident, &shared);
  std::fclose(f);
  if (n != 3) return false;
  uint64_t bytes = uint64_t(shared) * uint64_t(::sysconf(_SC_PAGESIZE));
  uint64_t b = base.load();
  if (b == 0 || bytes < b) {
    base = bytes;
    return false;
  }
  if (bytes - b <= kMappedBudgetBytes) return false;
  return true;
}

void SweepIndexCache(const std::string& cacheDir, const std::vector<std::string>& live) {
  if (cacheDir.empty()) return;
  DIR* d = ::opendir(cacheDir.c_str());
  if (!d) return;
  std::vector<std::string> gone;
  time_t now = ::time(nullptr);
  while (struct dirent* ent = ::readdir(d)) {
    std::string n = ent->d_name;
    if (n == "." || n == "..") continue;
    if (n[0] == '.') {
      struct stat st;
      std::string p = cacheDir + "/" + n;
      // Another process may be writing it right now.
      if (::lstat(p.c_str(), &st) == 0 && now - st.st_mtime > kTempMaxAge) gone.push_back(n);
      continue;
    }
    if (std::find(live.begin(), live.end(), n) == live.end()) gone.push_back(n);
  }
  ::closedir(d);
  for (const std::string& n : gone) ::unlink((cacheDir + "/" + n).c_str());
}

}  // namespace snapkeep::engine
