// N-API bindings of the kernel module's control device. Every call except
// moduleVersion() runs its ioctl on a worker thread and answers with a
// Promise: taking a snapshot freezes file systems (seconds under heavy
// writes), waiting for an event blocks for its timeout, and the rest are
// cheap enough that one uniform shape is simpler than two.
//
// Arguments are checked and copied into plain request values here, on the
// JS thread; the worker runs only kmod::* functions (src/kmod/ctl.cc) on
// them.
#include "kmod_ctl.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "kmod/ctl.h"
#include "snapkeep.h"

namespace snapkeep {
namespace {

constexpr const char* kCtlPath = "/dev/" SNAPKEEP_CTL_NAME;

// Owns the control device's file descriptor for the duration of one call.
class CtlFd {
 public:
  CtlFd() : fd_(open(kCtlPath, O_RDONLY | O_CLOEXEC)) {}
  ~CtlFd() {
    if (fd_ >= 0) close(fd_);
  }
  CtlFd(const CtlFd&) = delete;
  CtlFd& operator=(const CtlFd&) = delete;

  int get() const { return fd_; }

  // The open error in words a user can act on.
  SysError OpenError(int errnum) const {
    SysError err{errnum, "open", ""};
    if (errnum == ENOENT)
      err.message = std::string("snapkeep kernel module not loaded (") +
                    kCtlPath + " does not exist)";
    else if (errnum == EACCES || errnum == EPERM)
      err.message = std::string("permission denied opening ") + kCtlPath +
                    " (root or the snapkeep group is required)";
    else
      err.message = std::string("cannot open ") + kCtlPath + ": " +
                    strerror(errnum);
    return err;
  }

 private:
  int fd_;
};

Napi::Value ModuleVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CtlFd ctl;
  if (ctl.get() < 0) throw MakeSysError(env, ctl.OpenError(errno));

  struct snapkeep_version ver;
  std::memset(&ver, 0, sizeof(ver));
  if (ioctl(ctl.get(), SNAPKEEP_IOCTL_VERSION, &ver) < 0)
    throw MakeSysError(env, SysError{errno, "ioctl", ""});

  ver.module_version[sizeof(ver.module_version) - 1] = '\0';
  Napi::Object out = Napi::Object::New(env);
  out.Set("abiMajor", Napi::Number::New(env, ver.abi_major));
  out.Set("abiMinor", Napi::Number::New(env, ver.abi_minor));
  out.Set("moduleVersion",
          Napi::String::New(
              env, reinterpret_cast<const char*>(ver.module_version)));
  return out;
}

// ---- the worker: runs `run` off the JS thread, converts on it ----

struct Unit {};

template <typename T>
class KmodWorker : public Napi::AsyncWorker {
 public:
  using Run = std::function<T()>;
  using Convert = std::function<Napi::Value(Napi::Env, const T&)>;

  KmodWorker(Napi::Env env, Run run, Convert convert)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)),
        convert_(std::move(convert)) {}

  static Napi::Promise Start(Napi::Env env, Run run, Convert convert) {
    auto* w = new KmodWorker<T>(env, std::move(run), std::move(convert));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

  void Execute() override {
    try {
      result_ = run_();
    } catch (const kmod::Failure& f) {
      err_ = f.err;
      SetError(err_.message.empty() ? strerror(err_.errnum) : err_.message);
    } catch (const std::exception& e) {
      err_ = SysError{EIO, "", e.what()};
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(convert_(Env(), result_)); }
  void OnError(const Napi::Error&) override {
    deferred_.Reject(MakeSysError(Env(), err_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Run run_;
  Convert convert_;
  T result_{};
  SysError err_;
};

Napi::Value Undefined(Napi::Env env, const Unit&) { return env.Undefined(); }

// ---- argument checks (JS thread) ----

std::string PathArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  std::string p = info[i].As<Napi::String>().Utf8Value();
  if (p.empty() || p[0] != '/' || p.find('\0') != std::string::npos)
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an absolute path");
  return p;
}

std::string DeviceArg(const Napi::CallbackInfo& info, size_t i) { return PathArg(info, i, "device"); }

std::string IdArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), "snapshot id must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// A non-negative integer a double holds exactly.
uint64_t U64(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || std::floor(d) != d)
    throw Napi::TypeError::New(env, std::string(what) + " must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

std::vector<kmod::Range> RangesArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsArray())
    throw Napi::TypeError::New(env, "ranges must be an array of {start, count}");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<kmod::Range> out;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsObject()) throw Napi::TypeError::New(env, "ranges must be an array of {start, count}");
    Napi::Object o = v.As<Napi::Object>();
    out.push_back({U64(env, o.Get("start"), "range start"), U64(env, o.Get("count"), "range count")});
  }
  return out;
}

