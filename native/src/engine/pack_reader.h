// Reads blobs and trailers of sealed packs. Keeps one descriptor per pack
// open (pread is safe to share between threads), bounded so a restore of a
// huge repository does not run out of descriptors.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "crypto.h"
#include "file_io.h"
#include "pack_format.h"

namespace snapkeep::engine {

class Decompressor;

// Brings a pack that is not in the repository directory into it: the read
// cache of a remote repository (docs/remote-repositories.md). Fetch blocks
// the calling worker until the pack is there (true), or the store is known
// not to have it (false), or throws the reason, an EngineError. The cache
// deletes packs to make room; descriptors the reader holds keep those
// readable until it closes them.
class PackFetcher {
 public:
  virtual ~PackFetcher() = default;
  virtual bool Fetch(const std::string& packId) = 0;
};

class PackReader {
 public:
  PackReader(std::string repo, const RepoKeys& keys, std::shared_ptr<PackFetcher> fetcher = nullptr)
      : repo_(std::move(repo)), keys_(keys), fetcher_(std::move(fetcher)) {}

  // The stored bytes of one blob.
  void ReadStored(const std::string& packId, uint32_t offset, uint32_t len, Bytes& out);
  // Decrypts and decompresses stored bytes into `out`, which holds
  // `expectLen` bytes: the length of the chunk at its place in the device.
  // The entry's raw length must be exactly that (checked before a byte is
  // written), and the content must hash to `id`. Throws REPO_CORRUPT naming
  // the pack and chunk otherwise.
  void Decode(const std::string& packId, const PackEntry& e, const Bytes& stored, Bytes& scratch,
              Decompressor& dz, uint8_t* out, size_t expectLen) const;
  // Bytes of a pack file (fetched first when it is not here and a fetcher is set).
  uint64_t Size(const std::string& packId);
  // Trailer entries of a pack file (index rebuild, verify).
  std::vector<PackEntry> ReadTrailer(const std::string& packId, uint64_t* size);
  // Closes the cached descriptors, so the repository's file system can be
  // unmounted and deleted packs free their space; reads in flight keep
  // theirs, later reads open again.
  void CloseAll();

 private:
  std::shared_ptr<Fd> Get(const std::string& packId);
  std::shared_ptr<Fd> OpenHere(const std::string& packId) const;
  std::shared_ptr<Fd> FetchAndOpen(const std::string& packId);

  std::string repo_;
  RepoKeys keys_;
  std::shared_ptr<PackFetcher> fetcher_;
  std::mutex mu_;
  // Fetches share it; a worker whose pack the cache keeps dropping before
  // it can open it takes it alone, so no fetch of this reader makes room
  // between its fetch and its open.
  std::shared_mutex fetchMu_;
  std::map<std::string, std::shared_ptr<Fd>> fds_;
};

}  // namespace snapkeep::engine
