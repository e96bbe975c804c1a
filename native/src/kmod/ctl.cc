#include "ctl.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "snapkeep.h"

namespace snapkeep {
namespace kmod {
namespace {

constexpr const char* kCtlPath = "/dev/" SNAPKEEP_CTL_NAME;

[[noreturn]] void Fail(int errnum, const char* syscall, std::string message) {
  throw Failure{SysError{errnum, syscall, std::move(message)}};
}

// The control device, open for the duration of one call.
class CtlFd {
 public:
  CtlFd() : fd_(open(kCtlPath, O_RDONLY | O_CLOEXEC)) {
    if (fd_ >= 0) return;
    int e = errno;
    if (e == ENOENT)
      Fail(e, "open",
           std::string("snapkeep kernel module not loaded (") + kCtlPath +
               " does not exist)");
    if (e == EACCES || e == EPERM)
      Fail(e, "open",
           std::string("permission denied opening ") + kCtlPath +
               " (root or the snapkeep group is required)");
    Fail(e, "open", std::string("cannot open ") + kCtlPath + ": " + strerror(e));
  }
  ~CtlFd() { close(fd_); }
  CtlFd(const CtlFd&) = delete;
  CtlFd& operator=(const CtlFd&) = delete;

  // Runs one ioctl; fails with the command's name in the message.
  int Call(unsigned long cmd, void* arg, const char* what) const {
    int ret;
    do {
      ret = ioctl(fd_, cmd, arg);
    } while (ret < 0 && errno == EINTR && cmd != SNAPKEEP_IOCTL_WAIT_EVENT);
    if (ret < 0) {
      int e = errno;
      Fail(e, "ioctl", std::string(what) + ": " + strerror(e));
    }
    return ret;
  }

  // Like Call(), but hands `expected` back instead of failing with it.
  int TryCall(unsigned long cmd, void* arg, const char* what,
              int expected = ETIMEDOUT) const {
    if (ioctl(fd_, cmd, arg) == 0) return 0;
    int e = errno;
    if (e == expected) return e;
    Fail(e, "ioctl", std::string(what) + ": " + strerror(e));
  }

 private:
  int fd_;
};

struct snapkeep_dev ToAbi(Dev d) {
  struct snapkeep_dev out {};
  out.major = d.major;
  out.minor = d.minor;
  return out;
}

Dev FromAbi(const struct snapkeep_dev& d) { return Dev{d.major, d.minor}; }

std::vector<struct snapkeep_sectors> ToAbi(const std::vector<Range>& ranges) {
  std::vector<struct snapkeep_sectors> out(ranges.size());
  for (size_t i = 0; i < ranges.size(); i++) {
    out[i].start = ranges[i].start;
    out[i].count = ranges[i].count;
  }
  return out;
}

uint64_t Ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace

Dev DevOfPath(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) < 0) {
    int e = errno;
    Fail(e, "stat", path + ": " + strerror(e));
  }
  if (!S_ISBLK(st.st_mode)) Fail(ENOTBLK, "stat", path + " is not a block device");
  return Dev{major(st.st_rdev), minor(st.st_rdev)};
}

void ParseUuid(const Uuid& text, uint8_t out[16]) {
  // 8-4-4-4-12 hex digits.
  static const int kDash[] = {8, 13, 18, 23};
  if (text.size() != 36) Fail(EINVAL, "", "malformed snapshot id '" + text + "'");
  int n = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == static_cast<size_t>(kDash[0]) || i == static_cast<size_t>(kDash[1]) ||
        i == static_cast<size_t>(kDash[2]) || i == static_cast<size_t>(kDash[3])) {
      if (text[i] != '-') Fail(EINVAL, "", "malformed snapshot id '" + text + "'");
      i++;
      continue;
    }
    auto hex = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      Fail(EINVAL, "", "malformed snapshot id '" + text + "'");
    };
    out[n++] = static_cast<uint8_t>(hex(text[i]) << 4 | hex(text[i + 1]));
    i += 2;
  }
}

