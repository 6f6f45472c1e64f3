// One run-to-completion loop per lcore. Each iteration:
//   now = clock -> pollers (rx bursts, inbox) -> timers due -> deferred
//   tasks -> flushers (tx bursts).
// Everything a core touches is its own; cores talk only through each
// reactor's inbox (an rte_ring of Message pointers).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/counters.h"
#include "core/timer_wheel.h"

struct rte_ring;

namespace dpx {

class Reactor;

// A cross-core message: the receiving core calls `fn(reactor, msg)`; the
// handler owns `msg` from then on (usually deletes it).
struct Message {
  void (*fn)(Reactor& r, Message* msg) = nullptr;
  virtual ~Message() = default;
};

struct ReactorStats {
  uint64_t iterations = 0;
  uint64_t work = 0;             // packets + messages + timers + tasks
  uint64_t max_gap_ns = 0;       // longest time between two poll phases
  uint64_t window_max_gap_ns = 0;  // the same since the last TakeWindowMaxGap()
  uint64_t inbox_full = 0;       // Post() to this reactor that failed
};

class Reactor {
 public:
  // `inbox_size` must be a power of two. The inbox ring is created in DPDK
  // memory, so EAL must be up.
  Reactor(unsigned core_id, Clock* clock, Counters* mib, unsigned inbox_size = 4096);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  unsigned core_id() const { return core_id_; }
  // Time cached at the start of the current iteration (what the data path
  // uses, like jiffies); `clock().NowNs()` for a fresh read.
  uint64_t now_ns() const { return now_ns_; }
  Clock& clock() { return *clock_; }
  TimerWheel& timers() { return timers_; }
  Counters& mib() { return *mib_; }
  const ReactorStats& stats() const { return stats_; }
  // The longest gap between two poll phases since the previous call (what
  // a job that wants the gaps of its own span brackets itself with).
  uint64_t TakeWindowMaxGap() {
    const uint64_t g = stats_.window_max_gap_ns;
    stats_.window_max_gap_ns = 0;
    return g;
  }

  // Pollers run first in each iteration and return the work they did.
  void AddPoller(std::function<unsigned()> poll);
  // Flushers run last (tx bursts).
  void AddFlusher(std::function<void()> flush);
  // Runs `task` after the timers of the current iteration (or the next one
  // if called from a deferred task).
  void Defer(std::function<void()> task);

  // Sends `msg` to `target`'s inbox from any thread; false if the inbox is
  // full (the caller still owns msg).
  bool Post(Reactor& target, Message* msg);

  // One iteration; returns the work done.
  unsigned RunOnce();
  // Loops until `stop` is set.
  void Run(const std::atomic<bool>& stop);

 private:
  unsigned DrainInbox();

  unsigned core_id_;
  Clock* clock_;
  Counters* mib_;
  TimerWheel timers_;
  rte_ring* inbox_ = nullptr;
  uint64_t now_ns_ = 0;
  uint64_t last_poll_ns_ = 0;
  std::vector<std::function<unsigned()>> pollers_;
  std::vector<std::function<void()>> flushers_;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::function<void()>> running_;
  ReactorStats stats_;
};

// Drives reactors that share one VirtualClock: moves time to `until_ns`,
// stopping at every timer expiry on the way so each timer sees its own
// time, and running iterations until no reactor has work left at each
// step. Returns the number of iterations run.
uint64_t RunVirtualUntil(VirtualClock& clock, const std::vector<Reactor*>& reactors,
                         uint64_t until_ns);

}  // namespace dpx
