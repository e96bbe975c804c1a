#include "ext4_used_blocks.h"

#include <ext2fs/ext2fs.h>  // (includes ext2_err.h inside its extern "C")
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace snapkeep::fs {
namespace {

constexpr uint16_t kExtMagic = 0xEF53;
constexpr uint64_t kSuperOffset = 1024;
constexpr uint32_t kMaxLogBlockSize = 6;  // 64 KiB blocks, libext2fs' limit

uint32_t Le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

UsedBlocks Fail(UsedBlocks r, std::string why) {
  r.ok = false;
  r.reason = std::move(why);
  r.ranges.clear();
  return r;
}

std::string ExtError(errcode_t e) { return std::string(error_message(e)) + " (" + std::to_string(e) + ")"; }

// Bytes of an image file or block device; false when it cannot be told.
bool DeviceBytes(const std::string& path, uint64_t* out, std::string* why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = "cannot open " + path + ": " + strerror(errno);
    return false;
  }
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0;
  if (ok && S_ISREG(st.st_mode)) {
    *out = static_cast<uint64_t>(st.st_size);
  } else if (ok && S_ISBLK(st.st_mode)) {
    ok = ::ioctl(fd, BLKGETSIZE64, out) == 0;
  } else {
    ok = false;
    errno = EINVAL;
  }
  if (!ok) *why = "cannot size " + path + ": " + strerror(errno);
  ::close(fd);
  return ok;
}

// Our own look at the primary superblock before libext2fs sees it: the
// magic, a sane block size, and a block count that fits the device. This
// bounds what libext2fs will allocate for a hostile superblock.
bool PrecheckSuper(const std::string& path, uint64_t offset, uint64_t size, UsedBlocks* r) {
  uint8_t sb[1024];
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r->reason = "cannot open " + path + ": " + strerror(errno);
    return false;
  }
  ssize_t n = size >= kSuperOffset + sizeof sb ? ::pread(fd, sb, sizeof sb, static_cast<off_t>(offset + kSuperOffset)) : 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof sb) || Le16(sb + 0x38) != kExtMagic) {
    r->reason = "not an ext2/3/4 file system";
    return false;
  }
  uint32_t incompat = Le32(sb + 0x60);
  uint32_t compat = Le32(sb + 0x5C);
  uint32_t logBs = Le32(sb + 0x18);
  r->fsType = (incompat & (EXT3_FEATURE_INCOMPAT_EXTENTS | EXT4_FEATURE_INCOMPAT_FLEX_BG | EXT4_FEATURE_INCOMPAT_64BIT)) ? "ext4"
              : (compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL)                                                                  ? "ext3"
                                                                                                                            : "ext2";
  if (logBs > kMaxLogBlockSize) {
    r->reason = "superblock: block size 2^" + std::to_string(logBs + 10) + " is out of range";
    return false;
  }
  uint64_t bs = uint64_t{1024} << logBs;
  uint64_t blocks = Le32(sb + 0x04);
  if (incompat & EXT4_FEATURE_INCOMPAT_64BIT) blocks |= uint64_t{Le32(sb + 0x150)} << 32;
  if (blocks == 0 || blocks > size / bs) {
    r->reason = "superblock: " + std::to_string(blocks) + " blocks of " + std::to_string(bs) +
                " bytes do not fit the device's " + std::to_string(size) + " bytes";
    return false;
  }
  return true;
}

// libext2fs keeps global state (error tables, io manager): one caller at a time.
std::mutex gMu;

class Fs {
 public:
  ~Fs() {
    if (fs_) ext2fs_close_free(&fs_);
  }
  ext2_filsys fs_ = nullptr;
};

void AddRange(UsedBlocks& r, uint64_t off, uint64_t len, uint64_t mergeBelow) {
  if (!r.ranges.empty()) {
    auto& last = r.ranges.back();
    uint64_t end = last.first + last.second;
    if (off <= end + mergeBelow) {
      last.second = std::max(end, off + len) - last.first;
      return;
    }
  }
  r.ranges.emplace_back(off, len);
}

}  // namespace