Uuid FormatUuid(const uint8_t b[16]) {
  char s[37];
  std::snprintf(s, sizeof(s),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
                b[11], b[12], b[13], b[14], b[15]);
  return s;
}

void Attach(Dev dev) {
  CtlFd ctl;
  struct snapkeep_dev arg = ToAbi(dev);
  ctl.Call(SNAPKEEP_IOCTL_ATTACH, &arg, "attach");
}

void Detach(Dev dev) {
  CtlFd ctl;
  struct snapkeep_dev arg = ToAbi(dev);
  ctl.Call(SNAPKEEP_IOCTL_DETACH, &arg, "detach");
}

TrackerInfo GetTrackerInfo(Dev dev) {
  CtlFd ctl;
  struct snapkeep_tracker_info arg {};
  arg.dev = ToAbi(dev);
  ctl.Call(SNAPKEEP_IOCTL_TRACKER_INFO, &arg, "tracker info");
  TrackerInfo out;
  out.dev = dev;
  out.device_size = arg.device_size;
  out.block_size = arg.block_size;
  out.block_count = arg.block_count;
  out.number = arg.number;
  out.generation = FormatUuid(arg.generation.b);
  if (arg.flags & SNAPKEEP_TRACKER_IN_SNAPSHOT) out.snapshot = FormatUuid(arg.snapshot.b);
  return out;
}

TrackerInfo2 GetTrackerInfo2(Dev dev) {
  CtlFd ctl;
  struct snapkeep_tracker_info2 arg {};
  arg.info.dev = ToAbi(dev);
  ctl.Call(SNAPKEEP_IOCTL_TRACKER_INFO2, &arg, "tracker info2");
  TrackerInfo2 out;
  out.info.dev = dev;
  out.info.device_size = arg.info.device_size;
  out.info.block_size = arg.info.block_size;
  out.info.block_count = arg.info.block_count;
  out.info.number = arg.info.number;
  out.info.generation = FormatUuid(arg.info.generation.b);
  if (arg.info.flags & SNAPKEEP_TRACKER_IN_SNAPSHOT) out.info.snapshot = FormatUuid(arg.info.snapshot.b);
  out.persist.flags = arg.persist_flags;
  out.persist.reason = arg.persist_reason;
  out.persist.found_sequence = arg.found_sequence;
  out.persist.found_time = arg.found_time;
  out.persist.sequence = arg.sequence;
  return out;
}

namespace {

// A store file opened for the module to pin (its device: the file
// system's), or a raw device; the descriptor closes with it.
class StoreFd {
 public:
  StoreFd(const std::string& file, const std::string& device) {
    if (file.empty()) {
      dev_ = DevOfPath(device);
      return;
    }
    // O_NOFOLLOW: the file the caller mapped, not what a link points to now.
    fd_ = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd_ < 0) {
      int e = errno;
      Fail(e, "open", file + ": " + strerror(e));
    }
    struct stat st {};
    if (fstat(fd_, &st) < 0 || !S_ISREG(st.st_mode)) {
      int e = errno;
      close(fd_);
      Fail(e ? e : EINVAL, "fstat", file + " is not a regular file");
    }
    dev_ = Dev{major(st.st_dev), minor(st.st_dev)};
  }
  ~StoreFd() {
    // The module holds its own reference: ours can go.
    if (fd_ >= 0) close(fd_);
  }
  StoreFd(const StoreFd&) = delete;
  StoreFd& operator=(const StoreFd&) = delete;

  int fd() const { return fd_; }
  Dev dev() const { return dev_; }

 private:
  int fd_ = -1;
  Dev dev_;
};

}  // namespace

