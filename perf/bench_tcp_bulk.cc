// Bulk TCP transfer: two dpx stacks joined by the in-memory wire, driven
// by one thread (both reactors on one core), against the Linux kernel doing
// the same transfer over loopback in the same run (a sender and a receiver
// thread). Prints one JSON line:
//   {"bench":"tcp_bulk", "bytes":N, "dpx_gbps":..., "dpx_cycles_per_segment":...,
//    "linux_gbps":..., "ratio_dpx_over_linux":..., "tcb_bytes":sizeof(Tcb), ...}
// Usage: bench_tcp_bulk [MiB]   (default 256)
// The machines are shared and noisy: read the ratio, not the absolutes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "bench_env.h"
#include "tcp/socket_api.h"
#include "tcp/tcb.h"
#include "tcp/tcp_stack.h"

namespace {

using dpx::tcp::Tcb;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct DpxResult {
  double seconds = 0;
  uint64_t cycles = 0;
  uint64_t segments = 0;  // data + ACK segments both stacks sent
  bool ok = false;
};

DpxResult RunDpx(rte_mempool* pool, uint64_t bytes) {
  dpx::TscClock clock;
  dpx::bench::TwoStacks two(clock, pool);
  dpx::Reactor& ra = two.ra();
  dpx::Reactor& rb = two.rb();
  dpx::Counters& mib_a = two.mib_a();
  dpx::Counters& mib_b = two.mib_b();
  dpx::tcp::TcpStack& ta = two.a();
  dpx::tcp::TcpStack& tb = two.b();

  Tcb* l = dpx::tcp::TcpSocket(tb);
  dpx::tcp::TcpBind(l, 0, 5001);
  dpx::tcp::TcpListen(l, 16);
  Tcb* c = dpx::tcp::TcpSocket(ta);
  dpx::tcp::TcpConnect(c, dpx::bench::kIpB, 5001);
  Tcb* s = nullptr;
  for (int i = 0; i < 100000 && s == nullptr; ++i) {
    ra.RunOnce();
    rb.RunOnce();
    dpx::tcp::TcpAccept(l, &s);
  }
  DpxResult r;
  if (s == nullptr) return r;

  std::vector<uint8_t> out(64 * 1024, 0x5a), in(256 * 1024);
  uint64_t sent = 0, received = 0;
  const uint64_t seg0 = mib_a.Get(dpx::Mib::Tcp_OutSegs) + mib_b.Get(dpx::Mib::Tcp_OutSegs);
  const auto t0 = Clock::now();
  const uint64_t c0 = rte_rdtsc();
  uint64_t idle = 0;
  while (received < bytes && idle < 10'000'000) {
    while (sent < bytes) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), bytes - sent));
      const ptrdiff_t w = dpx::tcp::TcpSend(c, out.data(), n);
      if (w <= 0) break;
      sent += static_cast<uint64_t>(w);
    }
    const unsigned work = ra.RunOnce() + rb.RunOnce();
    ptrdiff_t got;
    while ((got = dpx::tcp::TcpRecv(s, in.data(), in.size())) > 0) received += got;
    idle = work ? 0 : idle + 1;
  }
  r.cycles = rte_rdtsc() - c0;
  r.seconds = Seconds(t0, Clock::now());
  r.segments = mib_a.Get(dpx::Mib::Tcp_OutSegs) + mib_b.Get(dpx::Mib::Tcp_OutSegs) - seg0;
  r.ok = received == bytes;
  dpx::tcp::TcpClose(c);
  dpx::tcp::TcpClose(s);
  dpx::tcp::TcpClose(l);
  for (int i = 0; i < 1000; ++i) {
    ra.RunOnce();
    rb.RunOnce();
  }
  return r;
}

// The kernel: one connection over 127.0.0.1, a sender and a receiver thread.
double RunLinux(uint64_t bytes, bool* ok) {
  *ok = false;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  if (l < 0 || bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 1) != 0 ||
      getsockname(l, reinterpret_cast<sockaddr*>(&a), &alen) != 0)
    return 0;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return 0;
  int s = accept(l, nullptr, nullptr);
  uint64_t received = 0;
  const auto t0 = Clock::now();
  std::thread rx([&] {
    std::vector<uint8_t> in(256 * 1024);
    ssize_t n;
    while ((n = recv(s, in.data(), in.size(), 0)) > 0) received += static_cast<uint64_t>(n);
  });
  std::vector<uint8_t> out(64 * 1024, 0x5a);
  uint64_t sent = 0;
  while (sent < bytes) {
    const ssize_t n = send(c, out.data(), std::min<uint64_t>(out.size(), bytes - sent), 0);
    if (n <= 0) break;
    sent += static_cast<uint64_t>(n);
  }
  shutdown(c, SHUT_WR);
  rx.join();
  const double secs = Seconds(t0, Clock::now());
  close(c);
  close(s);
  close(l);
  *ok = received == bytes;
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  const uint64_t bytes = mib << 20;
  dpx::bench::StartEal("benchtcp", 512);
  rte_mempool* pool = dpx::bench::MakePool("bench_tcp", 32767);
  const DpxResult d = RunDpx(pool, bytes);
  bool linux_ok = false;
  const double linux_s = RunLinux(bytes, &linux_ok);
  const double dpx_gbps = d.seconds > 0 ? bytes * 8 / d.seconds / 1e9 : 0;
  const double linux_gbps = linux_s > 0 ? bytes * 8 / linux_s / 1e9 : 0;
  std::printf(
      "{\"bench\":\"tcp_bulk\",\"bytes\":%llu,\"dpx_ok\":%s,\"dpx_gbps\":%.3f,"
      "\"dpx_cycles_per_segment\":%.0f,\"dpx_segments\":%llu,\"dpx_cores\":1,"
      "\"linux_ok\":%s,\"linux_gbps\":%.3f,\"linux_note\":\"loopback, sender+receiver threads\","
      "\"ratio_dpx_over_linux\":%.3f,\"tcb_bytes\":%zu}\n",
      static_cast<unsigned long long>(bytes), d.ok ? "true" : "false", dpx_gbps,
      d.segments ? static_cast<double>(d.cycles) / d.segments : 0.0,
      static_cast<unsigned long long>(d.segments), linux_ok ? "true" : "false", linux_gbps,
      linux_gbps > 0 ? dpx_gbps / linux_gbps : 0.0, sizeof(Tcb));
  dpx::bench::StopEal();
  return d.ok && linux_ok ? 0 : 1;
}