UsedBlocks Ext4UsedBlocks(const std::string& path, uint64_t offset, uint64_t size, uint64_t mergeBelow) {
  UsedBlocks r;
  uint64_t dev = 0;
  std::string why;
  if (!DeviceBytes(path, &dev, &why)) return Fail(r, why);
  if (offset > dev) return Fail(r, "the file system's offset is beyond the device");
  if (size == 0) size = dev - offset;
  if (size > dev - offset) return Fail(r, "the file system's partition runs past the end of the device");
  if (!PrecheckSuper(path, offset, size, &r)) return Fail(r, r.reason);

  std::lock_guard lock(gMu);
  static std::once_flag errTable;
  std::call_once(errTable, [] { initialize_ext2_error_table(); });
  Fs h;
  std::string opts = offset ? "offset=" + std::to_string(offset) : "";
  // Read-only (no EXT2_FLAG_RW): nothing is ever written, not even the MMP block.
  errcode_t e = ext2fs_open2(path.c_str(), opts.empty() ? nullptr : opts.c_str(), EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP, 0, 0,
                             unix_io_manager, &h.fs_);
  if (e) {
    h.fs_ = nullptr;  // not set on failure
    return Fail(r, "libext2fs cannot open it: " + ExtError(e));
  }
  ext2_filsys fs = h.fs_;
  r.blockSize = fs->blocksize;
  r.blocks = ext2fs_blocks_count(fs->super);
  if (r.blockSize == 0 || r.blocks == 0 || r.blocks > size / r.blockSize)
    return Fail(r, "the file system (" + std::to_string(r.blocks) + " blocks of " + std::to_string(r.blockSize) +
                       " bytes) is larger than its device (" + std::to_string(size) + " bytes)");
  if (ext2fs_has_feature_bigalloc(fs->super)) return Fail(r, "bigalloc (cluster bitmaps) is not handled");
  if (ext2fs_has_feature_journal_needs_recovery(fs->super))
    return Fail(r, "the journal needs replaying (the file system was not frozen when the snapshot was taken)");
  if ((e = ext2fs_check_desc(fs))) return Fail(r, "group descriptors are inconsistent: " + ExtError(e));
  if ((e = ext2fs_read_block_bitmap(fs))) return Fail(r, "cannot read the block bitmaps: " + ExtError(e));

  const uint64_t first = fs->super->s_first_data_block;
  const uint64_t last = r.blocks - 1;
  const uint64_t perGroup = EXT2_BLOCKS_PER_GROUP(fs->super);
  if (first > last || perGroup == 0) return Fail(r, "superblock: no data blocks");
  std::vector<uint64_t> usedPerGroup(fs->group_desc_count, 0);
  const uint64_t bs = r.blockSize;
  // The boot block of a 1 KiB-block file system is in no bitmap; keep it.
  if (first > 0) AddRange(r, 0, first * bs, mergeBelow);
  blk64_t pos = first;
  while (pos <= last) {
    blk64_t s = 0, z = 0;
    e = ext2fs_find_first_set_block_bitmap2(fs->block_map, pos, last, &s);
    if (e == ENOENT) break;
    if (e) return Fail(r, "cannot scan the block bitmap: " + ExtError(e));
    e = ext2fs_find_first_zero_block_bitmap2(fs->block_map, s, last, &z);
    if (e == ENOENT) {
      z = last + 1;
    } else if (e) {
      return Fail(r, "cannot scan the block bitmap: " + ExtError(e));
    }
    if (z <= s) return Fail(r, "the block bitmap scan did not advance");
    AddRange(r, s * bs, (z - s) * bs, mergeBelow);
    r.usedBlocks += z - s;
    for (uint64_t b = s; b < z;) {
      uint64_t g = (b - first) / perGroup;
      if (g >= usedPerGroup.size()) return Fail(r, "the block bitmap runs past the last group");
      uint64_t gEnd = std::min<uint64_t>(z, first + (g + 1) * perGroup);
      usedPerGroup[g] += gEnd - b;
      b = gEnd;
    }
    pos = z;
  }
  // The bitmaps against the group descriptors' free counts: a flipped bit
  // or a stale descriptor shows here, and then nothing is trusted.
  for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
    uint64_t gFirst = ext2fs_group_first_block2(fs, g), gLast = ext2fs_group_last_block2(fs, g);
    if (gLast < gFirst || gLast > last) return Fail(r, "group " + std::to_string(g) + " lies outside the file system");
    uint64_t inGroup = gLast - gFirst + 1;
    uint64_t freeCount = ext2fs_bg_free_blocks_count(fs, g);
    if (freeCount > inGroup || inGroup - freeCount != usedPerGroup[g])
      return Fail(r, "group " + std::to_string(g) + ": the bitmap has " + std::to_string(usedPerGroup[g]) +
                         " used blocks, its descriptor says " + std::to_string(inGroup - std::min(freeCount, inGroup)));
  }
  r.ok = true;
  return r;
}

}  // namespace snapkeep::fs
