#include "index_format.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "engine_error.h"
#include "envelope.h"
#include "file_io.h"

namespace snapkeep::engine {
namespace {

constexpr uint8_t kFileHeader[8] = {'S', 'K', 'I', 'X', 2, 0, 0, 0};

size_t ItemBytes(FrameKind k) {
  switch (k) {
    case FrameKind::kPacks:
      return kIndexPackBytes;
    case FrameKind::kRemoved:
      return kPackIdBytes;
    case FrameKind::kEntries:
      return kIndexEntryBytes;
    case FrameKind::kEnd:
      return 0;
  }
  return 0;
}

constexpr size_t kEndBody = 4 + 4 + 8 + 4;

EngineError Bad(const std::string& name, const std::string& what) {
  EngineError e = Corrupt("index file " + name + " is damaged: " + what);
  e.path = name;
  return e;
}

}  // namespace

void PutRecord(uint8_t* p, const IndexRecord& r) {
  std::memcpy(p, r.id.data(), kIdSize);
  auto put = [](uint8_t* q, uint32_t v) {
    for (int i = 0; i < 4; i++) q[i] = static_cast<uint8_t>(v >> (8 * i));
  };
  put(p + 32, r.pack);
  put(p + 36, r.offset);
  put(p + 40, r.storedLen);
  put(p + 44, (r.rawLen & kMaxRawLen) | uint32_t(r.flags) << 28);
}

IndexRecord GetRecord(const uint8_t* p) {
  IndexRecord r;
  std::memcpy(r.id.data(), p, kIdSize);
  r.pack = GetU32(p + 32);
  r.offset = GetU32(p + 36);
  r.storedLen = GetU32(p + 40);
  uint32_t rf = GetU32(p + 44);
  r.rawLen = rf & kMaxRawLen;
  r.flags = static_cast<uint8_t>(rf >> 28);
  return r;
}

IndexPack GetIndexPack(const uint8_t* p) {
  IndexPack out;
  std::memcpy(out.id.data(), p, kPackIdBytes);
  out.size = GetU64(p + kPackIdBytes);
  return out;
}

bool IsIndexV2(const uint8_t* head, size_t len) {
  return len >= sizeof kFileHeader && std::memcmp(head, kFileHeader, sizeof kFileHeader) == 0;
}

std::string IndexPath(const std::string& repo, const std::string& name) {
  return repo + "/index/" + name;
}

Bytes EncodeFrame(const RepoKeys& keys, const PackKey& fileId, uint32_t seq, FrameKind kind,
                  uint32_t count, const uint8_t* body, size_t bodyLen) {
  Bytes p(fileId.begin(), fileId.end());
  PutU32(p, seq);
  p.push_back(static_cast<uint8_t>(kind));
  p.insert(p.end(), 3, 0);
  PutU32(p, count);
  p.insert(p.end(), body, body + bodyLen);
  return SealEnvelope(keys, EnvelopeType::kIndex, p.data(), p.size());
}

bool DecodeFrame(const RepoKeys& keys, const uint8_t* sealed, size_t len, const PackKey& fileId,
                 uint32_t seq, Bytes& payload, FrameView& out) {
  if (len > kMaxFrameBytes) return false;
  if (!OpenEnvelope(keys, EnvelopeType::kIndex, sealed, len, payload)) return false;
  if (payload.size() < kFrameHeaderBytes) return false;
  const uint8_t* p = payload.data();
  if (std::memcmp(p, fileId.data(), kPackIdBytes) != 0 || GetU32(p + 16) != seq) return false;
  uint8_t kind = p[20];
  if (kind < 1 || kind > 4 || p[21] || p[22] || p[23]) return false;
  out.kind = static_cast<FrameKind>(kind);
  out.count = GetU32(p + 24);
  out.body = p + kFrameHeaderBytes;
  out.bodyLen = payload.size() - kFrameHeaderBytes;
  if (out.kind == FrameKind::kEnd) return out.count == 0 && out.bodyLen == kEndBody;
  return out.count > 0 && uint64_t(out.count) * ItemBytes(out.kind) == out.bodyLen;
}

void ReadIndexV2(const RepoKeys& keys, int fd, const std::string& path, const std::string& name,
                 const IndexSink& sink) {
  PackKey fileId;
  if (!FromHex(name, fileId.data(), kPackIdBytes)) throw Bad(name, "its name is not an index id");
  uint8_t head[sizeof kFileHeader];
  if (PreadFull(fd, head, sizeof head, 0, path) != sizeof head || !IsIndexV2(head, sizeof head))
    throw Bad(name, "not a version 2 index");
  uint64_t at = sizeof head;
  uint32_t seq = 0;
  FrameKind last = FrameKind::kPacks;
  std::vector<uint64_t> packSizes;
  uint64_t removed = 0, entries = 0;
  uint8_t prev[kIdSize] = {};
  Bytes sealed, payload;
  for (;;) {
    uint8_t lenBytes[4];
    size_t n = PreadFull(fd, lenBytes, 4, at, path);
    if (n != 4) throw Bad(name, "it ends before its end frame");
    uint32_t len = GetU32(lenBytes);
    if (len > kMaxFrameBytes) throw Bad(name, "frame " + std::to_string(seq) + " is too long");
    sealed.resize(len);
    if (PreadFull(fd, sealed.data(), len, at + 4, path) != len)
      throw Bad(name, "frame " + std::to_string(seq) + " is truncated");
    at += 4 + uint64_t(len);
    FrameView f;
    if (!DecodeFrame(keys, sealed.data(), len, fileId, seq, payload, f))
      throw Bad(name, "frame " + std::to_string(seq) + " does not authenticate or is malformed");
    if (f.kind < last) throw Bad(name, "frames out of order");
    last = f.kind;
    seq++;
    if (f.kind == FrameKind::kEnd) {
      const uint8_t* b = f.body;
      if (GetU32(b) != packSizes.size() || GetU32(b + 4) != removed || GetU64(b + 8) != entries ||
          GetU32(b + 16) != seq - 1)
        throw Bad(name, "its end frame does not match its content");
      uint8_t extra;
      if (PreadFull(fd, &extra, 1, at, path) != 0) throw Bad(name, "bytes after its end frame");
      return;
    }
    if (f.kind == FrameKind::kPacks) {
      for (uint32_t i = 0; i < f.count; i++) packSizes.push_back(GetU64(f.body + i * kIndexPackBytes + 16));
    } else if (f.kind == FrameKind::kRemoved) {
      removed += f.count;
    } else {
      for (uint32_t i = 0; i < f.count; i++) {
        const uint8_t* e = f.body + size_t(i) * kIndexEntryBytes;
        IndexRecord r = GetRecord(e);
        if (CompareIds(prev, e) > 0) throw Bad(name, "entries out of order");
        std::memcpy(prev, e, kIdSize);
        bool zero = true;
        for (uint8_t b : r.id) zero = zero && b == 0;
        if (zero || r.pack >= packSizes.size() || (r.flags & ~kFlagCompressed) ||
            r.offset < PackHeaderSizeOf(keys) || r.storedLen == 0 ||
            uint64_t(r.offset) + r.storedLen > packSizes[r.pack])
          throw Bad(name, "entry of chunk " + Hex(r.id) + " is out of bounds");
      }
      entries += f.count;
    }
    sink(f.kind, f.body, f.count);
  }
}

IndexV2Writer::IndexV2Writer(const std::string& repo, const RepoKeys& keys)
    : root_(repo), keys_(keys) {
  randombytes_buf(fileId_.data(), fileId_.size());
  name_ = Hex(fileId_.data(), fileId_.size());
  tmpRel_ = std::string("index/") + kTempPrefix + name_ + "-" + RandomHex(6);
  fd_ = root_.CreateExcl(tmpRel_, O_RDWR);
  tmp_ = root_.Abs(tmpRel_);
  crypto_generichash_init(&hash_, nullptr, 0, kIdSize);
  PwriteFull(fd_.get(), kFileHeader, sizeof kFileHeader, 0, tmp_);
  at_ = sizeof kFileHeader;
}

IndexV2Writer::~IndexV2Writer() {
  fd_.Reset();
  if (!finished_) {
    try {
      root_.Unlink(tmpRel_);
    } catch (const EngineError&) {
      // A temp file left behind is swept by prune.
    }
  }
}

void IndexV2Writer::Flush() {
  if (bodyCount_ == 0) return;
  crypto_generichash_update(&hash_, body_.data(), body_.size());
  Bytes frame = EncodeFrame(keys_, fileId_, seq_++, kind_, bodyCount_, body_.data(), body_.size());
  Bytes len;
  PutU32(len, static_cast<uint32_t>(frame.size()));
  PwriteFull(fd_.get(), len.data(), 4, at_, tmp_);
  PwriteFull(fd_.get(), frame.data(), frame.size(), at_ + 4, tmp_);
  at_ += 4 + frame.size();
  body_.clear();
  bodyCount_ = 0;
}

void IndexV2Writer::Emit(FrameKind kind) {
  if (finished_) throw EngineError("INTERNAL", "index writer used after Finish");
  if (kind < kind_) throw EngineError("INTERNAL", "index writer: sections out of order");
  if (kind != kind_) Flush();
  kind_ = kind;
}

void IndexV2Writer::AddPack(const IndexPack& p) {
  Emit(FrameKind::kPacks);
  body_.insert(body_.end(), p.id.begin(), p.id.end());
  PutU64(body_, p.size);
  packs_++;
  if (++bodyCount_ == kEntriesPerFrame) Flush();
}

void IndexV2Writer::AddRemoved(const PackKey& p) {
  Emit(FrameKind::kRemoved);
  body_.insert(body_.end(), p.begin(), p.end());
  removed_++;
  if (++bodyCount_ == kEntriesPerFrame) Flush();
}

void IndexV2Writer::AddEntry(const IndexRecord& r) {
  Emit(FrameKind::kEntries);
  if (r.pack >= packs_) throw EngineError("INTERNAL", "index writer: entry names an unknown pack");
  if (entries_ && CompareIds(last_, r.id.data()) > 0)
    throw EngineError("INTERNAL", "index writer: entries out of order");
  std::memcpy(last_, r.id.data(), kIdSize);
  size_t at = body_.size();
  body_.resize(at + kIndexEntryBytes);
  PutRecord(body_.data() + at, r);
  entries_++;
  if (++bodyCount_ == kEntriesPerFrame) Flush();
}

std::string IndexV2Writer::Finish() {
  Emit(FrameKind::kEnd);
  Flush();
  Bytes end;
  PutU32(end, static_cast<uint32_t>(packs_));
  PutU32(end, static_cast<uint32_t>(removed_));
  PutU64(end, entries_);
  PutU32(end, seq_);
  Bytes frame = EncodeFrame(keys_, fileId_, seq_++, FrameKind::kEnd, 0, end.data(), end.size());
  Bytes len;
  PutU32(len, static_cast<uint32_t>(frame.size()));
  PwriteFull(fd_.get(), len.data(), 4, at_, tmp_);
  PwriteFull(fd_.get(), frame.data(), frame.size(), at_ + 4, tmp_);
  FsyncOrThrow(fd_.get(), tmp_);
  uint8_t want[kIdSize], got[kIdSize];
  crypto_generichash_final(&hash_, want, kIdSize);

  // Nothing may name an index that does not read back.
  {
    Fd r = root_.OpenRead(tmpRel_);
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, kIdSize);
    ReadIndexV2(keys_, r.get(), tmp_, name_, [&](FrameKind kind, const uint8_t* body, uint32_t count) {
      crypto_generichash_update(&st, body, size_t(count) * ItemBytes(kind));
    });
    crypto_generichash_final(&st, got, kIdSize);
  }
  if (sodium_memcmp(want, got, kIdSize) != 0) throw Corrupt("index " + name_ + " does not read back as written");
  fd_.Reset();
  root_.Rename(tmpRel_, "index/" + name_);
  finished_ = true;
  root_.FsyncDir("index");
  return name_;
}

}  // namespace snapkeep::engine
