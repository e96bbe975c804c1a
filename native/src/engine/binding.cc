#include "binding.h"

#include <sodium.h>

#include <cstring>
#include <future>
#include <memory>

#include "chunk_index.h"
#include "chunk_list.h"
#include "flat_map.h"
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
    return DefineClass(env, "CancelToken",
                       {InstanceMethod("cancel", &CancelToken::Cancel),
                        // Read by waits on the JS side (the remote working copy's lock).
                        InstanceAccessor("cancelled", &CancelToken::Cancelled, nullptr)});
  }
  explicit CancelToken(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<CancelToken>(info), flag_(std::make_shared<std::atomic<bool>>(false)) {}
  CancelFlag flag() const { return flag_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    flag_->store(true);
    return info.Env().Undefined();
  }
  Napi::Value Cancelled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), flag_->load()); }
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

// ---- sealed boxes (append-only repositories: docs/append-only-design.md) ----

// The bytes of a Buffer argument of exactly `size` bytes, not copied (the
// call is synchronous): keys come from repository files, so hostile.
const uint8_t* FixedBuf(Napi::Env env, Napi::Value v, const char* what, size_t size) {
  if (!v.IsBuffer() || v.As<Napi::Buffer<uint8_t>>().Length() != size)
    throw Napi::TypeError::New(env, std::string(what) + " must be a Buffer of " +
                                        std::to_string(size) + " bytes");
  return v.As<Napi::Buffer<uint8_t>>().Data();
}

// The owner's key pair, made at init; the secret key leaves here only to
// be wrapped under the owner's passphrase.
Napi::Value BoxKeypairJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t pk[kBoxPublicKeySize], sk[kBoxSecretKeySize];
  BoxKeypair(pk, sk);
  Napi::Object out = Napi::Object::New(env);
  out.Set("publicKey", Napi::Buffer<uint8_t>::Copy(env, pk, sizeof pk));
  out.Set("secretKey", Napi::Buffer<uint8_t>::Copy(env, sk, sizeof sk));
  sodium_memzero(sk, sizeof sk);
  return out;
}

Napi::Value SealKeyJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* pk = FixedBuf(env, info[0], "publicKey", kBoxPublicKeySize);
  const uint8_t* key = FixedBuf(env, info[1], "key", kKeySize);
  uint8_t sealed[kSealedKeySize];
  if (!SealKey(pk, key, sealed))
    throw ToJsError(env, Corrupt("the repository's public key is not a usable X25519 key (low order): "
                                 "damaged or forged"));
  return Napi::Buffer<uint8_t>::Copy(env, sealed, sizeof sealed);
}

// A seal that does not open is damage (or a seal meant for another
// repository's key pair), never a wrong passphrase: the pair given is the
// one the owner's passphrase unlocked.
Napi::Value OpenSealedKeyJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* pk = FixedBuf(env, info[0], "publicKey", kBoxPublicKeySize);
  const uint8_t* sk = FixedBuf(env, info[1], "secretKey", kBoxSecretKeySize);
  const uint8_t* sealed = FixedBuf(env, info[2], "sealed", kSealedKeySize);
  uint8_t key[kKeySize];
  if (!OpenSealedKey(pk, sk, sealed, key))
    throw ToJsError(env, Corrupt("sealed key does not open with the repository's key pair: "
                                 "damaged, or sealed to another key pair"));
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, key, sizeof key);
  sodium_memzero(key, sizeof key);
  return out;
}

Napi::Value BenchPrimitiveJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "benchPrimitive(name, bytes, rounds)");
  int64_t len = info[1].As<Napi::Number>().Int64Value();
  int64_t rounds = info[2].As<Napi::Number>().Int64Value();
  if (len < 1 || len > (int64_t{64} << 20) || rounds < 1 || rounds > 1000000)
    throw Napi::RangeError::New(env, "bytes must be 1..64 MiB and rounds 1..1e6");
  int64_t ns = BenchPrimitive(info[0].As<Napi::String>().Utf8Value(), static_cast<size_t>(len),
                              static_cast<uint32_t>(rounds));
  return Napi::Number::New(env, static_cast<double>(ns));
}

// ---- packs fetched by JavaScript (a remote repository's read cache) ----

// The PackFetcher of a NativeRepo opened with `fetchPack`: a worker that
// meets a pack missing from the working copy calls the JS function
// (id) => Promise<boolean> on the JS thread and waits for it. The promise
// resolves true when the pack is there, anything else when the store does
// not have it; a rejection becomes the worker's EngineError (its `code`,
// or IO_ERROR).
// Only worker threads call Fetch: on the JS thread it would wait forever.
class JsPackFetcher : public PackFetcher {
 public:
  JsPackFetcher(Napi::Env env, const Napi::Function& fn) {
    tsfn_ = Napi::ThreadSafeFunction::New(env, fn, "snapkeep-fetch-pack", 0, 1);
    // Never keeps the process alive by itself: operations hold their own.
    tsfn_.Unref(env);
  }
  ~JsPackFetcher() override { tsfn_.Release(); }

