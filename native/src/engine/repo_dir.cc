#include "repo_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace snapkeep::engine {
namespace {

// 0: not probed yet, 1: openat2, 2: component walk.
std::atomic<int> gResolve{0};

bool UseOpenat2() {
  int m = gResolve.load();
  if (m == 0) {
    // Probed once: seccomp filters (containers) may answer ENOSYS or EPERM
    // for a syscall they do not know, which must not read as "denied".
    struct open_how how = {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS;
    long fd = ::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    if (fd >= 0) ::close(static_cast<int>(fd));
    m = fd >= 0 ? 1 : 2;
    int expected = 0;
    gResolve.compare_exchange_strong(expected, m);
    m = gResolve.load();
  }
  return m == 1;
}

// Names inside a repository are ids, fixed names and our temp files: no
// "..", no empty component, nothing a shell or a path could misread.
bool ValidComponent(const std::string& c) {
  if (c.empty() || c == "." || c == ".." || c.size() > 255) return false;
  for (char ch : c) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> Components(const std::string& rel) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= rel.size()) {
    size_t slash = rel.find('/', at);
    if (slash == std::string::npos) slash = rel.size();
    out.push_back(rel.substr(at, slash - at));
    at = slash + 1;
  }
  for (const std::string& c : out)
    if (!ValidComponent(c)) throw EngineError("INVALID_ARGUMENT", "bad repository path \"" + rel + "\"");
  return out;
}

int DupCloexec(int fd) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) throw SysFail(errno, "fcntl(F_DUPFD)", "");
  return d;
}

// A failed directory fsync on file systems that do not support it (some
// FUSE and SMB mounts answer EINVAL) must not fail the write: the data
// itself was fsynced, and restic makes the same call.
void FsyncDirFd(int fd, const std::string& what) {
  if (::fsync(fd) == 0) return;
  if (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP) return;
  throw SysFail(errno, "fsync", what);
}

}  // namespace

void SetResolveMode(ResolveMode mode) { gResolve.store(mode == ResolveMode::kWalk ? 2 : 0); }
ResolveMode GetResolveMode() { return UseOpenat2() ? ResolveMode::kAuto : ResolveMode::kWalk; }

std::string DescribeMode(mode_t mode) {
  if (S_ISREG(mode)) return "regular file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "symbolic link";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  return "special file";
}

void SplitRel(const std::string& rel, std::string* dir, std::string* name) {
  size_t slash = rel.find_last_of('/');
  if (slash == std::string::npos) {
    dir->clear();
    *name = rel;
  } else {
    *dir = rel.substr(0, slash);
    *name = rel.substr(slash + 1);
  }
}

RepoDir::RepoDir(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw SysFail(errno, "open", root_);
  fd_ = Fd(fd);
}

std::string RepoDir::Abs(const std::string& rel) const { return rel.empty() ? root_ : root_ + "/" + rel; }

EngineError RepoDir::Unsafe(const std::string& rel, const std::string& found) const {
  EngineError e("REPO_UNSAFE", "refusing " + Abs(rel) + ": it is a " + found +
                                   ", and a Snapkeep repository holds only regular files and "
                                   "directories (was the repository tampered with?)");
  e.path = Abs(rel);
  return e;
}

