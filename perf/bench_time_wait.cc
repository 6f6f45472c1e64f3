// 1,000,000 TIME_WAIT mini-sockets on one core: insert (slab + ehash +
// 60 s timer on the wheel), look up every 4-tuple, expire them all by
// advancing the wheel. Prints one JSON line: rates, sizeof, and bytes per
// mini-socket MEASURED as (slab chunks + bucket array) / count and as the
// RSS delta from /proc/self/statm.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "core/timer_wheel.h"
#include "tcp/conn_table.h"
#include "tcp/time_wait.h"

using dpx::Timer;
using dpx::TimerWheel;
using dpx::tcp::ConnTable;
using dpx::tcp::SockKind;
using dpx::tcp::TwSock;

namespace {
size_t RssBytes() {
  long pages = 0, rss = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
  std::fclose(f);
  return static_cast<size_t>(rss) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}
double Secs(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
ConnTable* g_table;
size_t g_expired = 0;
void OnExpire(Timer* t, void*) {
  auto* tw = reinterpret_cast<TwSock*>(reinterpret_cast<char*>(t) - offsetof(TwSock, timer));
  g_table->Remove(&tw->c);
  g_table->tw_slab().Free(tw);
  ++g_expired;
}
}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1'000'000;
  const size_t rss0 = RssBytes();
  // ehash sized like Linux for this many sockets (one bucket per socket).
  auto* table = new ConnTable(n);
  g_table = table;
  TimerWheel wheel(0);
  wheel.SetHandler(3, &OnExpire, nullptr);
  const uint32_t local = 0x0100000a;  // 10.0.0.1, network order
  auto tuple = [](size_t i, uint32_t* daddr, uint16_t* dport) {
    *daddr = static_cast<uint32_t>(0x0000000b | ((i / 28000) << 8));  // 11.x.y.0 style, network order-ish
    *dport = static_cast<uint16_t>(32768 + i % 28000);
  };

  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    void* p = table->tw_slab().Allocate();
    auto* tw = ::new (p) TwSock();
    tuple(i, &tw->c.daddr, &tw->c.dport);
    tw->c.saddr = local;
    tw->c.sport = 0x5000;  // port 80
    tw->c.kind = SockKind::kTimeWait;
    tw->c.state = 6;  // TCP_TIME_WAIT
    tw->snd_nxt = static_cast<uint32_t>(i);
    tw->timer.kind = 3;
    // Spread entries over 1 s like a steady close rate; each lives 60 s.
    wheel.Arm(&tw->timer, 60'000'000'000ull + (i % 1000) * 1'000'000ull);
    table->Insert(&tw->c);
  }
  const auto t1 = std::chrono::steady_clock::now();
  const size_t rss1 = RssBytes();
  size_t found = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t d;
    uint16_t dp;
    tuple(i, &d, &dp);
    if (table->Lookup(local, 0x5000, d, dp) != nullptr) ++found;
  }
  const auto t2 = std::chrono::steady_clock::now();
  const size_t slab_bytes = table->tw_slab().bytes_reserved();
  const size_t index_bytes = table->index_bytes();
  const size_t fired = wheel.Advance(59'999'000'000ull);  // nothing before 60 s
  const auto t3 = std::chrono::steady_clock::now();
  wheel.Advance(61'000'000'000ull);
  const auto t4 = std::chrono::steady_clock::now();
  std::printf(
      "{\"bench\":\"time_wait\",\"count\":%zu,\"sizeof_tw\":%zu,\"insert_per_s\":%.0f,"
      "\"lookup_per_s\":%.0f,\"expire_per_s\":%.0f,\"found\":%zu,\"expired\":%zu,"
      "\"fired_before_60s\":%zu,\"slab_bytes\":%zu,\"index_bytes\":%zu,"
      "\"bytes_per_tw_pools\":%.1f,\"bytes_per_tw_rss\":%.1f,\"linux_tw_slab_bytes\":256}\n",
      n, sizeof(TwSock), n / Secs(t0, t1), n / Secs(t1, t2), n / Secs(t3, t4), found, g_expired, fired,
      slab_bytes, index_bytes, static_cast<double>(slab_bytes + index_bytes) / n,
      static_cast<double>(rss1 - rss0) / n);
  delete table;
  return (found == n && g_expired == n && fired == 0) ? 0 : 1;
}