  bool Fetch(const std::string& packId) override {
    auto call = std::make_shared<Call>();
    call->id = packId;
    std::future<bool> result = call->done.get_future();
    auto* arg = new std::shared_ptr<Call>(call);
    if (tsfn_.BlockingCall(arg, &JsPackFetcher::OnJsThread) != napi_ok) {
      delete arg;
      throw EngineError("INTERNAL", "pack " + packId + " is not here and can no longer be fetched");
    }
    return result.get();
  }

 private:
  struct Call {
    std::string id;
    std::promise<bool> done;
  };

  static void Fail(const std::shared_ptr<Call>& call, const std::string& code, const std::string& message) {
    EngineError e(code, message);
    e.pack = call->id;
    call->done.set_exception(std::make_exception_ptr(e));
  }

  static void OnJsThread(Napi::Env env, Napi::Function fn, std::shared_ptr<Call>* arg) {
    std::shared_ptr<Call> call = *arg;
    delete arg;
    try {
      Napi::Value r = fn.Call({Napi::String::New(env, call->id)});
      if (!r.IsPromise()) return Fail(call, "INTERNAL", "fetchPack must return a Promise");
      Napi::Object promise = r.As<Napi::Object>();
      Napi::Function ok = Napi::Function::New(env, [call](const Napi::CallbackInfo& info) {
        call->done.set_value(info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value());
      });
      Napi::Function bad = Napi::Function::New(env, [call](const Napi::CallbackInfo& info) {
        std::string code = "IO_ERROR", message = "pack " + call->id + " could not be fetched";
        if (info[0].IsObject()) {
          Napi::Object e = info[0].As<Napi::Object>();
          if (e.Get("code").IsString()) code = e.Get("code").As<Napi::String>().Utf8Value();
          if (e.Get("message").IsString()) message = e.Get("message").As<Napi::String>().Utf8Value();
        }
        Fail(call, code, message);
      });
      promise.Get("then").As<Napi::Function>().Call(promise, {ok, bad});
    } catch (const Napi::Error& e) {
      Fail(call, "INTERNAL", e.Message());
    }
  }

  Napi::ThreadSafeFunction tsfn_;
};

// ---- chunk lists held natively (point readers, restore, prune, verify) ----

class NativeList : public Napi::ObjectWrap<NativeList> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeList",
                       {InstanceAccessor("chunks", &NativeList::ChunksJs, nullptr),
                        InstanceAccessor("segments", &NativeList::SegmentsJs, nullptr),
                        InstanceMethod("segmentIds", &NativeList::SegmentIdsJs)});
  }
  explicit NativeList(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeList>(info) {}
  std::shared_ptr<ChunkListSource> source;

 private:
  Napi::Value ChunksJs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), source ? double(source->Chunks()) : 0);
  }
  Napi::Value SegmentsJs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), source ? double(source->Segments().size()) : 0);
  }
  Napi::Value SegmentIdsJs(const Napi::CallbackInfo& info) {
    Bytes out;
    if (source)
      for (const ChunkId& s : source->Segments()) out.insert(out.end(), s.begin(), s.end());
    return ToBuffer(info.Env(), out);
  }
};

Napi::FunctionReference* gListCtor = nullptr;

Napi::Object WrapList(Napi::Env env, std::shared_ptr<ChunkListSource> src) {
  Napi::Object o = gListCtor->New({});
  NativeList::Unwrap(o)->source = std::move(src);
  return o;
}

// A NativeList, or a Buffer of ids (the whole list, small callers).
std::shared_ptr<ChunkListSource> ListOf(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsBuffer()) return std::make_shared<ChunkListSource>(Buf(env, v, what));
  if (v.IsObject() && gListCtor && v.As<Napi::Object>().InstanceOf(gListCtor->Value())) {
    auto src = NativeList::Unwrap(v.As<Napi::Object>())->source;
    if (src) return src;
  }
  throw Napi::TypeError::New(env, std::string(what) + " must be a chunk list (NativeList or Buffer)");
}

std::vector<std::shared_ptr<ChunkListSource>> Lists(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an array of chunk lists");
  std::vector<std::shared_ptr<ChunkListSource>> out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ListOf(env, a.Get(i), what));
  return out;
}

std::vector<ChunkId> IdsOf(Napi::Env env, Napi::Value v, const char* what) {
  std::vector<ChunkId> out;
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<uint8_t>>();
    if (b.Length() % kIdSize) throw Napi::TypeError::New(env, std::string(what) + " must be whole 32-byte ids");
    out.resize(b.Length() / kIdSize);
    for (size_t i = 0; i < out.size(); i++) std::memcpy(out[i].data(), b.Data() + i * kIdSize, kIdSize);
    return out;
  }
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be ids (Buffer or hex strings)");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value s = a.Get(i);
    if (!s.IsString()) throw Napi::TypeError::New(env, std::string(what) + " must be hex strings");
    out.push_back(IdFromHex(env, s.As<Napi::String>().Utf8Value()));
  }
  return out;
}

Napi::Buffer<uint8_t> IdsBuffer(Napi::Env env, const std::vector<ChunkId>& ids) {
  Bytes out;
  out.reserve(ids.size() * kIdSize);
  for (const ChunkId& s : ids) out.insert(out.end(), s.begin(), s.end());
  return ToBuffer(env, out);
}