void RepoDir::Fail(int err, const char* call, const std::string& rel) const {
  if (err == ELOOP || err == ENOTDIR || err == EXDEV) {
    // Name the component that is in the way: the first link, or the first
    // non-directory where a directory must be. Diagnosis only; the refusal
    // itself came from the kernel.
    std::vector<std::string> parts = Components(rel);
    std::string prefix;
    for (size_t i = 0; i < parts.size(); i++) {
      prefix = i == 0 ? parts[i] : prefix + "/" + parts[i];
      struct stat st;
      if (::fstatat(fd_.get(), prefix.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) break;
      bool last = i + 1 == parts.size();
      if (S_ISLNK(st.st_mode) || (!last && !S_ISDIR(st.st_mode)) ||
          (last && err == ENOTDIR && !S_ISDIR(st.st_mode)))
        throw Unsafe(prefix, DescribeMode(st.st_mode));
    }
    if (err != ENOTDIR) throw Unsafe(rel, "path that leaves the repository");
  }
  throw SysFail(err, call, Abs(rel));
}

int RepoDir::OpenBeneath(const std::string& rel, int flags, mode_t mode) const {
  std::vector<std::string> parts = Components(rel);
  flags |= O_NOFOLLOW | O_CLOEXEC;
  if (UseOpenat2()) {
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; attempt++) {
      long fd = ::syscall(SYS_openat2, fd_.get(), rel.c_str(), &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      // EAGAIN: a concurrent rename made the kernel unsure; retrying is the
      // documented answer.
      if ((errno != EAGAIN && errno != EINTR) || attempt >= 8) return -1;
    }
  }
  // Fallback: every directory opened O_NOFOLLOW relative to the one before,
  // so a link anywhere on the way fails with ELOOP, as with openat2.
  int dirfd = fd_.get();
  Fd hold;
  for (size_t i = 0; i + 1 < parts.size(); i++) {
    int next = ::openat(dirfd, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return -1;
    hold = Fd(next);
    dirfd = next;
  }
  return ::openat(dirfd, parts.back().c_str(), flags, mode);
}

Fd RepoDir::OpenDir(const std::string& relDir, bool create) const {
  if (relDir.empty()) return Fd(DupCloexec(fd_.get()));
  int fd = OpenBeneath(relDir, O_RDONLY | O_DIRECTORY, 0);
  if (fd >= 0) return Fd(fd);
  if (errno != ENOENT || !create) Fail(errno, "open", relDir);
  // Create what is missing, one level at a time from the root.
  Fd cur(DupCloexec(fd_.get()));
  std::string prefix;
  for (const std::string& c : Components(relDir)) {
    prefix = prefix.empty() ? c : prefix + "/" + c;
    bool made = ::mkdirat(cur.get(), c.c_str(), kRepoDirMode) == 0;
    if (!made && errno != EEXIST) Fail(errno, "mkdir", prefix);
    int next = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) Fail(errno, "open", prefix);
    Fd nfd(next);
    if (made) {
      // Exact mode whatever the umask; the parent's fsync makes the new
      // name durable before anything is written into it.
      if (::fchmod(nfd.get(), kRepoDirMode) < 0) throw SysFail(errno, "fchmod", Abs(prefix));
      FsyncDirFd(cur.get(), Abs(prefix));
    }
    cur = std::move(nfd);
  }
  return cur;
}

Fd RepoDir::OpenRead(const std::string& rel) const {
  // O_PATH first: a FIFO or a device planted here is looked at, never
  // opened (a FIFO would block this thread, a device's open() has effects).
  int p = OpenBeneath(rel, O_PATH, 0);
  if (p < 0) Fail(errno, "open", rel);
  Fd path(p);
  struct stat st;
  if (::fstat(p, &st) < 0) throw SysFail(errno, "fstat", Abs(rel));
  if (!S_ISREG(st.st_mode)) throw Unsafe(rel, DescribeMode(st.st_mode));
  char proc[64];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", p);
  int fd = ::open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) return Fd(fd);
  if (errno != ENOENT) throw SysFail(errno, "open", Abs(rel));
  // No /proc: open by name, non-blocking, and make sure it is the file
  // just checked.
  fd = OpenBeneath(rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0) Fail(errno, "open", rel);
  Fd f(fd);
  struct stat again;
  if (::fstat(fd, &again) < 0) throw SysFail(errno, "fstat", Abs(rel));
  if (!S_ISREG(again.st_mode) || again.st_ino != st.st_ino || again.st_dev != st.st_dev)
    throw Unsafe(rel, "file that was swapped while it was opened");
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return f;
}

Bytes RepoDir::ReadFile(const std::string& rel, uint64_t maxBytes) const {
  Fd f = OpenRead(rel);
  uint64_t size = FileSize(f.get(), Abs(rel));
  if (size > maxBytes) {
    EngineError e("REPO_CORRUPT", Abs(rel) + " has " + std::to_string(size) +
                                      " bytes, more than such a file may have (" +
                                      std::to_string(maxBytes) + ")");
    e.path = Abs(rel);
    throw e;
  }
  Bytes out(static_cast<size_t>(size));
  size_t n = PreadFull(f.get(), out.data(), out.size(), 0, Abs(rel));
  out.resize(n);
  return out;
}

Fd RepoDir::CreateExcl(const std::string& rel, int accessFlags) const {
  std::string dir, name;
  SplitRel(rel, &dir, &name);
  Components(name);
  Fd d = OpenDir(dir, true);
  // O_EXCL never opens what is there, link or not.
  int fd = ::openat(d.get(), name.c_str(), accessFlags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    kRepoFileMode);
  if (fd < 0) Fail(errno, "open", rel);
  Fd f(fd);
  if (::fchmod(fd, kRepoFileMode) < 0) throw SysFail(errno, "fchmod", Abs(rel));
  return f;
}

