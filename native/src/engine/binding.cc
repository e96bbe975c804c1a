#include "binding.h"

#include <sodium.h>

#include <memory>

#include "chunk_index.h"
#include "crypto.h"
#include "envelope.h"
#include "gc.h"
#include "index_file.h"
#include "pack_reader.h"
#include "pipeline_backup.h"
#include "pipeline_restore.h"
#include "repo_dir_binding.h"
#include "verifier.h"
#include "worker.h"
#include "../errors.h"

namespace snapkeep::engine {

Napi::Error ToJsError(Napi::Env env, const EngineError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, e.code));
  if (e.errnum) {
    err.Set("errno", Napi::Number::New(env, e.errnum));
    err.Set("errnoName", Napi::String::New(env, ErrnoName(e.errnum)));
  }
  if (!e.syscall.empty()) err.Set("syscall", Napi::String::New(env, e.syscall));
  if (!e.path.empty()) err.Set("path", Napi::String::New(env, e.path));
  if (!e.pack.empty()) err.Set("pack", Napi::String::New(env, e.pack));
  if (!e.chunk.empty()) err.Set("chunk", Napi::String::New(env, e.chunk));
  return err;
}

namespace {

// ---- argument conversion (JS -> plain C++), checked on the JS thread ----

Napi::Value Field(const Napi::Object& o, const char* key) { return o.Get(key); }

std::string Str(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double Num(const Napi::Object& o, const char* key, double dflt = -1) {
  Napi::Value v = Field(o, key);
  if (v.IsUndefined() && dflt >= 0) return dflt;
  if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 0)
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a non-negative number");
  return v.As<Napi::Number>().DoubleValue();
}

bool Bool(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

Bytes Buf(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsBuffer()) throw Napi::TypeError::New(env, std::string(what) + " must be a Buffer");
  auto b = v.As<Napi::Buffer<uint8_t>>();
  return Bytes(b.Data(), b.Data() + b.Length());
}

Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, const Bytes& b) {
  return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size());
}

ChunkId IdFromHex(Napi::Env env, const std::string& hex) {
  ChunkId id;
  if (!FromHex(hex, id.data(), kIdSize)) throw Napi::TypeError::New(env, "bad chunk id " + hex);
  return id;
}

// ---- cancel flags ----

class CancelToken : public Napi::ObjectWrap<CancelToken> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CancelToken", {InstanceMethod("cancel", &CancelToken::Cancel)});
  }
  explicit CancelToken(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<CancelToken>(info), flag_(std::make_shared<std::atomic<bool>>(false)) {}
  CancelFlag flag() const { return flag_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    flag_->store(true);
    return info.Env().Undefined();
  }
  CancelFlag flag_;
};

Napi::FunctionReference* gCancelCtor = nullptr;

CancelFlag CancelOf(Napi::Value v) {
  if (!v.IsObject() || gCancelCtor == nullptr) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.InstanceOf(gCancelCtor->Value())) return nullptr;
  return CancelToken::Unwrap(o)->flag();
}

// ---- key derivation ----

Napi::Value DeriveKeyJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsNumber() ||
      !info[3].IsNumber())
    throw Napi::TypeError::New(env, "deriveKey(passphrase, salt, opsLimit, memLimit)");
  std::string pass = info[0].As<Napi::String>().Utf8Value();
  Bytes salt = Buf(env, info[1], "salt");
  if (salt.size() != crypto_pwhash_SALTBYTES) throw Napi::TypeError::New(env, "salt must be 16 bytes");
  uint64_t ops = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  uint64_t mem = static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue());
  return EngineWorker<Bytes>::Start(
      env,
      [pass, salt, ops, mem](OpControl&) {
        Bytes key(kKeySize);
        if (!DeriveKey(pass, salt.data(), ops, mem, key.data()))
          throw EngineError("INTERNAL", "Argon2id failed (out of memory or bad parameters)");
        return key;
      },
      [](Napi::Env e, Bytes& key) -> Napi::Value { return ToBuffer(e, key); }, env.Undefined(),
      nullptr);
}

// Sealing with an explicit key: wraps the master keys under the
// key-encryption key (the repository's config), before a NativeRepo exists.
Napi::Value AeadSealJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes key = Buf(env, info[0], "key"), plain = Buf(env, info[1], "plain"), ad = Buf(env, info[2], "ad");
  if (key.size() != kKeySize) throw Napi::TypeError::New(env, "key must be 32 bytes");
  Bytes out;
  Seal(key.data(), plain.data(), plain.size(), ad.data(), ad.size(), out);
  return ToBuffer(env, out);
}