Napi::Array StrArray(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(uint32_t(i), v[i]);
  return a;
}

std::vector<std::string> Strings(Napi::Env env, Napi::Value v) {
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

Napi::Object UsageJs(Napi::Env env, const PackUsage& u) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", u.id);
  o.Set("size", Napi::Number::New(env, double(u.size)));
  o.Set("chunks", Napi::Number::New(env, double(u.chunks)));
  o.Set("liveChunks", Napi::Number::New(env, double(u.liveChunks)));
  o.Set("storedBytes", Napi::Number::New(env, double(u.storedBytes)));
  o.Set("liveBytes", Napi::Number::New(env, double(u.liveBytes)));
  return o;
}

// ---- prune's live set ----

class NativeMark : public Napi::ObjectWrap<NativeMark> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeMark",
                       {InstanceMethod("add", &NativeMark::AddJs), InstanceMethod("plan", &NativeMark::PlanJs)});
  }
  explicit NativeMark(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMark>(info) {}
  std::shared_ptr<GcMark> mark;

 private:
  Napi::Value AddJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto lists = Lists(env, info[0], "lists");
    auto mark = this->mark;
    struct Out {
      Bytes missing, objects;
      uint64_t marked, segmentsRead;
    };
    return EngineWorker<Out>::Start(
        env,
        [mark, lists](OpControl& ctl) {
          mark->Add(lists, ctl);
          return Out{mark->missing, mark->objects, mark->marked, mark->segmentsRead};
        },
        [](Napi::Env e, Out& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("missing", ToBuffer(e, r.missing));
          o.Set("objects", ToBuffer(e, r.objects));
          o.Set("marked", Napi::Number::New(e, double(r.marked)));
          o.Set("segmentsRead", Napi::Number::New(e, double(r.segmentsRead)));
          return o;
        },
        info[1], CancelOf(info[2]));
  }
  Napi::Value PlanJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    GcPlanOptions opts;
    if (info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      opts.repackBelow = Num(o, "repackBelow", 0.5);
      opts.maxRepackBytes = static_cast<uint64_t>(Num(o, "maxRepackBytes", 0));
    }
    auto mark = this->mark;
    return EngineWorker<GcPlanResult>::Start(
        env, [mark, opts](OpControl&) { return PlanGc(*mark, opts); },
        [](Napi::Env e, GcPlanResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          Napi::Array drop = Napi::Array::New(e, r.drop.size());
          for (size_t i = 0; i < r.drop.size(); i++) drop.Set(uint32_t(i), UsageJs(e, r.drop[i]));
          Napi::Array rewrite = Napi::Array::New(e, r.rewrite.size());
          for (size_t i = 0; i < r.rewrite.size(); i++) rewrite.Set(uint32_t(i), UsageJs(e, r.rewrite[i]));
          o.Set("drop", drop);
          o.Set("rewrite", rewrite);
          o.Set("deferredPacks", Napi::Number::New(e, double(r.deferredPacks)));
          o.Set("packs", Napi::Number::New(e, double(r.packs)));
          o.Set("storedBytes", Napi::Number::New(e, double(r.storedBytes)));
          o.Set("liveBytes", Napi::Number::New(e, double(r.liveBytes)));
          return o;
        },
        env.Undefined(), nullptr);
  }
};

Napi::FunctionReference* gMarkCtor = nullptr;

// ---- verify's side of the points ----

class NativeListChecker : public Napi::ObjectWrap<NativeListChecker> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeListChecker", {InstanceMethod("check", &NativeListChecker::CheckJs)});
  }
  explicit NativeListChecker(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeListChecker>(info) {}
  std::shared_ptr<ListChecker> checker;

 private:
  Napi::Value CheckJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto list = ListOf(env, info[0], "list");
    auto checker = this->checker;
    return EngineWorker<ListChecker::Verdict>::Start(
        env, [checker, list](OpControl& ctl) { return checker->Check(*list, ctl); },
        [](Napi::Env e, ListChecker::Verdict& v) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("missing", ToBuffer(e, v.missing));
          o.Set("badChunks", ToBuffer(e, v.badChunks));
          o.Set("badPacks", StrArray(e, v.badPacks));
          if (!v.error.empty()) o.Set("error", v.error);
          if (!v.errorSegment.empty()) o.Set("errorSegment", v.errorSegment);
          return o;
        },
        info[1], CancelOf(info[2]));
  }
};

