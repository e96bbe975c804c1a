#include "pack_reader.h"

#include <fcntl.h>
#include <sodium.h>

#include <cstring>

#include "compress.h"
#include "engine_error.h"
#include "repo_dir.h"

namespace snapkeep::engine {

namespace {
constexpr size_t kMaxOpenPacks = 64;
// With a fetcher (a remote repository's read cache), open descriptors of
// packs the cache dropped hold their disk space: fewer are kept.
constexpr size_t kMaxOpenFetched = 8;
// Opened session keys kept (one per backup call or compaction that wrote
// packs still read); past this the cache starts again, so a repository of
// hostile headers cannot grow it without bound.
constexpr size_t kMaxSessions = 1 << 14;
}

PackReader::SessionKey::~SessionKey() { sodium_memzero(key, sizeof key); }

std::shared_ptr<PackReader::OpenPack> PackReader::Get(const std::string& packId) {
  if (!ValidPackId(packId)) throw Corrupt("bad pack id \"" + packId + "\"", packId);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fds_.find(packId);
    if (it != fds_.end()) return it->second;
  }
  // Opened without the lock: a fetch may take seconds, and other workers
  // read packs they have meanwhile.
  std::shared_ptr<OpenPack> p = OpenHere(packId);
  if (!p && fetcher_) p = FetchAndOpen(packId);
  if (!p) {
    EngineError e = Corrupt("pack " + packId + " is missing", packId);
    e.path = PackPath(repo_, packId);
    throw e;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = fds_.find(packId);
  if (it != fds_.end()) return it->second;  // another worker opened it meanwhile
  if (fds_.size() >= (fetcher_ ? kMaxOpenFetched : kMaxOpenPacks)) fds_.erase(fds_.begin());
  fds_[packId] = p;
  return p;
}

std::shared_ptr<PackReader::OpenPack> PackReader::OpenHere(const std::string& packId) const {
  try {
    return std::make_shared<OpenPack>(RepoDir(repo_).OpenRead(PackRel(packId)));
  } catch (EngineError& e) {
    if (e.errnum != ENOENT) throw;
    return nullptr;
  }
}

// The cache may drop the pack again before this worker opens it (another
// worker's fetch made room): tried twice alongside the other workers, then
// alone. Packs it dropped whose descriptors are open here stay readable
// through them (the space returns when the descriptor is closed, at most
// kMaxOpenFetched): closing them would make a worker in the middle of a
// pack fetch it again for every blob. Null: the store does not have it.
std::shared_ptr<PackReader::OpenPack> PackReader::FetchAndOpen(const std::string& packId) {
  constexpr int kAlongside = 2, kAlone = 4;
  for (int attempt = 0; attempt < kAlongside + kAlone; attempt++) {
    std::shared_lock<std::shared_mutex> along(fetchMu_, std::defer_lock);
    std::unique_lock<std::shared_mutex> alone(fetchMu_, std::defer_lock);
    if (attempt < kAlongside)
      along.lock();
    else
      alone.lock();
    if (!fetcher_->Fetch(packId)) return nullptr;
    if (auto p = OpenHere(packId)) return p;
  }
  // Not damage: the repository has the pack, this computer could not keep it.
  EngineError e("IO_ERROR", "pack " + packId + " was fetched " + std::to_string(kAlongside + kAlone) +
                                " times and each time the read cache dropped it before it could be read "
                                "(other operations on this repository filled the cache)");
  e.pack = packId;
  throw e;
}

void PackReader::CloseAll() {
  std::lock_guard<std::mutex> lock(mu_);
  fds_.clear();
}

void PackReader::ReadStored(const std::string& packId, uint32_t offset, uint32_t len, Bytes& out) {
  auto p = Get(packId);
  out.resize(len);
  std::string path = PackPath(repo_, packId);
  size_t n = PreadFull(p->fd.get(), out.data(), len, offset, path);
  if (n != len) throw Corrupt("pack " + packId + " is truncated", packId);
}

PackHeaderInfo PackReader::Header(const std::string& packId, OpenPack& p) {
  std::lock_guard<std::mutex> lock(p.mu);
  if (!p.headerRead) {
    uint8_t buf[kMaxPackHeaderSize];
    size_t n = PreadFull(p.fd.get(), buf, sizeof buf, 0, PackPath(repo_, packId));
    std::string why;
    if (!CheckPackHeader(keys_.layout, buf, n, &p.header, &why)) throw Corrupt("pack " + packId + " " + why, packId);
    p.headerRead = true;
  }
  return p.header;
}

std::shared_ptr<const PackReader::SessionKey> PackReader::DataKey(const std::string& packId) {
  RequireBlobKeys(keys_);
  auto p = Get(packId);
  {
    std::lock_guard<std::mutex> lock(p->mu);
    if (p->key) return p->key;
  }
  PackHeaderInfo h = Header(packId, *p);
  Sealed sealed;
  std::memcpy(sealed.data(), h.sealed, kSealedKeySize);
  std::shared_ptr<const SessionKey> key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(sealed);
    if (it != sessions_.end()) key = it->second;
  }
  if (!key) {
    // By the header's key pair id: the current pair or a retired one.
    const OwnerKeys::Pair* pair = keys_.owner->Find(h.keyPairId);
    if (!pair)
      throw Corrupt("pack " + packId + " is sealed to key pair " + Hex(h.keyPairId, kKeyPairIdSize) +
                        ", which none of the owner's keys belongs to (a damaged header, or a key pair "
                        "whose secret key was not kept)",
                    packId);
    auto fresh = std::make_shared<SessionKey>();
    if (!OpenSealedKey(pair->pk, pair->sk, h.sealed, fresh->key))
      throw Corrupt("the session key in the header of pack " + packId +
                        " does not open with the owner's key of its key pair: damaged or forged",
                    packId);
    std::lock_guard<std::mutex> lock(mu_);
    if (sessions_.size() >= kMaxSessions) sessions_.clear();
    key = sessions_.emplace(sealed, fresh).first->second;
  }
  std::lock_guard<std::mutex> lock(p->mu);
  p->key = key;
  return key;
}

