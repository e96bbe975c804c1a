#include "chunk_list.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "engine_error.h"
#include "envelope.h"
#include "file_io.h"
#include "repo_dir.h"

namespace snapkeep::engine {
namespace {

constexpr uint8_t kRootMagic[8] = {'S', 'K', 'L', 'R', 1, 0, 0, 0};
constexpr size_t kRootHeader = 8 + 8 + 4;
constexpr size_t kCachedSegments = 64;  // 2 MiB of ids per open list

EngineError Damaged(const std::string& what, const std::string& hex) {
  EngineError e = Corrupt(what);
  e.path = hex;
  return e;
}

// Segments are 32 KiB of ids; roots 32 bytes per segment.
constexpr uint64_t kMaxSegmentFile = 64 << 10;
constexpr uint64_t kMaxRootFile = 256ull << 20;

std::string ListRel(const std::string& hex) { return "lists/" + hex.substr(0, 2) + "/" + hex; }

Bytes ReadObject(const std::string& repo, const std::string& hex, const char* kind, uint64_t max) {
  try {
    return RepoDir(repo).ReadFile(ListRel(hex), max);
  } catch (const EngineError& e) {
    if (e.errnum == ENOENT) throw Damaged(std::string(kind) + " " + hex + " is missing", hex);
    throw;
  }
}

}  // namespace

std::string ListObjectPath(const std::string& repo, const std::string& hexId) {
  return repo + "/lists/" + hexId.substr(0, 2) + "/" + hexId;
}

Bytes ReadSegment(const std::string& repo, const RepoKeys& keys, const ChunkId& id) {
  std::string hex = Hex(id);
  Bytes file = ReadObject(repo, hex, "chunk-list segment", kMaxSegmentFile);
  Bytes ids;
  if (!OpenEnvelope(keys, EnvelopeType::kListSegment, file.data(), file.size(), ids) ||
      ids.empty() || ids.size() % kIdSize != 0 || ids.size() > kSegmentEntries * kIdSize ||
      KeyedHash(keys, ids.data(), ids.size()) != id)
    throw Damaged("chunk-list segment " + hex + " is damaged", hex);
  return ids;
}

ChunkId WriteSegment(const std::string& repo, const RepoKeys& keys, const uint8_t* ids, size_t n,
                     bool* written) {
  ChunkId id = KeyedHash(keys, ids, n * kIdSize);
  std::string hex = Hex(id);
  RepoDir root(repo);
  *written = false;
  // Content-addressed: already there means the same bytes.
  if (root.Lstat(ListRel(hex))) return id;
  Bytes env = SealEnvelope(keys, EnvelopeType::kListSegment, ids, n * kIdSize);
  root.WriteFileAtomic("lists/" + hex.substr(0, 2), hex, env);
  *written = true;
  return id;
}

Bytes EncodeListRoot(uint64_t chunks, const std::vector<ChunkId>& segments) {
  Bytes p(kRootMagic, kRootMagic + 8);
  PutU64(p, chunks);
  PutU32(p, static_cast<uint32_t>(segments.size()));
  for (const ChunkId& s : segments) p.insert(p.end(), s.begin(), s.end());
  return p;
}

bool DecodeListRoot(const uint8_t* p, size_t len, uint64_t* chunks, std::vector<ChunkId>& segments) {
  if (len < kRootHeader || std::memcmp(p, kRootMagic, 8) != 0) return false;
  uint64_t n = GetU64(p + 8);
  uint64_t count = GetU32(p + 16);
  if (n > kMaxListChunks || count != (n + kSegmentEntries - 1) / kSegmentEntries) return false;
  if (len != kRootHeader + count * kIdSize) return false;
  segments.resize(count);
  for (uint64_t i = 0; i < count; i++) std::memcpy(segments[i].data(), p + kRootHeader + i * kIdSize, kIdSize);
  *chunks = n;
  return true;
}

ChunkId WriteListRoot(const std::string& repo, const RepoKeys& keys, uint64_t chunks,
                      const std::vector<ChunkId>& segments) {
  Bytes payload = EncodeListRoot(chunks, segments);
  ChunkId id = KeyedHash(keys, payload.data(), payload.size());
  std::string hex = Hex(id);
  RepoDir root(repo);
  if (root.Lstat(ListRel(hex))) return id;
  Bytes env = SealEnvelope(keys, EnvelopeType::kListRoot, payload.data(), payload.size());
  root.WriteFileAtomic("lists/" + hex.substr(0, 2), hex, env);
  return id;
}

void ReadListRoot(const std::string& repo, const RepoKeys& keys, const ChunkId& id, uint64_t* chunks,
                  std::vector<ChunkId>& segments) {
  std::string hex = Hex(id);
  Bytes file = ReadObject(repo, hex, "list root", kMaxRootFile);
  Bytes payload;
  if (!OpenEnvelope(keys, EnvelopeType::kListRoot, file.data(), file.size(), payload) ||
      KeyedHash(keys, payload.data(), payload.size()) != id ||
      !DecodeListRoot(payload.data(), payload.size(), chunks, segments))
    throw Damaged("list root " + hex + " is damaged", hex);
}

ChunkListSource::ChunkListSource(std::string repo, const RepoKeys& keys, std::vector<ChunkId> segments,
                                 uint64_t chunks, const ChunkId* root)
    : repo_(std::move(repo)), keys_(keys), segments_(std::move(segments)), chunks_(chunks) {
  if (chunks_ > kMaxListChunks || segments_.size() != (chunks_ + kSegmentEntries - 1) / kSegmentEntries)
    throw Corrupt("a chunk list of " + std::to_string(chunks_) + " chunks cannot have " +
                  std::to_string(segments_.size()) + " segments");
  if (root) {
    hasRoot_ = true;
    root_ = *root;
  }
}

ChunkListSource::ChunkListSource(Bytes list) : chunks_(list.size() / kIdSize), whole_(true), list_(std::move(list)) {
  if (list_.size() % kIdSize) throw EngineError("INVALID_ARGUMENT", "a chunk list is whole 32-byte ids");
}

std::shared_ptr<const Bytes> ChunkListSource::Segment(uint64_t k) {
  if (whole_) {
    if (k * kSegmentEntries >= chunks_) throw EngineError("INVALID_ARGUMENT", "segment beyond the list");
    uint64_t from = k * kSegmentEntries * kIdSize;
    uint64_t to = std::min<uint64_t>(list_.size(), from + uint64_t(kSegmentEntries) * kIdSize);
    return std::make_shared<const Bytes>(list_.begin() + from, list_.begin() + to);
  }
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(k);
    if (it != cache_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
  }
  if (k >= segments_.size()) throw EngineError("INVALID_ARGUMENT", "segment beyond the list");
  auto ids = std::make_shared<Bytes>(ReadSegment(repo_, keys_, segments_[k]));
  uint64_t want = std::min<uint64_t>(kSegmentEntries, chunks_ - k * kSegmentEntries);
  if (ids->size() != want * kIdSize) {
    std::string hex = Hex(segments_[k]);
    throw Damaged("chunk-list segment " + hex + " has " + std::to_string(ids->size() / kIdSize) +
                      " ids where the list needs " + std::to_string(want),
                  hex);
  }
  std::lock_guard lock(mu_);
  auto it = cache_.find(k);
  if (it != cache_.end()) return it->second.first;
  lru_.push_front(k);
  cache_[k] = {ids, lru_.begin()};
  while (cache_.size() > kCachedSegments) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
  return ids;
}

ChunkId ChunkListSource::IdAt(uint64_t c) {
  if (c >= chunks_) throw EngineError("INVALID_ARGUMENT", "chunk beyond the list");
  ChunkId id;
  if (whole_) {
    std::memcpy(id.data(), list_.data() + c * kIdSize, kIdSize);
    return id;
  }
  auto seg = Segment(c / kSegmentEntries);
  std::memcpy(id.data(), seg->data() + (c % kSegmentEntries) * kIdSize, kIdSize);
  return id;
}

}  // namespace snapkeep::engine