Napi::Object DevValue(Napi::Env env, kmod::Dev d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("major", Napi::Number::New(env, d.major));
  o.Set("minor", Napi::Number::New(env, d.minor));
  return o;
}

Napi::Number Num(Napi::Env env, uint64_t v) {
  return Napi::Number::New(env, static_cast<double>(v));
}

// ---- the calls ----

Napi::Value Attach(const Napi::CallbackInfo& info) {
  std::string dev = DeviceArg(info, 0);
  return KmodWorker<Unit>::Start(
      info.Env(), [dev] { return kmod::Attach(kmod::DevOfPath(dev)), Unit{}; }, Undefined);
}

Napi::Value Detach(const Napi::CallbackInfo& info) {
  std::string dev = DeviceArg(info, 0);
  return KmodWorker<Unit>::Start(
      info.Env(), [dev] { return kmod::Detach(kmod::DevOfPath(dev)), Unit{}; }, Undefined);
}

Napi::Value TrackerInfoValue(Napi::Env env, const kmod::TrackerInfo& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("dev", DevValue(env, t.dev));
  o.Set("generation", Napi::String::New(env, t.generation));
  o.Set("number", Napi::Number::New(env, t.number));
  o.Set("blockSize", Napi::Number::New(env, t.block_size));
  o.Set("blockCount", Num(env, t.block_count));
  o.Set("deviceSize", Num(env, t.device_size));
  o.Set("snapshot", t.snapshot ? Napi::Value(Napi::String::New(env, *t.snapshot)) : env.Null());
  return o;
}

Napi::Value TrackerInfo(const Napi::CallbackInfo& info) {
  std::string dev = DeviceArg(info, 0);
  return KmodWorker<kmod::TrackerInfo>::Start(
      info.Env(), [dev] { return kmod::GetTrackerInfo(kmod::DevOfPath(dev)); }, TrackerInfoValue);
}

Napi::Value TrackerInfo2(const Napi::CallbackInfo& info) {
  std::string dev = DeviceArg(info, 0);
  return KmodWorker<kmod::TrackerInfo2>::Start(
      info.Env(), [dev] { return kmod::GetTrackerInfo2(kmod::DevOfPath(dev)); },
      [](Napi::Env e, const kmod::TrackerInfo2& t) -> Napi::Value {
        Napi::Object o = TrackerInfoValue(e, t.info).As<Napi::Object>();
        Napi::Object p = Napi::Object::New(e);
        p.Set("flags", Napi::Number::New(e, t.persist.flags));
        p.Set("reason", Napi::Number::New(e, t.persist.reason));
        p.Set("foundSequence", Num(e, t.persist.found_sequence));
        p.Set("foundTime", Num(e, t.persist.found_time));
        p.Set("sequence", Num(e, t.persist.sequence));
        o.Set("persist", p);
        return o;
      });
}