Napi::FunctionReference* gCheckerCtor = nullptr;

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
                           InstanceMethod("probeResume", &NativeRepo::ProbeResumeJs),
                           InstanceMethod("readRange", &NativeRepo::ReadRangeJs),
                           InstanceMethod("openList", &NativeRepo::OpenList),
                           InstanceMethod("writeListRoot", &NativeRepo::WriteRoot),
                           InstanceMethod("readWholeList", &NativeRepo::ReadWholeList),
                           InstanceMethod("verify", &NativeRepo::Verify),
                           InstanceMethod("createListChecker", &NativeRepo::CreateChecker),
                           InstanceMethod("missingChunks", &NativeRepo::MissingChunks),
                           InstanceMethod("createMark", &NativeRepo::CreateMark),
                           InstanceMethod("compact", &NativeRepo::Compact),
                           InstanceMethod("writeRemovalRecord", &NativeRepo::RemovalRecord),
                           InstanceMethod("writeConsolidatedIndex", &NativeRepo::Consolidate),
                           InstanceMethod("rebuildIndex", &NativeRepo::Rebuild),
                           InstanceMethod("unindexedPacks", &NativeRepo::Unindexed),
                           InstanceMethod("locate", &NativeRepo::Locate),
                           InstanceMethod("stats", &NativeRepo::Stats),
                           InstanceMethod("closeFiles", &NativeRepo::CloseFiles),
                       });
  }

  explicit NativeRepo(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRepo>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject())
      throw Napi::TypeError::New(env, "NativeRepo({ path, idKey, encKey? | metaKey + publicKey + secretKeys?, version?, cacheDir? })");
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
    // The config's algorithm names (config.ts has checked them already;
    // checked again here, as every argument is): absent = the classic set.
    Napi::Value idAlg = o.Get("chunkIdAlg");
    if (!idAlg.IsUndefined() &&
        (!idAlg.IsString() || !ParseIdAlg(idAlg.As<Napi::String>().Utf8Value(), &keys_.idAlg)))
      throw Napi::TypeError::New(env, "chunkIdAlg must be \"blake2b-keyed\" or \"hmac-sha256\"");
    Napi::Value aead = o.Get("aead");
    if (!aead.IsUndefined() &&
        (!aead.IsString() || !ParseAeadAlg(aead.As<Napi::String>().Utf8Value(), &keys_.aead)))
      throw Napi::TypeError::New(env, "aead must be \"xchacha20poly1305\" or \"aes256gcm\"");
    version_ = static_cast<int>(Num(o, "version", 1));
    if (version_ < 1 || version_ > 3) throw Napi::TypeError::New(env, "version must be 1, 2 or 3");
    AppendOnlyKeys(env, o);
    Napi::Value cache = o.Get("cacheDir");
    if (cache.IsString()) cacheDir_ = cache.As<Napi::String>().Utf8Value();
    Napi::Value fetch = o.Get("fetchPack");
    if (!fetch.IsUndefined()) {
      if (!fetch.IsFunction()) throw Napi::TypeError::New(env, "fetchPack must be a function");
      fetcher_ = std::make_shared<JsPackFetcher>(env, fetch.As<Napi::Function>());
    }
    index_ = std::make_shared<ChunkIndex>();
    packs_ = std::make_shared<PackReader>(path_, keys_, fetcher_);
  }

  ~NativeRepo() override { keys_.Wipe(); }

 private:
  // Format 3 (layout 2, docs/append-only-design.md): metaKey and publicKey
  // instead of encKey, and the owner's secretKeys (current first). Options
  // that contradict each other are a caller's bug: TypeError.
  void AppendOnlyKeys(Napi::Env env, const Napi::Object& o) {
    auto given = [&](const char* key) {
      Napi::Value v = o.Get(key);
      return !v.IsUndefined() && !v.IsNull();
    };
    const bool layout2 = given("publicKey");
    if (!layout2) {
      if (given("metaKey") || given("secretKeys"))
        throw Napi::TypeError::New(env, "metaKey and secretKeys go with publicKey (format 3)");
      if (version_ == 3) throw Napi::TypeError::New(env, "format 3 needs metaKey and publicKey");
      return;
    }
    if (version_ != 3) throw Napi::TypeError::New(env, "publicKey is for format 3 (version: 3)");
    if (keys_.encrypted) throw Napi::TypeError::New(env, "format 3 has no encKey: its blobs are under session keys");
    if (!given("metaKey")) throw Napi::TypeError::New(env, "format 3 needs metaKey with publicKey");
    std::memcpy(keys_.meta, FixedBuf(env, o.Get("metaKey"), "metaKey", kKeySize), kKeySize);
    std::memcpy(keys_.pk, FixedBuf(env, o.Get("publicKey"), "publicKey", kBoxPublicKeySize), kBoxPublicKeySize);
    keys_.layout = 2;
    keys_.encrypted = true;
    if (!given("secretKeys")) return;
    Napi::Value sv = o.Get("secretKeys");
    if (!sv.IsArray()) throw Napi::TypeError::New(env, "secretKeys must be an array of Buffers");
    Napi::Array a = sv.As<Napi::Array>();
    if (a.Length() == 0) return;  // none: an append-only client
    std::vector<Bytes> secrets;
    for (uint32_t i = 0; i < a.Length(); i++) {
      const uint8_t* sk = FixedBuf(env, a.Get(i), "secretKeys[i]", kBoxSecretKeySize);
      secrets.emplace_back(sk, sk + kBoxSecretKeySize);
    }
    auto owner = std::make_shared<const OwnerKeys>(secrets);
    for (Bytes& b : secrets) sodium_memzero(b.data(), b.size());
    if (std::memcmp(owner->Pairs()[0].pk, keys_.pk, kBoxPublicKeySize) != 0)
      throw Napi::TypeError::New(env, "secretKeys[0] must be the secret key of publicKey (the current pair)");
    keys_.owner = std::move(owner);
  }

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
    std::string repo = path_, cacheDir = cacheDir_;
    RepoKeys keys = keys_;
    auto index = index_;
    return EngineWorker<IndexLoad>::Start(
        info.Env(), [repo, keys, cacheDir, index](OpControl&) { return LoadIndexDir(repo, keys, cacheDir, *index); },
        [index](Napi::Env env, IndexLoad& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("files", StrArray(env, r.files));
          o.Set("badFiles", StrArray(env, r.badFiles));
          o.Set("loaded", Napi::Number::New(env, double(r.loaded)));
          o.Set("chunks", Napi::Number::New(env, double(index->ChunkCount())));
          o.Set("packs", Napi::Number::New(env, double(index->Packs().size())));
          return o;
        },
        info.Env().Undefined(), nullptr);
  }

  // [[offset, length], ...] of non-negative numbers.
  static std::vector<std::pair<uint64_t, uint64_t>> RangePairs(Napi::Env env, Napi::Value v, const char* what) {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value r = a.Get(i);
      if (!r.IsArray() || r.As<Napi::Array>().Length() != 2)
        throw Napi::TypeError::New(env, std::string(what) + " must be [offset, length] pairs");
      Napi::Array p = r.As<Napi::Array>();
      Napi::Value off = p.Get(0u), len = p.Get(1u);
      if (!off.IsNumber() || !len.IsNumber() || !(off.As<Napi::Number>().DoubleValue() >= 0) ||
          !(len.As<Napi::Number>().DoubleValue() >= 0))
        throw Napi::TypeError::New(env, std::string(what) + " must be non-negative numbers");
      out.emplace_back(static_cast<uint64_t>(off.As<Napi::Number>().DoubleValue()),
                       static_cast<uint64_t>(len.As<Napi::Number>().DoubleValue()));
    }
    return out;
  }

  Napi::Value Backup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "backup(request, onProgress?, cancel?)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto req = std::make_shared<BackupRequest>();
    req->repo = path_;
    req->keys = keys_;
    req->version = version_;
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
    req->writeSegments = Bool(o, "writeSegments");
    req->writeRoot = Bool(o, "writeRoot");
    const double spool = Num(o, "spoolPacks", 0);
    if (spool < 0 || spool > 1024) throw Napi::TypeError::New(env, "spoolPacks must be from 0 to 1024");
    req->spoolPacks = static_cast<uint32_t>(spool);
    if (req->writeRoot && !req->writeSegments) throw Napi::TypeError::New(env, "writeRoot needs writeSegments");
    Napi::Value ranges = o.Get("ranges");
    if (ranges.IsArray()) {
      req->useRanges = true;
      Napi::Value parent = o.Get("parent");
      req->parent = ListOf(env, parent.IsUndefined() ? o.Get("parentList") : parent, "parent");
      req->ranges = RangePairs(env, ranges, "ranges");
    }
    Napi::Value used = o.Get("usedRanges");
    if (used.IsArray()) {
      if (req->useRanges) throw Napi::TypeError::New(env, "usedRanges is for full backups (not with ranges)");
      req->useUsed = true;
      req->used = RangePairs(env, used, "usedRanges");
    }
    req->index = index_;
    return EngineWorker<BackupResult>::Start(
        env, [req](OpControl& ctl) { return RunBackup(*req, ctl); },
        [req](Napi::Env e, BackupResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("list", ToBuffer(e, r.list));  // empty with writeSegments
          o.Set("segments", IdsBuffer(e, r.segments));
          if (r.hasRoot) o.Set("root", Hex(r.root));
          o.Set("segmentsWritten", Napi::Number::New(e, double(r.segmentsWritten)));
          o.Set("chunksRepaired", Napi::Number::New(e, double(r.chunksRepaired)));
          o.Set("size", Napi::Number::New(e, double(r.size)));
          o.Set("bytesRead", Napi::Number::New(e, double(r.bytesRead)));
          o.Set("bytesUnused", Napi::Number::New(e, double(r.bytesUnused)));
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
    req->list = ListOf(env, o.Get("list"), "list");
    req->deviceSize = static_cast<uint64_t>(Num(o, "deviceSize"));
    req->rangeStart = static_cast<uint64_t>(Num(o, "rangeStart", 0));
    if (req->rangeStart > req->deviceSize) throw Napi::TypeError::New(env, "rangeStart is beyond the device");
    req->rangeLen = static_cast<uint64_t>(Num(o, "rangeLength", double(req->deviceSize - req->rangeStart)));
    req->threads = static_cast<int>(Num(o, "threads", 0));
    req->index = index_;
    req->packs = packs_;
    // The chunk size comes from a manifest: bounded before it sizes buffers.
    if (req->chunkSize < kMinChunkSize || req->chunkSize > kMaxChunkSize || (req->chunkSize & (req->chunkSize - 1)))
      throw Napi::TypeError::New(env, "chunkSize must be a power of two from 4 KiB to 16 MiB");
    return req;
  }

  // The progress record of a resumable restore and the key tying it to one.
  static void ResumeArgs(Napi::Env env, const Napi::Object& o, RestoreRequest& req) {
    req.resumeFile = Str(o, "resumeFile");
    req.resumeKey = Str(o, "resumeKey");
    if (req.resumeFile.empty() || req.resumeFile[0] != '/')
      throw Napi::TypeError::New(env, "resumeFile must be an absolute path");
  }

  Napi::Value Restore(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "restore(request, onProgress?, cancel?)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto req = RestoreReq(env, o);
    req->target = Str(o, "target");
    req->skipIdentical = Bool(o, "skipIdentical");
    if (o.Has("targetOffset")) {
      req->placed = true;
      req->targetOffset = static_cast<uint64_t>(Num(o, "targetOffset"));
      req->targetZeroed = Bool(o, "targetZeroed");
      if (o.Has("resumeFile")) throw Napi::TypeError::New(env, "targetOffset and resumeFile do not go together");
    }
    if (o.Has("resumeFile")) {
      ResumeArgs(env, o, *req);
      req->resumeEveryBytes = static_cast<uint64_t>(Num(o, "resumeEveryBytes", 0));
    }
    return EngineWorker<RestoreResult>::Start(
        env, [req](OpControl& ctl) { return RunRestore(*req, ctl); },
        [](Napi::Env e, RestoreResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("bytesWritten", Napi::Number::New(e, double(r.bytesWritten)));
          o.Set("bytesSkipped", Napi::Number::New(e, double(r.bytesSkipped)));
          o.Set("bytesResumed", Napi::Number::New(e, double(r.bytesResumed)));
          if (!r.resumeIgnored.empty()) o.Set("resumeIgnored", Napi::String::New(e, r.resumeIgnored));
          o.Set("blockDevice", Napi::Boolean::New(e, r.blockDevice));
          return o;
        },
        info[1], CancelOf(info[2]));
  }

  // What a restore would resume (pipeline_restore.h ProbeResume): asked
  // before the user confirms, so the wizard can say it.
  Napi::Value ProbeResumeJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "probeResume(request)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto req = RestoreReq(env, o);
    req->target = Str(o, "target");
    ResumeArgs(env, o, *req);
    return EngineWorker<ResumeProbe>::Start(
        env, [req](OpControl&) { return ProbeResume(*req); },
        [](Napi::Env e, ResumeProbe& p) -> Napi::Value {
          Napi::Object out = Napi::Object::New(e);
          out.Set("bytes", Napi::Number::New(e, double(p.bytes)));
          if (!p.ignored.empty()) out.Set("ignored", Napi::String::New(e, p.ignored));
          return out;
        },
        env.Undefined(), nullptr);
  }

  // Random access for the NBD export and file restore. `list` is held
  // natively (a NativeList): nothing is copied per read.
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

  // openList({ root } | { segments }, chunks): a device's list, read lazily.
  Napi::Value OpenList(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[1].IsNumber()) throw Napi::TypeError::New(env, "openList({ root } | { segments }, chunks)");
    Napi::Object o = info[0].As<Napi::Object>();
    double n = info[1].As<Napi::Number>().DoubleValue();
    if (n < 0 || n > double(kMaxListChunks)) throw Napi::TypeError::New(env, "chunks out of range");
    uint64_t chunks = static_cast<uint64_t>(n);
    std::string repo = path_;
    RepoKeys keys = keys_;
    Napi::Value root = o.Get("root");
    bool hasRoot = root.IsString();
    ChunkId rootId{};
    std::vector<ChunkId> segments;
    if (hasRoot)
      rootId = IdFromHex(env, root.As<Napi::String>().Utf8Value());
    else
      segments = IdsOf(env, o.Get("segments"), "segments");
    return EngineWorker<std::shared_ptr<ChunkListSource>>::Start(
        env,
        [repo, keys, hasRoot, rootId, segments, chunks](OpControl&) {
          std::vector<ChunkId> segs = segments;
          if (hasRoot) {
            uint64_t inRoot = 0;
            ReadListRoot(repo, keys, rootId, &inRoot, segs);
            if (inRoot != chunks) {
              EngineError e = Corrupt("list root " + Hex(rootId) + " has " + std::to_string(inRoot) +
                                      " chunks, the manifest says " + std::to_string(chunks));
              e.path = Hex(rootId);
              throw e;
            }
          }
          return std::make_shared<ChunkListSource>(repo, keys, std::move(segs), chunks, hasRoot ? &rootId : nullptr);
        },
        [](Napi::Env e, std::shared_ptr<ChunkListSource>& src) -> Napi::Value { return WrapList(e, src); },
        env.Undefined(), nullptr);
  }

  Napi::Value WriteRoot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<ChunkId> segments = IdsOf(env, info[0], "segments");
    if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "writeListRoot(segments, chunks)");
    uint64_t chunks = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
    if (segments.size() != (chunks + kSegmentEntries - 1) / kSegmentEntries)
      throw Napi::TypeError::New(env, "segment count does not match the chunk count");
    std::string repo = path_;
    RepoKeys keys = keys_;
    return EngineWorker<ChunkId>::Start(
        env, [repo, keys, segments, chunks](OpControl&) { return WriteListRoot(repo, keys, chunks, segments); },
        [](Napi::Env e, ChunkId& id) -> Napi::Value { return Napi::String::New(e, Hex(id)); }, env.Undefined(),
        nullptr);
  }

  // Every id of a list in one Buffer (32 bytes per chunk): for small lists
  // and tests; large lists are read a segment at a time.
  Napi::Value ReadWholeList(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto list = ListOf(env, info[0], "list");
    if (list->Chunks() > (uint64_t(1) << 25)) throw Napi::TypeError::New(env, "the list is too long to read whole");
    return EngineWorker<Bytes>::Start(
        env,
        [list](OpControl&) {
          Bytes out;
          out.reserve(list->Chunks() * kIdSize);
          for (uint64_t k = 0; k * kSegmentEntries < list->Chunks(); k++) {
            auto seg = list->Segment(k);
            out.insert(out.end(), seg->begin(), seg->end());
          }
          return out;
        },
        [](Napi::Env e, Bytes& b) -> Napi::Value { return ToBuffer(e, b); }, env.Undefined(), nullptr);
  }

  Napi::Value Verify(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto req = std::make_shared<VerifyRequest>();
    req->repo = path_;
    req->keys = keys_;
    req->data = info[0].IsObject() && Bool(info[0].As<Napi::Object>(), "data");
    req->index = index_;
    req->fetcher = fetcher_;
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

  Napi::Value CreateChecker(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes bad;
    std::vector<std::string> badPacks;
    if (info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      if (o.Get("badChunks").IsBuffer()) bad = Buf(env, o.Get("badChunks"), "badChunks");
      badPacks = Strings(env, o.Get("badPacks"));
    }
    Napi::Object obj = gCheckerCtor->New({});
    NativeListChecker::Unwrap(obj)->checker = std::make_shared<ListChecker>(index_, bad, badPacks);
    return obj;
  }

  // Ids of `list` (32 bytes each, zero ids ignored) the index does not
  // know, deduplicated.
  Napi::Value MissingChunks(const Napi::CallbackInfo& info) {
    Bytes list = Buf(info.Env(), info[0], "list");
    FlatSet<kIdSize> seen;
    Bytes out;
    for (size_t at = 0; at + kIdSize <= list.size(); at += kIdSize) {
      ChunkId id;
      std::memcpy(id.data(), list.data() + at, kIdSize);
      if (IsZeroId(id) || index_->Contains(id) || !seen.Insert(id, Unit{}).second) continue;
      out.insert(out.end(), id.begin(), id.end());
    }
    return ToBuffer(info.Env(), out);
  }

  Napi::Value CreateMark(const Napi::CallbackInfo& info) {
    Napi::Object obj = gMarkCtor->New({});
    NativeMark::Unwrap(obj)->mark = std::make_shared<GcMark>(index_);
    return obj;
  }

  Napi::Value Compact(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "compact(request, onProgress?, cancel?)");
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Value m = o.Get("mark");
    if (!m.IsObject() || !m.As<Napi::Object>().InstanceOf(gMarkCtor->Value()))
      throw Napi::TypeError::New(env, "compact needs the mark of this prune");
    auto req = std::make_shared<CompactRequest>();
    req->repo = path_;
    req->keys = keys_;
    req->version = version_;
    req->packSize = static_cast<uint64_t>(Num(o, "packSize", 16 << 20));
    if (req->packSize < kMinPackSize || req->packSize > kMaxPackSize)
      throw Napi::TypeError::New(env, "packSize must be from 64 KiB to 1 GiB");
    req->mark = NativeMark::Unwrap(m.As<Napi::Object>())->mark;
    if (req->mark->index != index_) throw Napi::TypeError::New(env, "the mark belongs to another repository");
    req->rewrite = Strings(env, o.Get("rewrite"));
    Napi::Value order = o.Get("order");
    if (!order.IsUndefined()) req->order = Lists(env, order, "order");
    req->packs = packs_;
    return EngineWorker<CompactResult>::Start(
        env, [req](OpControl& ctl) { return RunCompact(*req, ctl); },
        [](Napi::Env e, CompactResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("indexFile", r.indexFile);
          Napi::Array packs = Napi::Array::New(e, r.newPacks.size());
          for (size_t i = 0; i < r.newPacks.size(); i++) {
            Napi::Object p = Napi::Object::New(e);
            p.Set("id", r.newPacks[i].id);
            p.Set("size", Napi::Number::New(e, double(r.newPacks[i].size)));
            packs.Set(uint32_t(i), p);
          }
          o.Set("newPacks", packs);
          o.Set("copiedBytes", Napi::Number::New(e, double(r.copiedBytes)));
          o.Set("copiedChunks", Napi::Number::New(e, double(r.copiedChunks)));
          return o;
        },
        info[1], CancelOf(info[2]));
  }

  Napi::Value RemovalRecord(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (version_ < 2) throw Napi::TypeError::New(env, "removal records need format 2");
    std::vector<std::string> packs = Strings(env, info[0]);
    for (const std::string& p : packs) {
      uint8_t k[kPackIdBytes];
      if (!FromHex(p, k, kPackIdBytes)) throw Napi::TypeError::New(env, "bad pack id " + p);
    }
    std::string repo = path_;
    RepoKeys keys = keys_;
    return EngineWorker<std::string>::Start(
        env, [repo, keys, packs](OpControl&) { return WriteRemovalRecord(repo, keys, packs); },
        [](Napi::Env e, std::string& name) -> Napi::Value { return Napi::String::New(e, name); },
        env.Undefined(), nullptr);
  }

  // writeConsolidatedIndex({ exclude, excludeEntries }): one index file for
  // everything the index holds but the excluded packs and entries (each
  // entry: chunk id hex + pack id hex, 96 hex digits).
  Napi::Value Consolidate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<std::string> exclude, entries;
    if (info[0].IsObject()) {
      exclude = Strings(env, info[0].As<Napi::Object>().Get("exclude"));
      entries = Strings(env, info[0].As<Napi::Object>().Get("excludeEntries"));
    }
    EntrySet dropEntries;
    for (const std::string& e : entries) {
      ChunkId id;
      PackKey pack;
      if (e.size() != 96 || !FromHex(e.substr(0, 64), id.data(), kIdSize) || !FromHex(e.substr(64), pack.data(), kPackIdBytes))
        throw Napi::TypeError::New(env, "excludeEntries holds chunk id + pack id, 96 hex digits each");
      dropEntries.insert({id, pack});
    }
    std::vector<bool> gone(index_->PackCount(), false);
    for (const std::string& p : exclude) {
      uint32_t no;
      if (index_->PackNumber(p, &no)) gone[no] = true;
    }
    std::string repo = path_;
    RepoKeys keys = keys_;
    int version = version_;
    auto index = index_;
    return EngineWorker<std::string>::Start(
        env,
        [repo, keys, version, index, gone, dropEntries](OpControl&) {
          return WriteConsolidatedIndex(repo, keys, version, *index, gone, dropEntries);
        },
        [](Napi::Env e, std::string& name) -> Napi::Value { return Napi::String::New(e, name); },
        env.Undefined(), nullptr);
  }

  Napi::Value Rebuild(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<std::string> packs = Strings(env, info[0]);
    std::string repo = path_;
    RepoKeys keys = keys_;
    int version = version_;
    using Out = std::pair<std::string, std::vector<std::string>>;
    return EngineWorker<Out>::Start(
        env,
        [repo, keys, version, packs](OpControl&) {
          Out out;
          out.first = RebuildIndex(repo, keys, version, packs, out.second);
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

  // Of these pack ids, those no counting index entry names.
  Napi::Value Unindexed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<std::string> ids = Strings(env, info[0]);
    std::vector<std::string> out;
    for (const std::string& id : ids) {
      uint32_t no;
      if (!index_->PackNumber(id, &no) || index_->PackRemoved(no)) out.push_back(id);
    }
    return StrArray(env, out);
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
    o.Set("indexFiles", Napi::Number::New(env, double(index_->Tables().size())));
    size_t mapped = 0;
    for (auto& t : index_->Tables()) mapped += t->Mapped() ? 1 : 0;
    o.Set("mappedIndexFiles", Napi::Number::New(env, double(mapped)));
    return o;
  }

  Napi::Value CloseFiles(const Napi::CallbackInfo& info) {
    packs_->CloseAll();
    return info.Env().Undefined();
  }

  std::string path_;
  std::string cacheDir_;
  int version_ = 1;
  RepoKeys keys_;
  std::shared_ptr<ChunkIndex> index_;
  std::shared_ptr<PackFetcher> fetcher_;
  std::shared_ptr<PackReader> packs_;
};

}  // namespace