Napi::Value AeadOpenJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes key = Buf(env, info[0], "key"), sealed = Buf(env, info[1], "sealed"), ad = Buf(env, info[2], "ad");
  if (key.size() != kKeySize) throw Napi::TypeError::New(env, "key must be 32 bytes");
  Bytes out;
  if (!Open(key.data(), sealed.data(), sealed.size(), ad.data(), ad.size(), out)) return env.Null();
  return ToBuffer(env, out);
}

// ---- the repository object ----

class NativeRepo : public Napi::ObjectWrap<NativeRepo> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeRepo",
                       {
                           InstanceMethod("sealEnvelope", &NativeRepo::SealEnvelopeJs),
                           InstanceMethod("openEnvelope", &NativeRepo::OpenEnvelopeJs),
                           InstanceMethod("chunkId", &NativeRepo::ChunkIdJs),
                           InstanceMethod("loadIndex", &NativeRepo::LoadIndex),
                           InstanceMethod("backup", &NativeRepo::Backup),
                           InstanceMethod("restore", &NativeRepo::Restore),
                           InstanceMethod("readRange", &NativeRepo::ReadRangeJs),
                           InstanceMethod("verify", &NativeRepo::Verify),
                           InstanceMethod("missingChunks", &NativeRepo::MissingChunks),
                           InstanceMethod("gcPlan", &NativeRepo::GcPlan),
                           InstanceMethod("compact", &NativeRepo::Compact),
                           InstanceMethod("rebuildIndex", &NativeRepo::Rebuild),
                           InstanceMethod("locate", &NativeRepo::Locate),
                           InstanceMethod("stats", &NativeRepo::Stats),
                           InstanceMethod("closeFiles", &NativeRepo::CloseFiles),
                       });
  }

  explicit NativeRepo(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRepo>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "NativeRepo({ path, idKey, encKey? })");
    Napi::Object o = info[0].As<Napi::Object>();
    path_ = Str(o, "path");
    Bytes id = Buf(env, o.Get("idKey"), "idKey");
    if (id.size() != kKeySize) throw Napi::TypeError::New(env, "idKey must be 32 bytes");
    std::copy(id.begin(), id.end(), keys_.id);
    Napi::Value enc = o.Get("encKey");
    if (!enc.IsUndefined() && !enc.IsNull()) {
      Bytes k = Buf(env, enc, "encKey");
      if (k.size() != kKeySize) throw Napi::TypeError::New(env, "encKey must be 32 bytes");
      std::copy(k.begin(), k.end(), keys_.enc);
      keys_.encrypted = true;
    }
    index_ = std::make_shared<ChunkIndex>();
    packs_ = std::make_shared<PackReader>(path_, keys_);
  }

  ~NativeRepo() override { sodium_memzero(&keys_, sizeof keys_); }

 private:
  Napi::Value SealEnvelopeJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto type = static_cast<EnvelopeType>(info[0].As<Napi::Number>().Uint32Value());
    Bytes data = Buf(env, info[1], "data");
    return ToBuffer(env, SealEnvelope(keys_, type, data.data(), data.size()));
  }

  Napi::Value OpenEnvelopeJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto type = static_cast<EnvelopeType>(info[0].As<Napi::Number>().Uint32Value());
    Bytes data = Buf(env, info[1], "data"), out;
    if (!OpenEnvelope(keys_, type, data.data(), data.size(), out)) return env.Null();
    return ToBuffer(env, out);
  }

  Napi::Value ChunkIdJs(const Napi::CallbackInfo& info) {
    Bytes data = Buf(info.Env(), info[0], "data");
    ChunkId id = KeyedHash(keys_, data.data(), data.size());
    return Napi::Buffer<uint8_t>::Copy(info.Env(), id.data(), id.size());
  }

  Napi::Value LoadIndex(const Napi::CallbackInfo& info) {
    std::string repo = path_;
    RepoKeys keys = keys_;
    auto index = index_;
    return EngineWorker<IndexLoad>::Start(
        info.Env(), [repo, keys, index](OpControl&) { return LoadIndexDir(repo, keys, *index); },
        [index](Napi::Env env, IndexLoad& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("files", StrArray(env, r.files));
          o.Set("badFiles", StrArray(env, r.badFiles));
          o.Set("chunks", Napi::Number::New(env, double(index->ChunkCount())));
          o.Set("packs", Napi::Number::New(env, double(index->Packs().size())));
          return o;
        },
        info.Env().Undefined(), nullptr);
  }

  Napi::Value Backup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "backup(request, onProgress?, cancel?)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto req = std::make_shared<BackupRequest>();
    req->repo = path_;
    req->keys = keys_;
    req->chunkSize = static_cast<uint32_t>(Num(o, "chunkSize"));
    req->level = static_cast<int>(Num(o, "level", 3));
    req->packSize = static_cast<uint64_t>(Num(o, "packSize", 16 << 20));
    if (req->chunkSize < kMinChunkSize || req->chunkSize > kMaxChunkSize || (req->chunkSize & (req->chunkSize - 1)))
      throw Napi::TypeError::New(env, "chunkSize must be a power of two from 4 KiB to 16 MiB");
    // Pack offsets are u32: a pack must end before 4 GiB.
    if (req->packSize < kMinPackSize || req->packSize > kMaxPackSize)
      throw Napi::TypeError::New(env, "packSize must be from 64 KiB to 1 GiB");
    req->source = Str(o, "source");
    req->expectedSize = static_cast<uint64_t>(Num(o, "expectedSize", 0));
    req->threads = static_cast<int>(Num(o, "threads", 0));
    Napi::Value ranges = o.Get("ranges");
    if (ranges.IsArray()) {
      req->useRanges = true;
      req->parentList = Buf(env, o.Get("parentList"), "parentList");
      Napi::Array a = ranges.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value r = a.Get(i);
        if (!r.IsArray() || r.As<Napi::Array>().Length() != 2)
          throw Napi::TypeError::New(env, "ranges must be [offset, length] pairs");
        Napi::Array p = r.As<Napi::Array>();
        req->ranges.emplace_back(static_cast<uint64_t>(p.Get(0u).As<Napi::Number>().DoubleValue()),
                                 static_cast<uint64_t>(p.Get(1u).As<Napi::Number>().DoubleValue()));
      }
    }
    req->index = index_;
    return EngineWorker<BackupResult>::Start(
        env, [req](OpControl& ctl) { return RunBackup(*req, ctl); },
        [](Napi::Env e, BackupResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("list", ToBuffer(e, r.list));
          o.Set("size", Napi::Number::New(e, double(r.size)));
          o.Set("bytesRead", Napi::Number::New(e, double(r.bytesRead)));
          o.Set("bytesNew", Napi::Number::New(e, double(r.bytesNew)));
          o.Set("bytesStored", Napi::Number::New(e, double(r.bytesStored)));
          o.Set("chunks", Napi::Number::New(e, double(r.chunks)));
          o.Set("chunksRead", Napi::Number::New(e, double(r.chunksRead)));
          o.Set("chunksNew", Napi::Number::New(e, double(r.chunksNew)));
          o.Set("chunksZero", Napi::Number::New(e, double(r.chunksZero)));
          o.Set("packs", StrArray(e, r.packs));
          o.Set("indexFile", Napi::String::New(e, r.indexFile));
          o.Set("direct", Napi::Boolean::New(e, r.direct));
          return o;
        },
        info[1], CancelOf(info[2]));
  }

  std::shared_ptr<RestoreRequest> RestoreReq(Napi::Env env, const Napi::Object& o) {
    auto req = std::make_shared<RestoreRequest>();
    req->keys = keys_;
    req->chunkSize = static_cast<uint32_t>(Num(o, "chunkSize"));
    req->list = Buf(env, o.Get("list"), "list");
    req->deviceSize = static_cast<uint64_t>(Num(o, "deviceSize"));
    req->rangeStart = static_cast<uint64_t>(Num(o, "rangeStart", 0));
    req->rangeLen = static_cast<uint64_t>(Num(o, "rangeLength", double(req->deviceSize - req->rangeStart)));
    req->threads = static_cast<int>(Num(o, "threads", 0));
    req->index = index_;
    req->packs = packs_;
    // The chunk size comes from a manifest: bounded before it sizes buffers.
    if (req->chunkSize < kMinChunkSize || req->chunkSize > kMaxChunkSize || (req->chunkSize & (req->chunkSize - 1)))
      throw Napi::TypeError::New(env, "chunkSize must be a power of two from 4 KiB to 16 MiB");
    return req;
  }

  Napi::Value Restore(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "restore(request, onProgress?, cancel?)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto req = RestoreReq(env, o);
    req->target = Str(o, "target");
    req->skipIdentical = Bool(o, "skipIdentical");
    return EngineWorker<RestoreResult>::Start(
        env, [req](OpControl& ctl) { return RunRestore(*req, ctl); },
        [](Napi::Env e, RestoreResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("bytesWritten", Napi::Number::New(e, double(r.bytesWritten)));
          o.Set("bytesSkipped", Napi::Number::New(e, double(r.bytesSkipped)));
          o.Set("blockDevice", Napi::Boolean::New(e, r.blockDevice));
          return o;
        },
        info[1], CancelOf(info[2]));
  }

  Napi::Value ReadRangeJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "readRange(request)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto req = RestoreReq(env, o);
    uint64_t off = static_cast<uint64_t>(Num(o, "offset"));
    uint64_t len = static_cast<uint64_t>(Num(o, "length"));
    if (len > (64u << 20)) throw Napi::TypeError::New(env, "length must be at most 64 MiB");
    return EngineWorker<Bytes>::Start(
        env,
        [req, off, len](OpControl&) {
          Bytes out(len);
          ReadRange(*req, off, len, out.data());
          return out;
        },
        [](Napi::Env e, Bytes& b) -> Napi::Value { return ToBuffer(e, b); }, env.Undefined(),
        nullptr);
  }

  Napi::Value Verify(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto req = std::make_shared<VerifyRequest>();
    req->repo = path_;
    req->keys = keys_;
    req->data = info[0].IsObject() && Bool(info[0].As<Napi::Object>(), "data");
    req->index = index_;
    return EngineWorker<VerifyResult>::Start(
        env, [req](OpControl& ctl) { return RunVerify(*req, ctl); },
        [](Napi::Env e, VerifyResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          Napi::Array problems = Napi::Array::New(e, r.problems.size());
          for (size_t i = 0; i < r.problems.size(); i++) {
            Napi::Object p = Napi::Object::New(e);
            p.Set("kind", r.problems[i].kind);
            p.Set("message", r.problems[i].message);
            if (!r.problems[i].pack.empty()) p.Set("pack", r.problems[i].pack);
            if (!r.problems[i].chunk.empty()) p.Set("chunk", r.problems[i].chunk);
            problems.Set(uint32_t(i), p);
          }
          o.Set("problems", problems);
          o.Set("packs", Napi::Number::New(e, double(r.packs)));
          o.Set("chunks", Napi::Number::New(e, double(r.chunks)));
          return o;
        },
        info[1], CancelOf(info[2]));
  }

  // Ids of `list` (32 bytes each, zero ids ignored) the index does not
  // know, deduplicated.
  Napi::Value MissingChunks(const Napi::CallbackInfo& info) {
    Bytes list = Buf(info.Env(), info[0], "list");
    IdSet seen;
    Bytes out;
    for (size_t at = 0; at + kIdSize <= list.size(); at += kIdSize) {
      ChunkId id;
      std::memcpy(id.data(), list.data() + at, kIdSize);
      if (IsZeroId(id) || index_->Contains(id) || !seen.insert(id).second) continue;
      out.insert(out.end(), id.begin(), id.end());
    }
    return ToBuffer(info.Env(), out);
  }

  static IdSet LiveSet(Napi::Env env, Napi::Value v) {
    if (!v.IsArray()) throw Napi::TypeError::New(env, "live must be an array of chunk lists");
    IdSet live;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value b = a.Get(i);
      if (!b.IsBuffer()) throw Napi::TypeError::New(env, "live must hold Buffers");
      auto buf = b.As<Napi::Buffer<uint8_t>>();
      for (size_t at = 0; at + kIdSize <= buf.Length(); at += kIdSize) {
        ChunkId id;
        std::memcpy(id.data(), buf.Data() + at, kIdSize);
        if (!IsZeroId(id)) live.insert(id);
      }
    }
    return live;
  }

  Napi::Value GcPlan(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    IdSet live = LiveSet(env, info[0]);
    std::vector<PackUsage> usage = PlanGc(*index_, live);
    Napi::Array out = Napi::Array::New(env, usage.size());
    for (size_t i = 0; i < usage.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("id", usage[i].id);
      o.Set("size", Napi::Number::New(env, double(usage[i].size)));
      o.Set("chunks", Napi::Number::New(env, double(usage[i].chunks)));
      o.Set("liveChunks", Napi::Number::New(env, double(usage[i].liveChunks)));
      o.Set("storedBytes", Napi::Number::New(env, double(usage[i].storedBytes)));
      o.Set("liveBytes", Napi::Number::New(env, double(usage[i].liveBytes)));
      out.Set(uint32_t(i), o);
    }
    return out;
  }

  Napi::Value Compact(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "compact(request, onProgress?, cancel?)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto req = std::make_shared<CompactRequest>();
    req->repo = path_;
    req->keys = keys_;
    req->packSize = static_cast<uint64_t>(Num(o, "packSize", 16 << 20));
    if (req->packSize < kMinPackSize || req->packSize > kMaxPackSize)
      throw Napi::TypeError::New(env, "packSize must be from 64 KiB to 1 GiB");
    req->live = LiveSet(env, o.Get("live"));
    req->rewrite = Strings(env, o.Get("rewrite"));
    req->drop = Strings(env, o.Get("drop"));
    req->index = index_;
    return EngineWorker<CompactResult>::Start(
        env, [req](OpControl& ctl) { return RunCompact(*req, ctl); },
        [](Napi::Env e, CompactResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("indexFile", r.indexFile);
          o.Set("newPacks", StrArray(e, r.newPacks));
          o.Set("copiedBytes", Napi::Number::New(e, double(r.copiedBytes)));
          return o;
        },
        info[1], CancelOf(info[2]));
  }

  Napi::Value Rebuild(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<std::string> packs = Strings(env, info[0]);
    std::string repo = path_;
    RepoKeys keys = keys_;
    using Out = std::pair<std::string, std::vector<std::string>>;
    return EngineWorker<Out>::Start(
        env,
        [repo, keys, packs](OpControl&) {
          Out out;
          out.first = RebuildIndex(repo, keys, packs, out.second);
          return out;
        },
        [](Napi::Env e, Out& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("indexFile", r.first);
          o.Set("badPacks", StrArray(e, r.second));
          return o;
        },
        env.Undefined(), nullptr);
  }

  Napi::Value Locate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "locate(chunkIdHex)");
    ChunkId id = IdFromHex(env, info[0].As<Napi::String>().Utf8Value());
    ChunkLocation loc;
    PackRecord pack;
    if (!index_->Lookup(id, &loc, &pack)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("pack", pack.id);
    o.Set("offset", Napi::Number::New(env, loc.offset));
    o.Set("storedLength", Napi::Number::New(env, loc.storedLen));
    o.Set("rawLength", Napi::Number::New(env, loc.rawLen));
    o.Set("compressed", Napi::Boolean::New(env, (loc.flags & kFlagCompressed) != 0));
    return o;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto packs = index_->Packs();
    double bytes = 0;
    for (const auto& p : packs) bytes += double(p.size);
    o.Set("chunks", Napi::Number::New(env, double(index_->ChunkCount())));
    o.Set("packs", Napi::Number::New(env, double(packs.size())));
    o.Set("packBytes", Napi::Number::New(env, bytes));
    Napi::Array ids = Napi::Array::New(env, packs.size());
    for (size_t i = 0; i < packs.size(); i++) ids.Set(uint32_t(i), packs[i].id);
    o.Set("packIds", ids);
    return o;
  }

  Napi::Value CloseFiles(const Napi::CallbackInfo& info) {
    packs_->CloseAll();
    return info.Env().Undefined();
  }

  static Napi::Array StrArray(Napi::Env env, const std::vector<std::string>& v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); i++) a.Set(uint32_t(i), v[i]);
    return a;
  }

  static std::vector<std::string> Strings(Napi::Env env, Napi::Value v) {
    std::vector<std::string> out;
    if (v.IsUndefined()) return out;
    if (!v.IsArray()) throw Napi::TypeError::New(env, "expected an array of strings");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value s = a.Get(i);
      if (!s.IsString()) throw Napi::TypeError::New(env, "expected an array of strings");
      out.push_back(s.As<Napi::String>().Utf8Value());
    }
    return out;
  }

  std::string path_;
  RepoKeys keys_;
  std::shared_ptr<ChunkIndex> index_;
  std::shared_ptr<PackReader> packs_;
};

}  // namespace

void InitEngine(Napi::Env env, Napi::Object exports) {
  Napi::Object engine = Napi::Object::New(env);
  Napi::Function cancel = CancelToken::Define(env);
  gCancelCtor = new Napi::FunctionReference(Napi::Persistent(cancel));
  engine.Set("CancelToken", cancel);
  engine.Set("NativeRepo", NativeRepo::Define(env));
  engine.Set("deriveKey", Napi::Function::New(env, DeriveKeyJs));
  engine.Set("aeadSeal", Napi::Function::New(env, AeadSealJs));
  engine.Set("aeadOpen", Napi::Function::New(env, AeadOpenJs));
  engine.Set("saltBytes", Napi::Number::New(env, crypto_pwhash_SALTBYTES));
  InitRepoFs(env, engine);
  exports.Set("engine", engine);
}

}  // namespace snapkeep::engine