void AttachPersistent(Dev dev, const PersistentStore& store) {
  struct snapkeep_attach_persistent arg {};
  if (store.identity.size() > sizeof(arg.identity)) Fail(EINVAL, "", "identity is longer than 64 bytes");
  std::memcpy(arg.identity, store.identity.data(), store.identity.size());
  arg.dev = ToAbi(dev);
  arg.flags = store.flags;
  StoreFd sf(store.file, store.device);
  arg.store_dev = ToAbi(sf.dev());
  arg.fd = sf.fd();
  std::vector<struct snapkeep_sectors> abi = ToAbi(store.ranges);
  arg.count = static_cast<uint32_t>(abi.size());
  arg.ranges = Ptr(abi.data());
  CtlFd ctl;
  ctl.Call(SNAPKEEP_IOCTL_ATTACH_PERSISTENT, &arg, "attach persistent");
}

std::vector<uint8_t> ReadMap(Dev dev, uint64_t offset, uint64_t length) {
  CtlFd ctl;
  std::vector<uint8_t> buf(length);
  uint64_t done = 0;
  // The module copies what fits; loop in case it answers in pieces.
  while (done < length) {
    struct snapkeep_tracker_map arg {};
    arg.dev = ToAbi(dev);
    arg.offset = offset + done;
    arg.length = length - done;
    arg.buffer = Ptr(buf.data() + done);
    ctl.Call(SNAPKEEP_IOCTL_READ_MAP, &arg, "read map");
    if (arg.copied == 0) break;
    done += arg.copied;
  }
  buf.resize(done);
  return buf;
}

void MarkDirty(Dev dev, const std::vector<Range>& ranges) {
  CtlFd ctl;
  std::vector<struct snapkeep_sectors> abi = ToAbi(ranges);
  struct snapkeep_tracker_dirty arg {};
  arg.dev = ToAbi(dev);
  arg.count = static_cast<uint32_t>(abi.size());
  arg.ranges = Ptr(abi.data());
  ctl.Call(SNAPKEEP_IOCTL_MARK_DIRTY, &arg, "mark dirty");
}

std::vector<Dev> ListTrackers() {
  CtlFd ctl;
  std::vector<struct snapkeep_dev> items;
  for (;;) {
    struct snapkeep_list arg {};
    arg.count = static_cast<uint32_t>(items.size());
    arg.items = Ptr(items.data());
    ctl.Call(SNAPKEEP_IOCTL_LIST_TRACKERS, &arg, "list trackers");
    if (arg.count <= items.size()) {
      items.resize(arg.count);
      break;
    }
    items.resize(arg.count + 4);  // a tracker may be attached meanwhile
  }
  std::vector<Dev> out;
  for (const auto& d : items) out.push_back(FromAbi(d));
  return out;
}

Uuid Create(const std::vector<Dev>& devs) {
  CtlFd ctl;
  std::vector<struct snapkeep_dev> abi;
  for (Dev d : devs) abi.push_back(ToAbi(d));
  struct snapkeep_snapshot_create arg {};
  arg.count = static_cast<uint32_t>(abi.size());
  arg.devs = Ptr(abi.data());
  ctl.Call(SNAPKEEP_IOCTL_CREATE, &arg, "create snapshot");
  return FormatUuid(arg.id.b);
}

void Destroy(const Uuid& id) {
  struct snapkeep_uuid arg {};
  ParseUuid(id, arg.b);
  CtlFd ctl;
  ctl.Call(SNAPKEEP_IOCTL_DESTROY, &arg, "destroy snapshot");
}

void AppendStorage(const Uuid& id, Dev dev, const std::vector<Range>& ranges) {
  struct snapkeep_snapshot_storage arg {};
  ParseUuid(id, arg.id.b);
  CtlFd ctl;
  std::vector<struct snapkeep_sectors> abi = ToAbi(ranges);
  arg.dev = ToAbi(dev);
  arg.count = static_cast<uint32_t>(abi.size());
  arg.ranges = Ptr(abi.data());
  ctl.Call(SNAPKEEP_IOCTL_APPEND_STORAGE, &arg, "append storage");
}

