// Repository file access that never leaves the repository. Whoever can
// write the repository (a NAS share, a USB disk passed around) is not
// trusted: a symbolic link planted as packs/<xx> must not make root list or
// delete files elsewhere, and a FIFO or device planted as an index file must
// neither block a thread nor reach a driver's open().
//
// So every path below the root is relative ("packs/ab/<id>") and resolved
// with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or, where the kernel
// lacks openat2, component by component with O_NOFOLLOW from the root's
// descriptor. Files are first opened O_PATH (no open() reaches a driver),
// must be regular, and only then opened for reading. Anything else is an
// EngineError with code REPO_UNSAFE naming the path and what was found.
//
// The root itself is the path the user chose and is resolved like any path.
// Files are created 0600 and directories 0700 whatever the umask: an
// unencrypted repository holds whole disks.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bytes.h"
#include "engine_error.h"
#include "file_io.h"

namespace snapkeep::engine {

// Prefix of temporary files; the TypeScript sweep (persist/atomic-file.ts)
// knows it too, so a killed writer's leftovers are found by prune.
constexpr const char* kTempPrefix = ".snapkeep-tmp-";
constexpr mode_t kRepoFileMode = 0600;
constexpr mode_t kRepoDirMode = 0700;

enum class EntryType : uint8_t { kFile, kDir, kOther };

struct DirEntry {
  std::string name;
  EntryType type;
  std::string what;  // "regular file", "symbolic link", "FIFO", ... for messages
};

class RepoDir {
 public:
  // Opens the root directory; NOT_FOUND when it does not exist.
  explicit RepoDir(std::string root);
  RepoDir(RepoDir&&) = default;
  RepoDir& operator=(RepoDir&&) = default;

  const std::string& root() const { return root_; }
  std::string Abs(const std::string& rel) const;  // for messages only

  // A regular file opened for reading. NOT_FOUND (errno ENOENT) when absent.
  Fd OpenRead(const std::string& rel) const;
  // The whole file; REPO_CORRUPT when it is longer than maxBytes.
  Bytes ReadFile(const std::string& rel, uint64_t maxBytes) const;
  // Creates rel exclusively (never opens what exists), mode 0600; parent
  // directories are created.
  Fd CreateExcl(const std::string& rel, int accessFlags) const;
  // Temp file, fsync, rename over relDir/name, fsync of the directory.
  void WriteFileAtomic(const std::string& relDir, const std::string& name, const Bytes& data) const;
  // Both inside the repository; the target's directory is created.
  void Rename(const std::string& fromRel, const std::string& toRel) const;
  // Removes the name (a link planted there is removed, never followed);
  // false when it did not exist.
  bool Unlink(const std::string& rel) const;
  // Entries of a directory without "." and ".."; empty when it does not
  // exist. The directory itself must be a real directory.
  std::vector<DirEntry> List(const std::string& relDir) const;
  // Creates missing directories (0700), fsyncing each new one's parent.
  void MkdirP(const std::string& relDir) const;
  void FsyncDir(const std::string& relDir) const;
  // lstat of rel; nullopt when absent. Does not judge the type.
  std::optional<struct stat> Lstat(const std::string& rel) const;
  // Sets mtime/atime to now (lock refresh); refuses a non-regular file.
  void Touch(const std::string& rel) const;

  // The error for something that is not a regular file or directory.
  EngineError Unsafe(const std::string& rel, const std::string& found) const;

 private:
  // A descriptor of relDir ("" = the root), optionally creating it.
  Fd OpenDir(const std::string& relDir, bool create) const;
  int OpenBeneath(const std::string& rel, int flags, mode_t mode) const;
  [[noreturn]] void Fail(int err, const char* call, const std::string& rel) const;

  std::string root_;
  Fd fd_;
};

// What a stat mode is, in words for messages ("symbolic link", "FIFO", ...).
std::string DescribeMode(mode_t mode);

// Splits "a/b/c" into "a/b" and "c".
void SplitRel(const std::string& rel, std::string* dir, std::string* name);

// How paths below the root are resolved. kAuto uses openat2 when the kernel
// has it; tests force kWalk to exercise the fallback on new kernels too.
enum class ResolveMode { kAuto, kWalk };
void SetResolveMode(ResolveMode mode);
ResolveMode GetResolveMode();

}  // namespace snapkeep::engine
