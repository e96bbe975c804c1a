#include "index_file.h"

#include <cstring>

#include "engine_error.h"
#include "envelope.h"
#include "file_io.h"
#include "repo_dir.h"

namespace snapkeep::engine {
namespace {
constexpr uint8_t kMagic[4] = {'S', 'K', 'I', 'X'};
constexpr uint8_t kVersion = 1;
}  // namespace

Bytes EncodeIndex(const RepoKeys& keys, const std::vector<PackInfo>& packs) {
  Bytes p(kMagic, kMagic + 4);
  p.push_back(kVersion);
  p.insert(p.end(), 3, 0);
  PutU32(p, static_cast<uint32_t>(packs.size()));
  for (const PackInfo& pack : packs) {
    uint8_t id[kPackIdBytes];
    if (!FromHex(pack.id, id, kPackIdBytes)) throw Corrupt("bad pack id " + pack.id, pack.id);
    p.insert(p.end(), id, id + kPackIdBytes);
    PutU64(p, pack.size);
    Bytes entries = EncodeEntries(pack.entries);
    p.insert(p.end(), entries.begin(), entries.end());
  }
  return SealEnvelope(keys, EnvelopeType::kIndex, p.data(), p.size());
}

bool DecodeIndex(const RepoKeys& keys, const Bytes& file, std::vector<PackInfo>& out) {
  Bytes p;
  if (!OpenEnvelope(keys, EnvelopeType::kIndex, file.data(), file.size(), p)) return false;
  if (p.size() < 12 || std::memcmp(p.data(), kMagic, 4) != 0 || p[4] != kVersion) return false;
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

std::string WriteIndexFile(const std::string& repo, const RepoKeys& keys,
                           const std::vector<PackInfo>& packs) {
  Bytes data = EncodeIndex(keys, packs);
  // Decode what was encoded before it goes anywhere.
  std::vector<PackInfo> back;
  if (!DecodeIndex(keys, data, back) || back.size() != packs.size())
    throw Corrupt("index does not decode after encoding");
  std::string name = RandomHex(16);
  RepoDir(repo).WriteFileAtomic("index", name, data);
  return name;
}

}  // namespace snapkeep::engine

#include "chunk_index.h"

namespace snapkeep::engine {

IndexLoad LoadIndexDir(const std::string& repo, const RepoKeys& keys, ChunkIndex& index) {
  IndexLoad res;
  RepoDir root(repo);
  std::vector<std::string> names;
  for (const DirEntry& e : root.List("index")) {
    if (e.name[0] == '.') continue;
    if (e.type != EntryType::kFile) throw root.Unsafe("index/" + e.name, e.what);
    names.push_back(e.name);
  }
  ChunkIndex fresh;
  for (const std::string& name : names) {
    std::vector<PackInfo> packs;
    Bytes file;
    try {
      file = root.ReadFile("index/" + name, kMaxIndexFileBytes);
    } catch (const EngineError& e) {
      // Deleted by a prune between readdir and open: not damage.
      if (e.errnum == ENOENT) continue;
      throw;
    }
    if (!DecodeIndex(keys, file, packs)) {
      res.badFiles.push_back(name);
      continue;
    }
    for (const PackInfo& p : packs) fresh.AddPack(p);
    res.files.push_back(name);
  }
  index.ReplaceWith(fresh);
  return res;
}

}  // namespace snapkeep::engine
