// The kernel module's control device (/dev/snapkeep) in plain C++: one
// function per ioctl, taking and returning plain structs, reporting
// failures as SysError. No napi here, so every function can run on a
// worker thread; kmod_ctl.cc turns JavaScript values into these requests
// and the answers back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../errors.h"

namespace snapkeep {
namespace kmod {

struct Dev {
  uint32_t major = 0;
  uint32_t minor = 0;
};

struct Range {
  uint64_t start = 0;  // 512-byte sectors
  uint64_t count = 0;
};

using Uuid = std::string;  // "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"

struct TrackerInfo {
  Dev dev;
  uint64_t device_size = 0;
  uint32_t block_size = 0;
  uint64_t block_count = 0;
  uint8_t number = 0;
  Uuid generation;
  std::optional<Uuid> snapshot;
};

// What TRACKER_INFO2 adds: the persistent store's state (ABI 1.3).
struct PersistInfo {
  uint32_t flags = 0;   // SNAPKEEP_PERSIST_*
  uint32_t reason = 0;  // SNAPKEEP_PERSIST_REASON_*
  uint64_t found_sequence = 0;
  uint64_t found_time = 0;
  uint64_t sequence = 0;
};

struct TrackerInfo2 {
  TrackerInfo info;
  PersistInfo persist;
};

// A store for ATTACH_PERSISTENT: a file (its extents on the device its file
// system is on) or raw ranges of a device.
struct PersistentStore {
  std::string file;    // absolute path, or empty for raw ranges
  std::string device;  // with raw ranges: the block device
  std::vector<Range> ranges;
  std::string identity;  // at most SNAPKEEP_PERSIST_IDENTITY_LEN bytes
  uint32_t flags = 0;
};

struct Event {
  enum class Kind { kLowSpace, kOverflow, kUnknown } kind = Kind::kUnknown;
  uint32_t code = 0;
  uint64_t time_ns = 0;
  uint64_t requested_sectors = 0;
  Dev dev;
  int error = 0;  // positive errno
};

struct SnapshotDevice {
  Dev dev;
  Dev image;
  std::string image_name;  // empty before the take
  uint32_t chunk_size = 0;
  uint64_t chunks_copied = 0;
};

struct SnapshotInfo {
  Uuid id;
  bool taken = false;
  bool corrupted = false;
  int error = 0;
  uint64_t storage_sectors = 0;
  uint64_t storage_used = 0;
  std::vector<SnapshotDevice> devices;
};

// A device of a checkpoint (ABI 1.5).
struct CheckpointDevice {
  Dev dev;
  std::string identity;  // 1..SNAPKEEP_CKPT_IDENTITY_LEN bytes
};

// A checkpoint's store: a file or raw ranges of a device, as PersistentStore.
struct CheckpointStore {
  std::string file;
  std::string device;
  std::vector<Range> ranges;
};

struct CheckpointInfo {
  Uuid id;
  uint32_t state = 0;   // SNAPKEEP_CKPT_ACTIVE or _INVALID
  uint32_t reason = 0;  // SNAPKEEP_CKPT_REASON_*
  uint32_t chunk_size = 0;
  uint32_t flags = 0;   // SNAPKEEP_CKPT_INFO_*
  uint64_t created = 0;
  uint64_t store_pages = 0;
  uint64_t used_pages = 0;
  uint64_t entries = 0;
  uint64_t records = 0;
  uint64_t sequence = 0;
  std::string name;
  std::vector<Dev> devices;
};

// Thrown by everything below; the napi layer turns it into a JS error with
// the errno name as `code`.
struct Failure {
  SysError err;
};

// The device number of a block device node; ENOTBLK when `path` is not one.
Dev DevOfPath(const std::string& path);

// Parses "xxxxxxxx-xxxx-..." (EINVAL when malformed).
void ParseUuid(const Uuid& text, uint8_t out[16]);
Uuid FormatUuid(const uint8_t b[16]);

void Attach(Dev dev);
void Detach(Dev dev);
TrackerInfo GetTrackerInfo(Dev dev);
std::vector<uint8_t> ReadMap(Dev dev, uint64_t offset, uint64_t length);
void MarkDirty(Dev dev, const std::vector<Range>& ranges);
std::vector<Dev> ListTrackers();
void AttachPersistent(Dev dev, const PersistentStore& store);
TrackerInfo2 GetTrackerInfo2(Dev dev);

Uuid Create(const std::vector<Dev>& devs);
void Destroy(const Uuid& id);
void AppendStorage(const Uuid& id, Dev dev, const std::vector<Range>& ranges);
// Like AppendStorage for the extents of a regular file, on the device its
// file system is on, and the module pins the file until the snapshot is
// destroyed (ABI 1.2): it cannot be deleted, truncated or moved meanwhile.
void AppendStorageFile(const Uuid& id, const std::string& path, const std::vector<Range>& ranges);
void Take(const Uuid& id);
// std::nullopt when no event came within timeout_ms.
std::optional<Event> WaitEvent(const Uuid& id, uint32_t timeout_ms);
std::vector<Uuid> ListSnapshots();
SnapshotInfo GetSnapshotInfo(const Uuid& id);

// Checkpoints (ABI 1.5): create (or, with resume, re-attach the one in the
// store), commit or abandon (commit false), info, list.
Uuid CheckpointCreate(const std::vector<CheckpointDevice>& devs, const CheckpointStore& store,
                      const std::string& name, bool resume);
void CheckpointEnd(const Uuid& id, bool commit);
CheckpointInfo GetCheckpointInfo(const Uuid& id);
std::vector<Uuid> ListCheckpoints();

}  // namespace kmod
}  // namespace snapkeep