// attachPersistent(device, { file?, device?, ranges, identity, flags }).
Napi::Value AttachPersistent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dev = DeviceArg(info, 0);
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "store must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  kmod::PersistentStore store;
  Napi::Value file = o.Get("file");
  Napi::Value device = o.Get("device");
  if (file.IsString()) store.file = file.As<Napi::String>().Utf8Value();
  else if (device.IsString()) store.device = device.As<Napi::String>().Utf8Value();
  else throw Napi::TypeError::New(env, "store.file or store.device must be a path");
  const std::string& path = store.file.empty() ? store.device : store.file;
  if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos)
    throw Napi::TypeError::New(env, "store path must be absolute");
  Napi::Value identity = o.Get("identity");
  if (identity.IsBuffer()) {
    Napi::Buffer<uint8_t> b = identity.As<Napi::Buffer<uint8_t>>();
    store.identity.assign(reinterpret_cast<const char*>(b.Data()), b.Length());
  } else if (identity.IsString()) {
    store.identity = identity.As<Napi::String>().Utf8Value();
  } else {
    throw Napi::TypeError::New(env, "store.identity must be a string or a Buffer");
  }
  if (store.identity.size() > SNAPKEEP_PERSIST_IDENTITY_LEN)
    throw Napi::RangeError::New(env, "store.identity is longer than 64 bytes");
  Napi::Value flags = o.Get("flags");
  store.flags = flags.IsUndefined() ? 0 : static_cast<uint32_t>(U64(env, flags, "store.flags"));
  Napi::Value ranges = o.Get("ranges");
  if (!ranges.IsArray()) throw Napi::TypeError::New(env, "store.ranges must be an array of {start, count}");
  Napi::Array arr = ranges.As<Napi::Array>();
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsObject()) throw Napi::TypeError::New(env, "store.ranges must be an array of {start, count}");
    Napi::Object r = v.As<Napi::Object>();
    store.ranges.push_back({U64(env, r.Get("start"), "range start"), U64(env, r.Get("count"), "range count")});
  }
  return KmodWorker<Unit>::Start(
      env, [dev, store] { return kmod::AttachPersistent(kmod::DevOfPath(dev), store), Unit{}; }, Undefined);
}

// readMap(device, offset, length | undefined): undefined reads to the end.
Napi::Value ReadMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dev = DeviceArg(info, 0);
  uint64_t offset = info.Length() > 1 && !info[1].IsUndefined() ? U64(env, info[1], "offset") : 0;
  bool to_end = info.Length() <= 2 || info[2].IsUndefined();
  uint64_t length = to_end ? 0 : U64(env, info[2], "length");
  // One byte per tracking block: even a 64 TiB disk at 64 KiB is 1 GiB;
  // refuse what a Buffer cannot hold rather than fail inside the worker.
  if (length > (uint64_t{1} << 31)) throw Napi::RangeError::New(env, "length is too large");
  return KmodWorker<std::vector<uint8_t>>::Start(
      env,
      [dev, offset, length, to_end] {
        kmod::Dev d = kmod::DevOfPath(dev);
        uint64_t len = length;
        if (to_end) {
          uint64_t count = kmod::GetTrackerInfo(d).block_count;
          len = offset < count ? count - offset : 0;
        }
        return kmod::ReadMap(d, offset, len);
      },
      [](Napi::Env e, const std::vector<uint8_t>& buf) -> Napi::Value {
        return Napi::Buffer<uint8_t>::Copy(e, buf.data(), buf.size());
      });
}

Napi::Value MarkDirty(const Napi::CallbackInfo& info) {
  std::string dev = DeviceArg(info, 0);
  std::vector<kmod::Range> ranges = RangesArg(info, 1);
  return KmodWorker<Unit>::Start(
      info.Env(), [dev, ranges] { return kmod::MarkDirty(kmod::DevOfPath(dev), ranges), Unit{}; },
      Undefined);
}

Napi::Value DevList(Napi::Env env, const std::vector<kmod::Dev>& devs) {
  Napi::Array arr = Napi::Array::New(env, devs.size());
  for (size_t i = 0; i < devs.size(); i++) arr.Set(static_cast<uint32_t>(i), DevValue(env, devs[i]));
  return arr;
}

Napi::Value ListTrackers(const Napi::CallbackInfo& info) {
  return KmodWorker<std::vector<kmod::Dev>>::Start(info.Env(), [] { return kmod::ListTrackers(); }, DevList);
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray())
    throw Napi::TypeError::New(env, "devices must be an array of paths");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::string> paths;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsString()) throw Napi::TypeError::New(env, "devices must be an array of paths");
    std::string p = v.As<Napi::String>().Utf8Value();
    if (p.empty() || p[0] != '/' || p.find('\0') != std::string::npos)
      throw Napi::TypeError::New(env, "devices must be absolute paths");
    paths.push_back(p);
  }
  return KmodWorker<std::string>::Start(
      env,
      [paths] {
        std::vector<kmod::Dev> devs;
        for (const auto& p : paths) devs.push_back(kmod::DevOfPath(p));
        return kmod::Create(devs);
      },
      [](Napi::Env e, const std::string& id) -> Napi::Value { return Napi::String::New(e, id); });
}

