// The one AsyncWorker every engine operation runs in: a Promise, an
// optional progress callback reached through a ThreadSafeFunction, an
// optional cancel flag, and the conversion of EngineError into a JS Error
// whose `code` is the AppError code.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <optional>

#include "engine_error.h"
#include "op_control.h"

namespace snapkeep::engine {

Napi::Error ToJsError(Napi::Env env, const EngineError& e);

template <typename R>
class EngineWorker : public Napi::AsyncWorker {
 public:
  using RunFn = std::function<R(OpControl&)>;
  using ToJsFn = std::function<Napi::Value(Napi::Env, R&)>;

  // Queues the work and returns its Promise.
  static Napi::Promise Start(Napi::Env env, RunFn run, ToJsFn toJs, Napi::Value progress,
                             CancelFlag cancel) {
    auto* w = new EngineWorker(env, std::move(run), std::move(toJs), progress, std::move(cancel));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      result_ = run_(*ctl_);
      return;
    } catch (const EngineError& e) {
      error_ = std::make_unique<EngineError>(e);
    } catch (const std::bad_alloc&) {
      error_ = std::make_unique<EngineError>("INTERNAL", "out of memory");
    } catch (const std::exception& e) {
      error_ = std::make_unique<EngineError>("INTERNAL", e.what());
    }
    SetError(error_->what());
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    Release();
    deferred_.Resolve(toJs_(Env(), *result_));
  }
  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    Release();
    deferred_.Reject(ToJsError(Env(), *error_).Value());
  }

 private:
  struct Tick {
    uint64_t done, total;
  };

  EngineWorker(Napi::Env env, RunFn run, ToJsFn toJs, Napi::Value progress, CancelFlag cancel)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)),
        toJs_(std::move(toJs)) {
    if (progress.IsFunction()) {
      tsfn_ = Napi::ThreadSafeFunction::New(env, progress.As<Napi::Function>(), "snapkeep-progress", 0, 1);
      hasTsfn_ = true;
    }
    ctl_ = std::make_unique<OpControl>(std::move(cancel), hasTsfn_ ? MakeProgress() : ProgressFn());
  }
  ProgressFn MakeProgress() {
    Napi::ThreadSafeFunction fn = tsfn_;
    return [fn](uint64_t done, uint64_t total) mutable {
      auto* t = new Tick{done, total};
      napi_status s = fn.NonBlockingCall(t, [](Napi::Env env, Napi::Function cb, Tick* tick) {
        cb.Call({Napi::Number::New(env, double(tick->done)), Napi::Number::New(env, double(tick->total))});
        delete tick;
      });
      if (s != napi_ok) delete t;
    };
  }
  void Release() {
    if (hasTsfn_) {
      tsfn_.Release();
      hasTsfn_ = false;
    }
  }

  Napi::Promise::Deferred deferred_;
  RunFn run_;
  ToJsFn toJs_;
  Napi::ThreadSafeFunction tsfn_;
  bool hasTsfn_ = false;
  std::unique_ptr<OpControl> ctl_;
  std::optional<R> result_;
  std::unique_ptr<EngineError> error_;
};

}  // namespace snapkeep::engine
