#include "used_blocks_binding.h"

#include <cmath>
#include <string>

#include "ext4_used_blocks.h"

namespace snapkeep::fs {
namespace {

class UsedBlocksWorker : public Napi::AsyncWorker {
 public:
  UsedBlocksWorker(Napi::Env env, std::string path, uint64_t offset, uint64_t size, uint64_t mergeBelow)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        offset_(offset),
        size_(size),
        mergeBelow_(mergeBelow) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { r_ = Ext4UsedBlocks(path_, offset_, size_, mergeBelow_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("ok", Napi::Boolean::New(env, r_.ok));
    if (!r_.ok) o.Set("reason", Napi::String::New(env, r_.reason));
    if (!r_.fsType.empty()) o.Set("fsType", Napi::String::New(env, r_.fsType));
    o.Set("blockSize", Napi::Number::New(env, r_.blockSize));
    o.Set("blocks", Napi::Number::New(env, static_cast<double>(r_.blocks)));
    o.Set("usedBlocks", Napi::Number::New(env, static_cast<double>(r_.usedBlocks)));
    Napi::Array a = Napi::Array::New(env, r_.ranges.size());
    for (size_t i = 0; i < r_.ranges.size(); i++) {
      Napi::Array p = Napi::Array::New(env, 2);
      p.Set(0u, Napi::Number::New(env, static_cast<double>(r_.ranges[i].first)));
      p.Set(1u, Napi::Number::New(env, static_cast<double>(r_.ranges[i].second)));
      a.Set(static_cast<uint32_t>(i), p);
    }
    o.Set("ranges", a);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  uint64_t offset_, size_, mergeBelow_;
  UsedBlocks r_;
};

uint64_t Opt(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return 0;
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0) || d > 9007199254740991.0 || std::floor(d) != d)
    throw Napi::TypeError::New(env, std::string(key) + " must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

Napi::Value Ext4UsedBlocksJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path[0] != '/') throw Napi::TypeError::New(env, "path must be absolute");
  Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  auto* w = new UsedBlocksWorker(env, path, Opt(env, o, "offset"), Opt(env, o, "size"), Opt(env, o, "mergeBelow"));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitUsedBlocks(Napi::Env env, Napi::Object exports) {
  exports.Set("ext4UsedBlocks", Napi::Function::New(env, Ext4UsedBlocksJs));
}

}  // namespace snapkeep::fs