Napi::Value Destroy(const Napi::CallbackInfo& info) {
  std::string id = IdArg(info, 0);
  return KmodWorker<Unit>::Start(info.Env(), [id] { return kmod::Destroy(id), Unit{}; }, Undefined);
}

Napi::Value AppendStorage(const Napi::CallbackInfo& info) {
  std::string id = IdArg(info, 0);
  std::string dev = DeviceArg(info, 1);
  std::vector<kmod::Range> ranges = RangesArg(info, 2);
  return KmodWorker<Unit>::Start(
      info.Env(),
      [id, dev, ranges] { return kmod::AppendStorage(id, kmod::DevOfPath(dev), ranges), Unit{}; },
      Undefined);
}

Napi::Value AppendStorageFile(const Napi::CallbackInfo& info) {
  std::string id = IdArg(info, 0);
  std::string file = PathArg(info, 1, "file");
  std::vector<kmod::Range> ranges = RangesArg(info, 2);
  return KmodWorker<Unit>::Start(
      info.Env(),
      [id, file, ranges] { return kmod::AppendStorageFile(id, file, ranges), Unit{}; },
      Undefined);
}

Napi::Value Take(const Napi::CallbackInfo& info) {
  std::string id = IdArg(info, 0);
  return KmodWorker<Unit>::Start(info.Env(), [id] { return kmod::Take(id), Unit{}; }, Undefined);
}

Napi::Value WaitEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string id = IdArg(info, 0);
  uint64_t timeout = info.Length() > 1 ? U64(env, info[1], "timeoutMs") : 0;
  if (timeout > 0xffffffffu) throw Napi::RangeError::New(env, "timeoutMs is too large");
  return KmodWorker<std::optional<kmod::Event>>::Start(
      env, [id, timeout] { return kmod::WaitEvent(id, static_cast<uint32_t>(timeout)); },
      [](Napi::Env e, const std::optional<kmod::Event>& ev) -> Napi::Value {
        if (!ev) return e.Null();
        Napi::Object o = Napi::Object::New(e);
        o.Set("code", Napi::Number::New(e, ev->code));
        o.Set("timeNs", Num(e, ev->time_ns));
        switch (ev->kind) {
          case kmod::Event::Kind::kLowSpace:
            o.Set("kind", "low-space");
            o.Set("requestedSectors", Num(e, ev->requested_sectors));
            break;
          case kmod::Event::Kind::kOverflow:
            o.Set("kind", "overflow");
            o.Set("dev", DevValue(e, ev->dev));
            o.Set("error", Napi::Number::New(e, ev->error));
            o.Set("errno", Napi::String::New(e, ErrnoName(ev->error)));
            break;
          default:
            o.Set("kind", "unknown");
        }
        return o;
      });
}

// A list of ids as a JS array of strings (LIST_SNAPSHOTS, CKPT_LIST).
Napi::Value IdArray(Napi::Env e, const std::vector<std::string>& ids) {
  Napi::Array arr = Napi::Array::New(e, ids.size());
  for (size_t i = 0; i < ids.size(); i++) arr.Set(static_cast<uint32_t>(i), ids[i]);
  return arr;
}

Napi::Value ListSnapshots(const Napi::CallbackInfo& info) {
  return KmodWorker<std::vector<std::string>>::Start(
      info.Env(), [] { return kmod::ListSnapshots(); },
      IdArray);
}

