// engine.repoFs: the TypeScript side's only way to the files of a
// repository (electron/core/engine/repo-files.ts wraps it). Every call runs
// off the JS thread through RepoDir, so a symlink or a special file planted
// in the repository is refused here exactly as in the C++ pipeline.
#include "repo_dir_binding.h"

#include <set>

#include "repo_dir.h"
#include "worker.h"

namespace snapkeep::engine {
namespace {

struct Empty {};

std::string StrArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

const char* TypeName(EntryType t) {
  return t == EntryType::kFile ? "file" : t == EntryType::kDir ? "dir" : "other";
}

Napi::Value Done(Napi::Env env, Empty&) { return env.Undefined(); }

Napi::Value Read(const Napi::CallbackInfo& info) {
  std::string root = StrArg(info, 0, "root"), rel = StrArg(info, 1, "path");
  if (info.Length() < 3 || !info[2].IsNumber())
    throw Napi::TypeError::New(info.Env(), "read(root, path, maxBytes)");
  uint64_t max = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  return EngineWorker<Bytes>::Start(
      info.Env(), [root, rel, max](OpControl&) { return RepoDir(root).ReadFile(rel, max); },
      [](Napi::Env env, Bytes& b) -> Napi::Value { return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size()); },
      info.Env().Undefined(), nullptr);
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  std::string root = StrArg(info, 0, "root"), rel = StrArg(info, 1, "path");
  if (info.Length() < 3 || !info[2].IsBuffer()) throw Napi::TypeError::New(info.Env(), "data must be a Buffer");
  auto buf = info[2].As<Napi::Buffer<uint8_t>>();
  Bytes data(buf.Data(), buf.Data() + buf.Length());
  return EngineWorker<Empty>::Start(
      info.Env(),
      [root, rel, data](OpControl&) {
        std::string dir, name;
        SplitRel(rel, &dir, &name);
        RepoDir(root).WriteFileAtomic(dir, name, data);
        return Empty{};
      },
      Done, info.Env().Undefined(), nullptr);
}

Napi::Value List(const Napi::CallbackInfo& info) {
  std::string root = StrArg(info, 0, "root"), rel = info.Length() > 1 && info[1].IsString() ? StrArg(info, 1, "path") : "";
  return EngineWorker<std::vector<DirEntry>>::Start(
      info.Env(), [root, rel](OpControl&) { return RepoDir(root).List(rel); },
      [](Napi::Env env, std::vector<DirEntry>& v) -> Napi::Value {
        Napi::Array a = Napi::Array::New(env, v.size());
        for (size_t i = 0; i < v.size(); i++) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("name", v[i].name);
          o.Set("type", TypeName(v[i].type));
          o.Set("what", v[i].what);
          a.Set(uint32_t(i), o);
        }
        return a;
      },
      info.Env().Undefined(), nullptr);
}

// Unlinks every name, then fsyncs each directory that lost one, once.
Napi::Value Remove(const Napi::CallbackInfo& info) {
  std::string root = StrArg(info, 0, "root");
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(info.Env(), "remove(root, paths[])");
  std::vector<std::string> rels;
  Napi::Array a = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsString()) throw Napi::TypeError::New(info.Env(), "paths must be strings");
    rels.push_back(v.As<Napi::String>().Utf8Value());
  }
  return EngineWorker<double>::Start(
      info.Env(),
      [root, rels](OpControl&) {
        RepoDir dir(root);
        std::set<std::string> touched;
        double removed = 0;
        for (const std::string& rel : rels) {
          std::string d, name;
          SplitRel(rel, &d, &name);
          if (dir.Unlink(rel)) {
            removed++;
            touched.insert(d);
          }
        }
        for (const std::string& d : touched) dir.FsyncDir(d);
        return removed;
      },
      [](Napi::Env env, double& n) -> Napi::Value { return Napi::Number::New(env, n); },
      info.Env().Undefined(), nullptr);
}

struct StatOut {
  bool exists = false;
  std::string type, what;
  double size = 0, mtimeMs = 0;
};

Napi::Value Stat(const Napi::CallbackInfo& info) {
  std::string root = StrArg(info, 0, "root"), rel = StrArg(info, 1, "path");
  return EngineWorker<StatOut>::Start(
      info.Env(),
      [root, rel](OpControl&) {
        StatOut out;
        std::optional<struct stat> st = RepoDir(root).Lstat(rel);
        if (!st) return out;
        out.exists = true;
        EntryType t = S_ISREG(st->st_mode) ? EntryType::kFile : S_ISDIR(st->st_mode) ? EntryType::kDir : EntryType::kOther;
        out.type = TypeName(t);
        out.what = DescribeMode(st->st_mode);
        out.size = double(st->st_size);
        out.mtimeMs = double(st->st_mtim.tv_sec) * 1000 + double(st->st_mtim.tv_nsec) / 1e6;
        return out;
      },
      [](Napi::Env env, StatOut& s) -> Napi::Value {
        if (!s.exists) return env.Null();
        Napi::Object o = Napi::Object::New(env);
        o.Set("type", s.type);
        o.Set("what", s.what);
        o.Set("size", Napi::Number::New(env, s.size));
        o.Set("mtimeMs", Napi::Number::New(env, s.mtimeMs));
        return o;
      },
      info.Env().Undefined(), nullptr);
}

Napi::Value Mkdir(const Napi::CallbackInfo& info) {
  std::string root = StrArg(info, 0, "root"), rel = StrArg(info, 1, "path");
  return EngineWorker<Empty>::Start(
      info.Env(),
      [root, rel](OpControl&) {
        RepoDir(root).MkdirP(rel);
        return Empty{};
      },
      Done, info.Env().Undefined(), nullptr);
}

Napi::Value Touch(const Napi::CallbackInfo& info) {
  std::string root = StrArg(info, 0, "root"), rel = StrArg(info, 1, "path");
  return EngineWorker<Empty>::Start(
      info.Env(),
      [root, rel](OpControl&) {
        RepoDir(root).Touch(rel);
        return Empty{};
      },
      Done, info.Env().Undefined(), nullptr);
}

// Tests exercise the O_NOFOLLOW walk on kernels that have openat2.
Napi::Value ResolveModeJs(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsString()) {
    std::string m = info[0].As<Napi::String>().Utf8Value();
    if (m != "auto" && m != "walk") throw Napi::TypeError::New(info.Env(), "resolveMode('auto' | 'walk')");
    SetResolveMode(m == "walk" ? ResolveMode::kWalk : ResolveMode::kAuto);
  }
  return Napi::String::New(info.Env(), GetResolveMode() == ResolveMode::kWalk ? "walk" : "openat2");
}

}  // namespace

void InitRepoFs(Napi::Env env, Napi::Object engine) {
  Napi::Object fs = Napi::Object::New(env);
  fs.Set("read", Napi::Function::New(env, Read));
  fs.Set("write", Napi::Function::New(env, Write));
  fs.Set("list", Napi::Function::New(env, List));
  fs.Set("remove", Napi::Function::New(env, Remove));
  fs.Set("stat", Napi::Function::New(env, Stat));
  fs.Set("mkdir", Napi::Function::New(env, Mkdir));
  fs.Set("touch", Napi::Function::New(env, Touch));
  fs.Set("resolveMode", Napi::Function::New(env, ResolveModeJs));
  engine.Set("repoFs", fs);
}

}  // namespace snapkeep::engine
