#include "core/reactor.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "core/log.h"

namespace dpx {

namespace {
constexpr unsigned kInboxBurst = 32;
}  // namespace

Reactor::Reactor(unsigned core_id, Clock* clock, Counters* mib, unsigned inbox_size)
    : core_id_(core_id), clock_(clock), mib_(mib), timers_(clock->NowNs()) {
  now_ns_ = clock_->NowNs();
  last_poll_ns_ = now_ns_;
  // Many producers (any core, the control thread), one consumer (this core).
  static std::atomic<unsigned> seq{0};
  const std::string name = "dpx_inbox_" + std::to_string(core_id) + "_" +
                           std::to_string(seq.fetch_add(1));
  inbox_ = rte_ring_create(name.c_str(), inbox_size, SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (inbox_ == nullptr) {
    DPX_LOG_ERROR("reactor %u: cannot create inbox ring: %s", core_id, rte_strerror(rte_errno));
    std::abort();
  }
}

Reactor::~Reactor() {
  // Messages still queued are dropped with the ring; their owners are gone.
  void* obj;
  while (rte_ring_dequeue(inbox_, &obj) == 0) delete static_cast<Message*>(obj);
  rte_ring_free(inbox_);
}

void Reactor::AddPoller(std::function<unsigned()> poll) { pollers_.push_back(std::move(poll)); }
void Reactor::AddFlusher(std::function<void()> flush) { flushers_.push_back(std::move(flush)); }
void Reactor::Defer(std::function<void()> task) { deferred_.push_back(std::move(task)); }

bool Reactor::Post(Reactor& target, Message* msg) {
  if (rte_ring_enqueue(target.inbox_, msg) != 0) {
    ++target.stats_.inbox_full;  // racy by design: a statistic, not a lock
    return false;
  }
  return true;
}

unsigned Reactor::DrainInbox() {
  void* objs[kInboxBurst];
  const unsigned n = rte_ring_dequeue_burst(inbox_, objs, kInboxBurst, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    Message* m = static_cast<Message*>(objs[i]);
    m->fn(*this, m);
  }
  return n;
}

unsigned Reactor::RunOnce() {
  now_ns_ = clock_->NowNs();
  const uint64_t gap = now_ns_ - last_poll_ns_;
  if (stats_.iterations > 0) {
    stats_.max_gap_ns = std::max(stats_.max_gap_ns, gap);
    stats_.window_max_gap_ns = std::max(stats_.window_max_gap_ns, gap);
  }
  last_poll_ns_ = now_ns_;

  unsigned work = 0;
  for (auto& p : pollers_) work += p();
  work += DrainInbox();
  work += static_cast<unsigned>(timers_.Advance(now_ns_));

  // Tasks deferred while these run wait for the next iteration, so a task
  // that re-defers itself cannot starve the pollers.
  running_.swap(deferred_);
  for (auto& t : running_) t();
  work += static_cast<unsigned>(running_.size());
  running_.clear();

  for (auto& f : flushers_) f();
  ++stats_.iterations;
  stats_.work += work;
  return work;
}

void Reactor::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) RunOnce();
}

uint64_t RunVirtualUntil(VirtualClock& clock, const std::vector<Reactor*>& reactors,
                         uint64_t until_ns) {
  uint64_t iterations = 0;
  // Settle: run until nothing on any core produces work at this instant.
  auto settle = [&] {
    for (int round = 0; round < 1'000'000; ++round) {
      unsigned work = 0;
      for (Reactor* r : reactors) work += r->RunOnce();
      ++iterations;
      if (work == 0) return;
    }
    DPX_LOG_ERROR("RunVirtualUntil: reactors did not settle at t=%d ns",
                  static_cast<long long>(clock.NowNs()));
  };
  settle();
  while (clock.NowNs() < until_ns) {
    uint64_t next = until_ns;
    uint64_t tick = until_ns - clock.NowNs();
    for (Reactor* r : reactors) {
      next = std::min(next, r->timers().NextExpiryNs());
      tick = std::min(tick, r->timers().tick_ns());
    }
    // A lower bound already reached (a cascade point): step one tick.
    if (next <= clock.NowNs()) next = clock.NowNs() + tick;
    clock.Set(std::min(next, until_ns));
    settle();
  }
  return iterations;
}

}  // namespace dpx
