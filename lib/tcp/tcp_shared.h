// What every core's TcpStack shares, like Linux's per-netns TCP globals:
// the orphan count (tcp_orphan_count), the TIME_WAIT bucket count
// (tw_refcount) and the socket memory in pages (tcp_memory_allocated).
// Each core writes only its own cache-line slot with relaxed atomics (no
// lock, no shared line on the data path); readers sum the slots. Limits
// that Linux checks against a cached sum (tcp_orphan_cache, refreshed every
// 100 ms by tcp_orphan_update) use OrphansCached().
#pragma once

#include <atomic>
#include <cstdint>

namespace dpx::tcp {

struct TcpShared {
  static constexpr unsigned kMaxCores = 128;

  struct alignas(64) PerCore {
    std::atomic<int64_t> orphans{0};
    std::atomic<int64_t> tw{0};
    std::atomic<int64_t> mem_pages{0};  // socket memory charged, in 4 KiB pages
  };
  PerCore core[kMaxCores];

  // tcp_orphan_cache: the sum as of the last RefreshOrphanCache().
  std::atomic<int64_t> orphan_cache{0};
  // tcp_memory_pressure: set above tcp_mem[1], cleared at or below tcp_mem[0].
  std::atomic<bool> memory_pressure{false};

  int64_t SumOrphans() const { return Sum(&PerCore::orphans); }
  int64_t SumTw() const { return Sum(&PerCore::tw); }
  int64_t SumMemPages() const { return Sum(&PerCore::mem_pages); }
  // tcp_orphan_update(): any core may call it every 100 ms.
  void RefreshOrphanCache() { orphan_cache.store(SumOrphans(), std::memory_order_relaxed); }
  int64_t OrphansCached() const { return orphan_cache.load(std::memory_order_relaxed); }

 private:
  int64_t Sum(std::atomic<int64_t> PerCore::*field) const {
    int64_t s = 0;
    for (const PerCore& c : core) s += (c.*field).load(std::memory_order_relaxed);
    return s;
  }
};

}  // namespace dpx::tcp