void InitEngine(Napi::Env env, Napi::Object exports) {
  Napi::Object engine = Napi::Object::New(env);
  Napi::Function cancel = CancelToken::Define(env);
  gCancelCtor = new Napi::FunctionReference(Napi::Persistent(cancel));
  engine.Set("CancelToken", cancel);
  engine.Set("NativeRepo", NativeRepo::Define(env));
  Napi::Function list = NativeList::Define(env);
  gListCtor = new Napi::FunctionReference(Napi::Persistent(list));
  Napi::Function mark = NativeMark::Define(env);
  gMarkCtor = new Napi::FunctionReference(Napi::Persistent(mark));
  Napi::Function checker = NativeListChecker::Define(env);
  gCheckerCtor = new Napi::FunctionReference(Napi::Persistent(checker));
  engine.Set("deriveKey", Napi::Function::New(env, DeriveKeyJs));
  engine.Set("aeadSeal", Napi::Function::New(env, AeadSealJs));
  engine.Set("aeadOpen", Napi::Function::New(env, AeadOpenJs));
  engine.Set("boxKeypair", Napi::Function::New(env, BoxKeypairJs));
  engine.Set("sealKey", Napi::Function::New(env, SealKeyJs));
  engine.Set("openSealedKey", Napi::Function::New(env, OpenSealedKeyJs));
  engine.Set("fastCryptoAvailable", Napi::Boolean::New(env, FastCryptoAvailable()));
  engine.Set("benchPrimitive", Napi::Function::New(env, BenchPrimitiveJs));
  engine.Set("saltBytes", Napi::Number::New(env, crypto_pwhash_SALTBYTES));
  InitRepoFs(env, engine);
  exports.Set("engine", engine);
}

}  // namespace snapkeep::engine