Napi::Value SnapshotInfo(const Napi::CallbackInfo& info) {
  std::string id = IdArg(info, 0);
  return KmodWorker<kmod::SnapshotInfo>::Start(
      info.Env(), [id] { return kmod::GetSnapshotInfo(id); },
      [](Napi::Env e, const kmod::SnapshotInfo& s) -> Napi::Value {
        Napi::Object o = Napi::Object::New(e);
        o.Set("id", s.id);
        o.Set("taken", s.taken);
        o.Set("corrupted", s.corrupted);
        o.Set("errno", s.error ? Napi::Value(Napi::String::New(e, ErrnoName(s.error))) : e.Null());
        o.Set("storageSectors", Num(e, s.storage_sectors));
        o.Set("storageUsedSectors", Num(e, s.storage_used));
        Napi::Array devs = Napi::Array::New(e, s.devices.size());
        for (size_t i = 0; i < s.devices.size(); i++) {
          const kmod::SnapshotDevice& d = s.devices[i];
          Napi::Object v = Napi::Object::New(e);
          v.Set("dev", DevValue(e, d.dev));
          v.Set("image", d.image_name.empty() ? e.Null() : Napi::Value(DevValue(e, d.image)));
          v.Set("imageName", d.image_name.empty() ? e.Null() : Napi::Value(Napi::String::New(e, d.image_name)));
          v.Set("chunkSize", Napi::Number::New(e, d.chunk_size));
          v.Set("chunksCopied", Num(e, d.chunks_copied));
          devs.Set(static_cast<uint32_t>(i), v);
        }
        o.Set("devices", devs);
        return o;
      });
}

// ckptCreate([{ device, identity }], { file? | device?, ranges }, name, resume).
Napi::Value CkptCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsArray() || !info[1].IsObject() || !info[2].IsString() || !info[3].IsBoolean())
    throw Napi::TypeError::New(env, "ckptCreate(devices, store, name, resume)");
  Napi::Array arr = info[0].As<Napi::Array>();
  if (arr.Length() < 1 || arr.Length() > SNAPKEEP_CKPT_MAX_DEVICES)
    throw Napi::RangeError::New(env, "a checkpoint has 1..16 devices");
  std::vector<std::pair<std::string, std::string>> devs;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsObject()) throw Napi::TypeError::New(env, "devices must be an array of {device, identity}");
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value d = o.Get("device"), id = o.Get("identity");
    if (!d.IsString() || !id.IsString()) throw Napi::TypeError::New(env, "devices must be an array of {device, identity}");
    std::string path = d.As<Napi::String>().Utf8Value(), ident = id.As<Napi::String>().Utf8Value();
    if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos)
      throw Napi::TypeError::New(env, "device must be an absolute path");
    if (ident.empty() || ident.size() > SNAPKEEP_CKPT_IDENTITY_LEN || ident.find('\0') != std::string::npos)
      throw Napi::RangeError::New(env, "identity must be 1..64 bytes without NUL");
    devs.emplace_back(path, ident);
  }
  Napi::Object so = info[1].As<Napi::Object>();
  kmod::CheckpointStore store;
  Napi::Value file = so.Get("file"), device = so.Get("device");
  if (file.IsString()) store.file = file.As<Napi::String>().Utf8Value();
  else if (device.IsString()) store.device = device.As<Napi::String>().Utf8Value();
  else throw Napi::TypeError::New(env, "store.file or store.device must be a path");
  const std::string& path = store.file.empty() ? store.device : store.file;
  if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos)
    throw Napi::TypeError::New(env, "store path must be absolute");
  Napi::Value ranges = so.Get("ranges");
  if (!ranges.IsArray()) throw Napi::TypeError::New(env, "store.ranges must be an array of {start, count}");
  Napi::Array ra = ranges.As<Napi::Array>();
  for (uint32_t k = 0; k < ra.Length(); k++) {
    Napi::Value v = ra.Get(k);
    if (!v.IsObject()) throw Napi::TypeError::New(env, "store.ranges must be an array of {start, count}");
    Napi::Object r = v.As<Napi::Object>();
    store.ranges.push_back({U64(env, r.Get("start"), "range start"), U64(env, r.Get("count"), "range count")});
  }
  std::string name = info[2].As<Napi::String>().Utf8Value();
  bool resume = info[3].As<Napi::Boolean>().Value();
  if (!resume && (name.empty() || name.size() > SNAPKEEP_CKPT_NAME_LEN || name.find('\0') != std::string::npos))
    throw Napi::RangeError::New(env, "name must be 1..64 bytes without NUL");
  return KmodWorker<std::string>::Start(
      env,
      [devs, store, name, resume] {
        std::vector<kmod::CheckpointDevice> cd;
        for (const auto& [p, ident] : devs) cd.push_back({kmod::DevOfPath(p), ident});
        return kmod::CheckpointCreate(cd, store, resume ? std::string() : name, resume);
      },
      [](Napi::Env e, const std::string& id) -> Napi::Value { return Napi::String::New(e, id); });
}

