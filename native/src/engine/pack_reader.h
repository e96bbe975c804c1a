// Reads blobs and trailers of sealed packs. Keeps one descriptor per pack
// open (pread is safe to share between threads), bounded so a restore of a
// huge repository does not run out of descriptors.
//
// Layout 2 (format 3): each pack's blobs are under the session key sealed
// in its version-2 header. The header is read once per open pack; the seal
// is opened with the owner's secret key of its key pair id (current or
// retired), and opened keys are kept by their sealed bytes, which all packs
// of one session share. Without the owner's keys reading a blob fails with
// OWNER_KEY_REQUIRED; trailers (under the metadata key) read as always.
#pragma once

#include <array>
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
  // the pack and chunk otherwise (or the pack, for a layout-2 header whose
  // seal does not open), OWNER_KEY_REQUIRED without the owner's keys. In an
  // encrypted repository `scratch` holds the decrypted payload afterwards
  // (what compaction seals again under its own session key).
  void Decode(const std::string& packId, const PackEntry& e, const Bytes& stored, Bytes& scratch,
              Decompressor& dz, uint8_t* out, size_t expectLen);
  // Bytes of a pack file (fetched first when it is not here and a fetcher is set).
  uint64_t Size(const std::string& packId);
  // Trailer entries of a pack file (index rebuild, verify), after the
  // header's form is checked. Needs no owner key.
  std::vector<PackEntry> ReadTrailer(const std::string& packId, uint64_t* size);
  // Closes the cached descriptors, so the repository's file system can be
  // unmounted and deleted packs free their space; reads in flight keep
  // theirs, later reads open again.
  void CloseAll();

 private:
  // A session key opened from a header; wiped when no pack or cache holds it.
  struct SessionKey {
    uint8_t key[kKeySize];
    ~SessionKey();
  };
  // A pack held open: its descriptor, its header once read, and (layout 2)
  // the session key the header opened to.
  struct OpenPack {
    explicit OpenPack(Fd f) : fd(std::move(f)) {}
    Fd fd;
    std::mutex mu;  // guards the rest
    bool headerRead = false;
    PackHeaderInfo header;
    std::shared_ptr<const SessionKey> key;
  };
  using Sealed = std::array<uint8_t, kSealedKeySize>;

  std::shared_ptr<OpenPack> Get(const std::string& packId);
  std::shared_ptr<OpenPack> OpenHere(const std::string& packId) const;
  std::shared_ptr<OpenPack> FetchAndOpen(const std::string& packId);
  // The pack's header, read and checked the first time; REPO_CORRUPT naming
  // the pack when its form is wrong for this repository's layout.
  PackHeaderInfo Header(const std::string& packId, OpenPack& p);
  // Layout 2: the key of the pack's blobs.
  std::shared_ptr<const SessionKey> DataKey(const std::string& packId);

  std::string repo_;
  RepoKeys keys_;
  std::shared_ptr<PackFetcher> fetcher_;
  std::mutex mu_;
  // Fetches share it; a worker whose pack the cache keeps dropping before
  // it can open it takes it alone, so no fetch of this reader makes room
  // between its fetch and its open.
  std::shared_mutex fetchMu_;
  std::map<std::string, std::shared_ptr<OpenPack>> fds_;
  std::map<Sealed, std::shared_ptr<const SessionKey>> sessions_;  // guarded by mu_
};

}  // namespace snapkeep::engine