void RepoDir::WriteFileAtomic(const std::string& relDir, const std::string& name,
                              const Bytes& data) const {
  Components(name);
  Fd d = OpenDir(relDir, true);
  std::string rel = relDir.empty() ? name : relDir + "/" + name;
  std::string tmp = std::string(kTempPrefix) + name + "-" + RandomHex(6);
  int fd = ::openat(d.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    kRepoFileMode);
  if (fd < 0) Fail(errno, "open", relDir.empty() ? tmp : relDir + "/" + tmp);
  {
    Fd f(fd);
    try {
      if (::fchmod(fd, kRepoFileMode) < 0) throw SysFail(errno, "fchmod", Abs(rel));
      PwriteFull(fd, data.data(), data.size(), 0, Abs(rel));
      FsyncOrThrow(fd, Abs(rel));
    } catch (...) {
      ::unlinkat(d.get(), tmp.c_str(), 0);
      throw;
    }
  }
  if (::renameat(d.get(), tmp.c_str(), d.get(), name.c_str()) < 0) {
    int e = errno;
    ::unlinkat(d.get(), tmp.c_str(), 0);
    Fail(e, "rename", rel);
  }
  FsyncDirFd(d.get(), Abs(relDir));
}

void RepoDir::Rename(const std::string& fromRel, const std::string& toRel) const {
  std::string fromDir, fromName, toDir, toName;
  SplitRel(fromRel, &fromDir, &fromName);
  SplitRel(toRel, &toDir, &toName);
  Components(fromName);
  Components(toName);
  Fd from = OpenDir(fromDir, false);
  Fd to = OpenDir(toDir, true);
  if (::renameat(from.get(), fromName.c_str(), to.get(), toName.c_str()) < 0) Fail(errno, "rename", toRel);
}

bool RepoDir::Unlink(const std::string& rel) const {
  std::string dir, name;
  SplitRel(rel, &dir, &name);
  Components(name);
  Fd d;
  try {
    d = OpenDir(dir, false);
  } catch (const EngineError& e) {
    if (e.errnum == ENOENT) return false;
    throw;
  }
  if (::unlinkat(d.get(), name.c_str(), 0) == 0) return true;
  if (errno == ENOENT) return false;
  if (errno == EISDIR) throw Unsafe(rel, "directory");
  throw SysFail(errno, "unlink", Abs(rel));
}

std::vector<DirEntry> RepoDir::List(const std::string& relDir) const {
  Fd d;
  try {
    d = OpenDir(relDir, false);
  } catch (const EngineError& e) {
    if (e.errnum == ENOENT) return {};
    throw;
  }
  // fdopendir takes the descriptor over; keep `d` for fstatat.
  DIR* dir = ::fdopendir(DupCloexec(d.get()));
  if (!dir) throw SysFail(errno, "opendir", Abs(relDir));
  std::vector<DirEntry> out;
  errno = 0;
  while (struct dirent* ent = ::readdir(dir)) {
    std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    mode_t mode = 0;
    switch (ent->d_type) {
      case DT_REG: mode = S_IFREG; break;
      case DT_DIR: mode = S_IFDIR; break;
      case DT_LNK: mode = S_IFLNK; break;
      case DT_FIFO: mode = S_IFIFO; break;
      case DT_CHR: mode = S_IFCHR; break;
      case DT_BLK: mode = S_IFBLK; break;
      case DT_SOCK: mode = S_IFSOCK; break;
      default: {
        struct stat st;
        if (::fstatat(d.get(), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) mode = st.st_mode;
      }
    }
    EntryType t = S_ISREG(mode) ? EntryType::kFile : S_ISDIR(mode) ? EntryType::kDir : EntryType::kOther;
    out.push_back({std::move(name), t, mode ? DescribeMode(mode) : "file of unknown type"});
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err) throw SysFail(err, "readdir", Abs(relDir));
  return out;
}

void RepoDir::MkdirP(const std::string& relDir) const { OpenDir(relDir, true); }

void RepoDir::FsyncDir(const std::string& relDir) const {
  Fd d = OpenDir(relDir, false);
  FsyncDirFd(d.get(), Abs(relDir));
}

std::optional<struct stat> RepoDir::Lstat(const std::string& rel) const {
  int p = OpenBeneath(rel, O_PATH, 0);
  if (p < 0) {
    if (errno == ENOENT) return std::nullopt;
    Fail(errno, "stat", rel);
  }
  Fd path(p);
  struct stat st;
  if (::fstat(p, &st) < 0) throw SysFail(errno, "fstat", Abs(rel));
  return st;
}

void RepoDir::Touch(const std::string& rel) const {
  std::string dir, name;
  SplitRel(rel, &dir, &name);
  Components(name);
  Fd d = OpenDir(dir, false);
  struct stat st;
  if (::fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw SysFail(errno, "stat", Abs(rel));
  if (!S_ISREG(st.st_mode)) throw Unsafe(rel, DescribeMode(st.st_mode));
  if (::utimensat(d.get(), name.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) < 0)
    throw SysFail(errno, "utimensat", Abs(rel));
}

}  // namespace snapkeep::engine
