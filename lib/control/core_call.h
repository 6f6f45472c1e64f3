// How the control plane asks a data-path core for something without
// stopping it: the request is a Message in the core's inbox (any thread may
// post); the core runs it between bursts, stores the answer in a
// Completion and returns to polling. The control thread waits on the
// Completion with a deadline, so a core that does not answer is an error
// ("core 2 did not answer within 5000 ms"), never a hang. A core never
// waits for the control thread: storing the answer takes a mutex the
// waiter holds only to check a flag.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "core/reactor.h"

namespace dpx::control {

// A value one thread sets (usually a core) and another waits for.
template <typename T>
class Completion {
 public:
  void Set(T v) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (value_.has_value()) return;  // first answer wins
      value_.emplace(std::move(v));
    }
    cv_.notify_all();
  }
  // Waits until Set(), `deadline`, or `*cancel` becomes true (checked every
  // 50 ms). Returns the value, or nullopt on timeout / cancel.
  std::optional<T> Wait(std::chrono::steady_clock::time_point deadline,
                        const std::atomic<bool>* cancel = nullptr) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!value_.has_value()) {
      if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return std::nullopt;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return std::nullopt;
      const auto slice = std::min<std::chrono::steady_clock::duration>(
          deadline - now, std::chrono::milliseconds(50));
      cv_.wait_for(lock, slice);
    }
    return std::move(*value_);
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return value_.has_value();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

// A Message that runs a closure on the receiving core.
struct ClosureMessage : Message {
  std::function<void(Reactor&)> run;
  static void Dispatch(Reactor& r, Message* m) {
    auto* self = static_cast<ClosureMessage*>(m);
    self->run(r);
    delete self;
  }
};

// Posts `fn` to `target`'s inbox from any thread. False if the inbox is full.
bool PostToCore(Reactor& target, std::function<void(Reactor&)> fn);

// Runs `fn` on `target` and waits (at most `timeout`, or until `*cancel`)
// for what it returns. Errors: Unavailable when the inbox is full,
// DeadlineExceeded when the core did not answer in time, Cancelled when
// `*cancel` was set (the appliance is stopping). `fn` may still run later
// after a timeout: it must capture only what outlives the appliance's run.
template <typename T>
absl::StatusOr<T> CallOnCore(Reactor& target, std::function<T(Reactor&)> fn,
                             std::chrono::milliseconds timeout,
                             const std::atomic<bool>* cancel = nullptr) {
  auto done = std::make_shared<Completion<T>>();
  const bool posted = PostToCore(target, [done, fn = std::move(fn)](Reactor& r) {
    done->Set(fn(r));
  });
  if (!posted) {
    return absl::UnavailableError(
        absl::StrFormat("core %d: inbox full, try again", target.core_id()));
  }
  std::optional<T> v = done->Wait(std::chrono::steady_clock::now() + timeout, cancel);
  if (!v.has_value()) {
    if (cancel != nullptr && cancel->load()) {
      return absl::CancelledError("dpx is stopping");
    }
    return absl::DeadlineExceededError(absl::StrFormat(
        "lcore %d did not answer within %d ms", target.core_id(), timeout.count()));
  }
  return std::move(*v);
}

// Runs fn on every reactor in `targets` at once and waits for all of them
// against one deadline. The result has one entry per target, in order; the
// first error (inbox full, a core that did not answer) is returned instead.
template <typename T>
absl::StatusOr<std::vector<T>> CallOnCores(const std::vector<Reactor*>& targets,
                                           std::function<T(Reactor&, size_t)> fn,
                                           std::chrono::milliseconds timeout,
                                           const std::atomic<bool>* cancel = nullptr) {
  std::vector<std::shared_ptr<Completion<T>>> done;
  done.reserve(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    auto d = std::make_shared<Completion<T>>();
    if (!PostToCore(*targets[i], [d, fn, i](Reactor& r) { d->Set(fn(r, i)); })) {
      return absl::UnavailableError(
          absl::StrFormat("lcore %d: inbox full, try again", targets[i]->core_id()));
    }
    done.push_back(std::move(d));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<T> out;
  out.reserve(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    std::optional<T> v = done[i]->Wait(deadline, cancel);
    if (!v.has_value()) {
      if (cancel != nullptr && cancel->load()) return absl::CancelledError("dpx is stopping");
      return absl::DeadlineExceededError(absl::StrFormat(
          "lcore %d did not answer within %d ms", targets[i]->core_id(), timeout.count()));
    }
    out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace dpx::control
