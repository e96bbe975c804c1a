// Which bytes of an ext2/3/4 file system are in use, from its block
// allocation bitmaps (Debian's libext2fs, opened read-only). A full backup
// reads only those; the rest is recorded as zeros.
//
// The file system is hostile input: a snapshot of a damaged disk, or an
// image file anyone could have written. Anything that does not add up (a
// libext2fs error, a bitmap whose free count differs from its group
// descriptor's, a file system larger than its device, a journal that still
// needs replaying, a feature this reader does not handle) gives no ranges
// and a reason; the caller then reads every sector, as without this.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace snapkeep::fs {

struct UsedBlocks {
  bool ok = false;
  std::string reason;  // why not, when !ok
  std::string fsType;  // ext2, ext3 or ext4 (also set when !ok if it was recognised)
  uint32_t blockSize = 0;
  uint64_t blocks = 0;      // the file system's block count
  uint64_t usedBlocks = 0;  // allocated per the bitmaps
  // Used byte ranges [offset, length), relative to the file system's start,
  // sorted, merged when closer than `mergeBelow`.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
};

// `path` is an image file or block device; the file system starts at
// `offset` and has at most `size` bytes there (0: to the end of `path`).
// Never throws; never writes.
UsedBlocks Ext4UsedBlocks(const std::string& path, uint64_t offset, uint64_t size, uint64_t mergeBelow);

}  // namespace snapkeep::fs
