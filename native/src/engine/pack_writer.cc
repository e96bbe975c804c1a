#include "pack_writer.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

namespace snapkeep::engine {

PackWriter::PackWriter(std::string repo, const RepoKeys& keys, uint64_t targetSize)
    : repo_(std::move(repo)), keys_(keys), target_(targetSize) {}

PackWriter::~PackWriter() {
  keys_.Wipe();  // a session key (layout 2) lives no longer than its writer
  if (fd_.ok()) {
    fd_.Reset();
    try {
      dir_->Unlink(tmpRel_);
    } catch (const EngineError&) {
      // A leftover temp file is swept by prune.
    }
  }
}

void PackWriter::Check() const {
  if (failed_) throw *failed_;
}

void PackWriter::Open() {
  current_ = PackInfo{};
  current_.id = RandomHex(kPackIdBytes);
  if (!dir_) dir_.emplace(repo_);
  tmpRel_ = "tmp/" + current_.id + ".pack";
  tmpPath_ = dir_->Abs(tmpRel_);
  fd_ = dir_->CreateExcl(tmpRel_, O_RDWR);
  // Layout 2: the session's sealed key, the same in every pack of the session.
  if (keys_.layout == 2 && sodium_is_zero(keys_.sealed, sizeof keys_.sealed))
    throw EngineError("INTERNAL", "a format-3 pack written outside a writing session (no sealed key)");
  Bytes header = PackHeader(keys_);
  PwriteFull(fd_.get(), header.data(), header.size(), 0, tmpPath_);
  current_.size = header.size();
}

std::optional<PackInfo> PackWriter::Add(const ChunkId& id, const uint8_t* stored, size_t len,
                                        uint32_t rawLen, uint8_t flags) {
  Check();
  try {
    if (!fd_.ok()) Open();
    PwriteFull(fd_.get(), stored, len, current_.size, tmpPath_);
    PackEntry e;
    e.id = id;
    e.offset = static_cast<uint32_t>(current_.size);
    e.storedLen = static_cast<uint32_t>(len);
    e.rawLen = rawLen;
    e.flags = flags;
    current_.entries.push_back(e);
    current_.size += len;
    if (current_.size >= target_) return Seal();
    return std::nullopt;
  } catch (const EngineError& e) {
    failed_ = std::make_unique<EngineError>(e);
    throw;
  }
}

std::optional<PackInfo> PackWriter::Flush() {
  Check();
  if (!fd_.ok()) return std::nullopt;
  try {
    return Seal();
  } catch (const EngineError& e) {
    failed_ = std::make_unique<EngineError>(e);
    throw;
  }
}

PackInfo PackWriter::Seal() {
  Bytes trailer = EncodeTrailer(keys_, current_.entries);
  PwriteFull(fd_.get(), trailer.data(), trailer.size(), current_.size, tmpPath_);
  current_.size += trailer.size();
  FsyncOrThrow(fd_.get(), tmpPath_);

  // Read the tail back from the file and decode it before the pack gets
  // its final name: what the index will say must be what the file says.
  Bytes tail(trailer.size());
  size_t n = PreadFull(fd_.get(), tail.data(), tail.size(), current_.size - tail.size(), tmpPath_);
  std::vector<PackEntry> back;
  size_t need = 0;
  if (n != tail.size() || !DecodeTrailer(keys_, tail.data(), tail.size(), current_.size, back, &need) ||
      back != current_.entries)
    throw Corrupt("pack trailer does not read back after writing", current_.id);
  // The header too: in layout 2 it holds the only copy of the session key.
  Bytes header = PackHeader(keys_), headerBack(header.size());
  if (PreadFull(fd_.get(), headerBack.data(), headerBack.size(), 0, tmpPath_) != header.size() ||
      headerBack != header || !CheckPackHeader(keys_.layout, headerBack.data(), headerBack.size(), nullptr))
    throw Corrupt("pack header does not read back after writing", current_.id);
  fd_.Reset();

  std::string dst = PackRel(current_.id);
  dir_->Rename(tmpRel_, dst);
  dir_->FsyncDir(dst.substr(0, dst.find_last_of('/')));
  PackInfo done = std::move(current_);
  current_ = PackInfo{};
  return done;
}

}  // namespace snapkeep::engine