Napi::Value CkptEnd(const Napi::CallbackInfo& info, bool commit) {
  std::string id = IdArg(info, 0);
  return KmodWorker<Unit>::Start(
      info.Env(), [id, commit] { return kmod::CheckpointEnd(id, commit), Unit{}; }, Undefined);
}

Napi::Value CkptCommit(const Napi::CallbackInfo& info) { return CkptEnd(info, true); }
Napi::Value CkptAbandon(const Napi::CallbackInfo& info) { return CkptEnd(info, false); }

Napi::Value CkptInfo(const Napi::CallbackInfo& info) {
  std::string id = IdArg(info, 0);
  return KmodWorker<kmod::CheckpointInfo>::Start(
      info.Env(), [id] { return kmod::GetCheckpointInfo(id); },
      [](Napi::Env e, const kmod::CheckpointInfo& c) -> Napi::Value {
        Napi::Object o = Napi::Object::New(e);
        o.Set("id", c.id);
        o.Set("state", Napi::Number::New(e, c.state));
        o.Set("reason", Napi::Number::New(e, c.reason));
        o.Set("chunkSize", Napi::Number::New(e, c.chunk_size));
        o.Set("flags", Napi::Number::New(e, c.flags));
        o.Set("created", Num(e, c.created));
        o.Set("storePages", Num(e, c.store_pages));
        o.Set("usedPages", Num(e, c.used_pages));
        o.Set("entries", Num(e, c.entries));
        o.Set("records", Num(e, c.records));
        o.Set("sequence", Num(e, c.sequence));
        o.Set("name", c.name);
        Napi::Array devs = Napi::Array::New(e, c.devices.size());
        for (size_t i = 0; i < c.devices.size(); i++) devs.Set(static_cast<uint32_t>(i), DevValue(e, c.devices[i]));
        o.Set("devs", devs);
        return o;
      });
}

Napi::Value CkptList(const Napi::CallbackInfo& info) {
  return KmodWorker<std::vector<std::string>>::Start(
      info.Env(), [] { return kmod::ListCheckpoints(); },
      IdArray);
}

}  // namespace

void InitKmodCtl(Napi::Env env, Napi::Object exports) {
  exports.Set("moduleVersion", Napi::Function::New(env, ModuleVersion));
  Napi::Object abi = Napi::Object::New(env);
  abi.Set("major", Napi::Number::New(env, SNAPKEEP_ABI_MAJOR));
  abi.Set("minor", Napi::Number::New(env, SNAPKEEP_ABI_MINOR));
  exports.Set("headerAbi", abi);

  Napi::Object k = Napi::Object::New(env);
  k.Set("attach", Napi::Function::New(env, Attach));
  k.Set("detach", Napi::Function::New(env, Detach));
  k.Set("trackerInfo", Napi::Function::New(env, TrackerInfo));
  k.Set("readMap", Napi::Function::New(env, ReadMap));
  k.Set("markDirty", Napi::Function::New(env, MarkDirty));
  k.Set("listTrackers", Napi::Function::New(env, ListTrackers));
  k.Set("attachPersistent", Napi::Function::New(env, AttachPersistent));
  k.Set("trackerInfo2", Napi::Function::New(env, TrackerInfo2));
  k.Set("create", Napi::Function::New(env, Create));
  k.Set("destroy", Napi::Function::New(env, Destroy));
  k.Set("appendStorage", Napi::Function::New(env, AppendStorage));
  k.Set("appendStorageFile", Napi::Function::New(env, AppendStorageFile));
  k.Set("take", Napi::Function::New(env, Take));
  k.Set("waitEvent", Napi::Function::New(env, WaitEvent));
  k.Set("listSnapshots", Napi::Function::New(env, ListSnapshots));
  k.Set("snapshotInfo", Napi::Function::New(env, SnapshotInfo));
  k.Set("ckptCreate", Napi::Function::New(env, CkptCreate));
  k.Set("ckptCommit", Napi::Function::New(env, CkptCommit));
  k.Set("ckptAbandon", Napi::Function::New(env, CkptAbandon));
  k.Set("ckptInfo", Napi::Function::New(env, CkptInfo));
  k.Set("ckptList", Napi::Function::New(env, CkptList));
  exports.Set("kmod", k);
}

}  // namespace snapkeep
