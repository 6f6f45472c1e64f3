// Socket memory accounting (Linux net/core/sock.c __sk_mem_raise_allocated /
// __sk_mem_reduce_allocated, include/net/sock.h sk_memory_allocated_add,
// net/ipv4/tcp.c tcp_enter_memory_pressure / tcp_leave_memory_pressure).
//
// A socket is charged whole 4 KiB pages for wmem_queued + rmem_alloc (its
// sk_forward_alloc rounded up). The charge goes first to this core's
// unflushed count (Linux's per-CPU tcp_memory_per_cpu_fw_alloc) and reaches
// the core's slot in TcpShared only when it exceeds kMemPcpuReserve pages
// either way (sysctl_mem_pcpu_rsv), so the shared counters are touched
// rarely. tcp_memory_allocated is the sum of the published slots: like
// Linux, it lags each core by less than the reserve. The pressure flag is
// re-evaluated on every publish: entered when the sum goes above tcp_mem[1]
// (TCPMemoryPressures counts the entries), left when it drops below
// tcp_mem[0] (sk_leave_memory_pressure tests `<`, not `<=`).
#include <algorithm>

#include "tcp/tcp_stack.h"

namespace dpx::tcp {

namespace {
constexpr uint32_t kPageSize = 4096;
// SK_MEMORY_PCPU_RESERVE is 1 MiB (256 pages) in Linux; dpx publishes every
// 64 pages (256 KiB) so small test limits are reachable with small buffers.
constexpr int64_t kMemPcpuReserve = 64;

uint32_t PagesFor(uint64_t bytes) {
  return static_cast<uint32_t>((bytes + kPageSize - 1) / kPageSize);
}
}  // namespace

void TcpStack::MemReconcile(Tcb* tp) {
  const uint32_t want = PagesFor(uint64_t{tp->wmem_queued} + tp->rmem_alloc);
  if (want == tp->mem_pages) return;
  const int64_t delta = static_cast<int64_t>(want) - static_cast<int64_t>(tp->mem_pages);
  tp->mem_pages = want;
  mem_unflushed_ += delta;
  if (mem_unflushed_ >= kMemPcpuReserve || mem_unflushed_ <= -kMemPcpuReserve) MemFlush();
}

void TcpStack::MemUncharge(Tcb* tp) {
  if (tp->mem_pages == 0) return;
  mem_unflushed_ -= tp->mem_pages;
  tp->mem_pages = 0;
  if (mem_unflushed_ <= -kMemPcpuReserve) MemFlush();
}

void TcpStack::MemFlush() {
  if (mem_unflushed_ == 0) return;
  const int64_t delta = mem_unflushed_;
  mem_unflushed_ = 0;
  shared_->core[cfg_.core_index].mem_pages.fetch_add(delta, std::memory_order_relaxed);
  const int64_t allocated = shared_->SumMemPages();
  const TcpSysctls& sc = cfg_.sysctl;
  if (delta > 0) {
    // __sk_mem_raise_allocated -> sk_enter_memory_pressure (tcp_enter_memory_pressure)
    if (allocated > static_cast<int64_t>(sc.tcp_mem[1]) &&
        !shared_->memory_pressure.exchange(true, std::memory_order_relaxed))
      mib_.Inc(Mib::TcpExt_TCPMemoryPressures);
  } else if (allocated < static_cast<int64_t>(sc.tcp_mem[0])) {
    // __sk_mem_reduce_allocated -> sk_leave_memory_pressure
    shared_->memory_pressure.store(false, std::memory_order_relaxed);
  }
}

bool TcpStack::UnderMemoryPressure() const {
  return shared_->memory_pressure.load(std::memory_order_relaxed);
}

int64_t TcpStack::MemoryAllocated() const { return shared_->SumMemPages(); }

}  // namespace dpx::tcp
