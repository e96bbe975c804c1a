#include "pack_writer.h"

#include <fcntl.h>
#include <unistd.h>

namespace snapkeep::engine {

PackWriter::PackWriter(std::string repo, const RepoKeys& keys, uint64_t targetSize)
    : repo_(std::move(repo)), keys_(keys), target_(targetSize) {}

PackWriter::~PackWriter() {
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
  uint8_t header[kPackHeaderSize];
  PackHeader(header);
  PwriteFull(fd_.get(), header, sizeof header, 0, tmpPath_);
  current_.size = kPackHeaderSize;
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
  fd_.Reset();

  std::string dst = PackRel(current_.id);
  dir_->Rename(tmpRel_, dst);
  dir_->FsyncDir(dst.substr(0, dst.find_last_of('/')));
  PackInfo done = std::move(current_);
  current_ = PackInfo{};
  return done;
}

}  // namespace snapkeep::engine
