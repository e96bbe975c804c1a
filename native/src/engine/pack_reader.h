// Reads blobs and trailers of sealed packs. Keeps one descriptor per pack
// open (pread is safe to share between threads), bounded so a restore of a
// huge repository does not run out of descriptors.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crypto.h"
#include "file_io.h"
#include "pack_format.h"

namespace snapkeep::engine {

class Decompressor;

class PackReader {
 public:
  PackReader(std::string repo, const RepoKeys& keys) : repo_(std::move(repo)), keys_(keys) {}

  // The stored bytes of one blob.
  void ReadStored(const std::string& packId, uint32_t offset, uint32_t len, Bytes& out);
  // Decrypts and decompresses stored bytes into `out`, which holds
  // `expectLen` bytes: the length of the chunk at its place in the device.
  // The entry's raw length must be exactly that (checked before a byte is
  // written), and the content must hash to `id`. Throws REPO_CORRUPT naming
  // the pack and chunk otherwise.
  void Decode(const std::string& packId, const PackEntry& e, const Bytes& stored, Bytes& scratch,
              Decompressor& dz, uint8_t* out, size_t expectLen) const;
  // Trailer entries of a pack file (index rebuild, verify).
  std::vector<PackEntry> ReadTrailer(const std::string& packId, uint64_t* size);
  // Closes the cached descriptors, so the repository's file system can be
  // unmounted and deleted packs free their space; reads in flight keep
  // theirs, later reads open again.
  void CloseAll();

 private:
  std::shared_ptr<Fd> Get(const std::string& packId);

  std::string repo_;
  RepoKeys keys_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Fd>> fds_;
};

}  // namespace snapkeep::engine