void PackReader::Decode(const std::string& packId, const PackEntry& e, const Bytes& stored,
                        Bytes& scratch, Decompressor& dz, uint8_t* out, size_t expectLen) {
  // An append-only client has no key to any blob: say so before judging one.
  RequireBlobKeys(keys_);
  const std::string chunk = Hex(e.id);
  // Before anything is written to `out`: a forged raw length would make the
  // decoder write past it (engine review finding 4), a short one would leave
  // stale bytes of an earlier chunk in it.
  if (e.rawLen != expectLen || e.rawLen == 0)
    throw Corrupt("chunk " + chunk + " in pack " + packId + " has a raw length of " +
                      std::to_string(e.rawLen) + " bytes where its place holds " +
                      std::to_string(expectLen),
                  packId, chunk);
  if (stored.size() > MaxStoredLen(e.rawLen))
    throw Corrupt("chunk " + chunk + " in pack " + packId + " has a stored length too long for its raw length",
                  packId, chunk);
  const uint8_t* payload = stored.data();
  size_t plen = stored.size();
  if (keys_.encrypted) {
    std::shared_ptr<const SessionKey> session;
    const uint8_t* key = keys_.enc;
    if (keys_.layout == 2) {
      session = DataKey(packId);
      key = session->key;
    }
    scratch.clear();
    if (!Open(keys_.aead, key, stored.data(), stored.size(), e.id.data(), kIdSize, scratch))
      throw Corrupt("chunk " + chunk + " in pack " + packId + " fails authentication", packId, chunk);
    payload = scratch.data();
    plen = scratch.size();
  }
  if (e.flags & kFlagCompressed) {
    if (!dz.Decompress(payload, plen, e.rawLen, out))
      throw Corrupt("chunk " + chunk + " in pack " + packId + " does not decompress", packId, chunk);
  } else {
    if (plen != e.rawLen)
      throw Corrupt("chunk " + chunk + " in pack " + packId + " has the wrong length", packId, chunk);
    std::memcpy(out, payload, plen);
  }
  if (KeyedHash(keys_, out, e.rawLen) != e.id)
    throw Corrupt("chunk " + chunk + " in pack " + packId + " does not match its id", packId, chunk);
}

uint64_t PackReader::Size(const std::string& packId) {
  auto p = Get(packId);
  return FileSize(p->fd.get(), PackPath(repo_, packId));
}

std::vector<PackEntry> PackReader::ReadTrailer(const std::string& packId, uint64_t* size) {
  auto p = Get(packId);
  std::string path = PackPath(repo_, packId);
  *size = FileSize(p->fd.get(), path);
  // The header first: a pack of the other version says so, not "damaged trailer".
  Header(packId, *p);
  size_t tailLen = static_cast<size_t>(std::min<uint64_t>(*size, 64 * 1024));
  for (int attempt = 0; attempt < 2; attempt++) {
    Bytes tail(tailLen);
    size_t n = PreadFull(p->fd.get(), tail.data(), tailLen, *size - tailLen, path);
    std::vector<PackEntry> out;
    size_t need = 0;
    if (n == tailLen && DecodeTrailer(keys_, tail.data(), tailLen, *size, out, &need)) return out;
    if (need == 0 || need > *size) break;
    tailLen = need;
  }
  throw Corrupt("pack " + packId + " has a damaged trailer", packId);
}

}  // namespace snapkeep::engine