void AppendStorageFile(const Uuid& id, const std::string& path, const std::vector<Range>& ranges) {
  struct snapkeep_snapshot_storage_file arg {};
  ParseUuid(id, arg.id.b);
  // O_NOFOLLOW: the file the caller mapped, not what a link points to now.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int e = errno;
    Fail(e, "open", path + ": " + strerror(e));
  }
  struct stat st {};
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    Fail(e, "fstat", path + ": " + strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    Fail(EINVAL, "", path + " is not a regular file");
  }
  std::vector<struct snapkeep_sectors> abi = ToAbi(ranges);
  arg.dev = ToAbi(Dev{major(st.st_dev), minor(st.st_dev)});
  arg.count = static_cast<uint32_t>(abi.size());
  arg.fd = fd;
  arg.ranges = Ptr(abi.data());
  try {
    CtlFd ctl;
    ctl.Call(SNAPKEEP_IOCTL_APPEND_STORAGE_FILE, &arg, "append storage file");
  } catch (...) {
    close(fd);
    throw;
  }
  // The module holds its own reference: ours can go.
  close(fd);
}

void Take(const Uuid& id) {
  struct snapkeep_uuid arg {};
  ParseUuid(id, arg.b);
  CtlFd ctl;
  ctl.Call(SNAPKEEP_IOCTL_TAKE, &arg, "take snapshot");
}

std::optional<Event> WaitEvent(const Uuid& id, uint32_t timeout_ms) {
  struct snapkeep_snapshot_event arg {};
  ParseUuid(id, arg.id.b);
  arg.timeout_ms = timeout_ms;
  CtlFd ctl;
  if (ctl.TryCall(SNAPKEEP_IOCTL_WAIT_EVENT, &arg, "wait event") == ETIMEDOUT)
    return std::nullopt;
  Event ev;
  ev.code = arg.code;
  ev.time_ns = arg.time_ns;
  if (arg.code == SNAPKEEP_EVENT_LOW_SPACE) {
    ev.kind = Event::Kind::kLowSpace;
    ev.requested_sectors = arg.requested_sectors;
  } else if (arg.code == SNAPKEEP_EVENT_OVERFLOW) {
    ev.kind = Event::Kind::kOverflow;
    ev.dev = FromAbi(arg.dev);
    ev.error = arg.error;
  }
  return ev;
}

// The ids a LIST ioctl names: asked again with room for what it said it
// has, since the set may grow between two calls.
static std::vector<Uuid> ListIds(unsigned long request, const char* what) {
  CtlFd ctl;
  std::vector<struct snapkeep_uuid> items;
  for (;;) {
    struct snapkeep_list arg {};
    arg.count = static_cast<uint32_t>(items.size());
    arg.items = Ptr(items.data());
    ctl.Call(request, &arg, what);
    if (arg.count <= items.size()) {
      items.resize(arg.count);
      break;
    }
    items.resize(arg.count + 4);
  }
  std::vector<Uuid> out;
  for (const auto& u : items) out.push_back(FormatUuid(u.b));
  return out;
}

std::vector<Uuid> ListSnapshots() { return ListIds(SNAPKEEP_IOCTL_LIST_SNAPSHOTS, "list snapshots"); }

SnapshotInfo GetSnapshotInfo(const Uuid& id) {
  struct snapkeep_snapshot_info arg {};
  ParseUuid(id, arg.id.b);
  CtlFd ctl;
  std::vector<struct snapkeep_snapshot_dev> devs(SNAPKEEP_MAX_DEVICES);
  arg.count = static_cast<uint32_t>(devs.size());
  arg.devs = Ptr(devs.data());
  ctl.Call(SNAPKEEP_IOCTL_SNAPSHOT_INFO, &arg, "snapshot info");
  SnapshotInfo out;
  out.id = id;
  out.taken = arg.flags & SNAPKEEP_SNAPSHOT_TAKEN;
  out.corrupted = arg.flags & SNAPKEEP_SNAPSHOT_CORRUPTED;
  out.error = arg.error;
  out.storage_sectors = arg.storage_sectors;
  out.storage_used = arg.storage_used;
  for (uint32_t i = 0; i < arg.count && i < devs.size(); i++) {
    SnapshotDevice d;
    d.dev = FromAbi(devs[i].dev);
    d.image = FromAbi(devs[i].image);
    devs[i].image_name[sizeof(devs[i].image_name) - 1] = 0;
    d.image_name = reinterpret_cast<const char*>(devs[i].image_name);
    d.chunk_size = devs[i].chunk_size;
    d.chunks_copied = devs[i].chunks_copied;
    out.devices.push_back(d);
  }
  return out;
}

