// How every engine operation runs: on a thread of its own (not libuv's
// pool: a backup, restore or verify can take hours, and four of them would
// otherwise hold all four pool threads and starve every fs call of the
// process, lock refreshes included), returning a Promise that is settled
// on the JS thread through a ThreadSafeFunction. An optional progress
// callback goes through another ThreadSafeFunction, an optional cancel
// flag is polled by the operation, and an EngineError becomes a JS Error
// whose `code` is the AppError code.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "engine_error.h"
#include "op_control.h"

namespace snapkeep::engine {

Napi::Error ToJsError(Napi::Env env, const EngineError& e);

template <typename R>
class EngineWorker {
 public:
  using RunFn = std::function<R(OpControl&)>;
  using ToJsFn = std::function<Napi::Value(Napi::Env, R&)>;

  // Starts the work on its own thread and returns its Promise.
  static Napi::Promise Start(Napi::Env env, RunFn run, ToJsFn toJs, Napi::Value progress,
                             CancelFlag cancel) {
    auto* w = new EngineWorker(env, std::move(run), std::move(toJs), progress, std::move(cancel));
    Napi::Promise p = w->deferred_.Promise();
    // Holds the event loop open until the result is delivered, as a
    // queued AsyncWorker would.
    Napi::ThreadSafeFunction done =
        Napi::ThreadSafeFunction::New(env, Napi::Function(), "snapkeep-engine", 0, 1);
    try {
      std::thread([w, done]() mutable {
        w->Execute();
        // `w` belongs to the JS thread from the call on: use only `done`.
        if (done.BlockingCall(w, &EngineWorker::Complete) != napi_ok) {
          // The environment is going away: nobody will take the result.
          w->ReleaseProgress();
          delete w;
        }
        done.Release();
      }).detach();
    } catch (const std::system_error&) {
      done.Release();
      w->error_ = std::make_unique<EngineError>("INTERNAL", "cannot start an engine thread");
      Complete(env, Napi::Function(), w);
    }
    return p;
  }

 private:
  struct Tick {
    uint64_t done, total;
  };

  EngineWorker(Napi::Env env, RunFn run, ToJsFn toJs, Napi::Value progress, CancelFlag cancel)
      : deferred_(Napi::Promise::Deferred::New(env)), run_(std::move(run)), toJs_(std::move(toJs)) {
    if (progress.IsFunction()) {
      tsfn_ = Napi::ThreadSafeFunction::New(env, progress.As<Napi::Function>(), "snapkeep-progress", 0, 1);
      hasTsfn_ = true;
    }
    ctl_ = std::make_unique<OpControl>(std::move(cancel), hasTsfn_ ? MakeProgress() : ProgressFn());
  }

  void Execute() {
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
  }

  // On the JS thread: settles the Promise and frees the worker.
  static void Complete(Napi::Env env, Napi::Function, EngineWorker* w) {
    std::unique_ptr<EngineWorker> owned(w);
    w->ReleaseProgress();
    if (env == nullptr) return;
    Napi::HandleScope scope(env);
    try {
      if (w->error_)
        w->deferred_.Reject(ToJsError(env, *w->error_).Value());
      else
        w->deferred_.Resolve(w->toJs_(env, *w->result_));
    } catch (const Napi::Error& e) {
      w->deferred_.Reject(e.Value());
    }
  }

  ProgressFn MakeProgress() {
    Napi::ThreadSafeFunction fn = tsfn_;
    return [fn](uint64_t done, uint64_t total) mutable {
      auto* t = new Tick{done, total};
      napi_status s = fn.NonBlockingCall(t, [](Napi::Env env, Napi::Function cb, Tick* tick) {
        if (env != nullptr) cb.Call({Napi::Number::New(env, double(tick->done)), Napi::Number::New(env, double(tick->total))});
        delete tick;
      });
      if (s != napi_ok) delete t;
    };
  }
  void ReleaseProgress() {
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