Uuid CheckpointCreate(const std::vector<CheckpointDevice>& devs, const CheckpointStore& store,
                      const std::string& name, bool resume) {
  struct snapkeep_ckpt_create arg {};
  if (name.size() > sizeof(arg.name)) Fail(EINVAL, "", "name is longer than 64 bytes");
  std::memcpy(arg.name, name.data(), name.size());
  std::vector<struct snapkeep_ckpt_dev> abi(devs.size());
  for (size_t i = 0; i < devs.size(); i++) {
    if (devs[i].identity.size() > sizeof(abi[i].identity)) Fail(EINVAL, "", "identity is longer than 64 bytes");
    abi[i].dev = ToAbi(devs[i].dev);
    std::memcpy(abi[i].identity, devs[i].identity.data(), devs[i].identity.size());
  }
  StoreFd sf(store.file, store.device);
  std::vector<struct snapkeep_sectors> ranges = ToAbi(store.ranges);
  arg.count = static_cast<uint32_t>(abi.size());
  arg.flags = resume ? SNAPKEEP_CKPT_RESUME : 0;
  arg.devs = Ptr(abi.data());
  arg.store_dev = ToAbi(sf.dev());
  arg.fd = sf.fd();
  arg.range_count = static_cast<uint32_t>(ranges.size());
  arg.ranges = Ptr(ranges.data());
  CtlFd ctl;
  ctl.Call(SNAPKEEP_IOCTL_CKPT_CREATE, &arg, "create checkpoint");
  return FormatUuid(arg.id.b);
}

void CheckpointEnd(const Uuid& id, bool commit) {
  struct snapkeep_uuid arg {};
  ParseUuid(id, arg.b);
  CtlFd ctl;
  ctl.Call(commit ? SNAPKEEP_IOCTL_CKPT_COMMIT : SNAPKEEP_IOCTL_CKPT_ABANDON, &arg,
           commit ? "commit checkpoint" : "abandon checkpoint");
}

CheckpointInfo GetCheckpointInfo(const Uuid& id) {
  struct snapkeep_ckpt_info arg {};
  ParseUuid(id, arg.id.b);
  CtlFd ctl;
  ctl.Call(SNAPKEEP_IOCTL_CKPT_INFO, &arg, "checkpoint info");
  CheckpointInfo out;
  out.id = id;
  out.state = arg.state;
  out.reason = arg.reason;
  out.chunk_size = arg.chunk_size;
  out.flags = arg.flags;
  out.created = arg.created;
  out.store_pages = arg.store_pages;
  out.used_pages = arg.used_pages;
  out.entries = arg.entries;
  out.records = arg.records;
  out.sequence = arg.sequence;
  out.name.assign(reinterpret_cast<const char*>(arg.name), strnlen(reinterpret_cast<const char*>(arg.name), sizeof(arg.name)));
  for (uint32_t i = 0; i < arg.count && i < SNAPKEEP_CKPT_MAX_DEVICES; i++) out.devices.push_back(FromAbi(arg.devs[i]));
  return out;
}

std::vector<Uuid> ListCheckpoints() { return ListIds(SNAPKEEP_IOCTL_CKPT_LIST, "list checkpoints"); }

}  // namespace kmod
}  // namespace snapkeep
