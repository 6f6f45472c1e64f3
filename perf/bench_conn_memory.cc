// Memory per idle ESTABLISHED connection: dpx opens N connections between
// two stacks on the in-memory wire (both ends are dpx, so each connection
// is two TCBs), then measures the process's RSS growth and the TCB pools.
// In the same run the Linux kernel opens M loopback connections and its
// slab growth (/proc/meminfo Slab) is measured the same way. Prints one
// JSON line. Usage: bench_conn_memory [N=1000000] [M=100000]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench_env.h"
#include "tcp/socket_api.h"
#include "tcp/tcb.h"

namespace {

using dpx::tcp::Tcb;

struct DpxResult {
  uint64_t established = 0;
  uint64_t rss_delta = 0;
  uint64_t sockets_in_use = 0;
  double virtual_seconds = 0;
};

DpxResult RunDpx(rte_mempool* pool, uint64_t n) {
  dpx::VirtualClock clock(1'000'000'000);
  dpx::tcp::TcpStackConfig cfg;
  cfg.ehash_buckets = 1;
  while (cfg.ehash_buckets < n) cfg.ehash_buckets <<= 1;
  cfg.sysctl.ip_local_port_range[0] = 1024;
  cfg.sysctl.ip_local_port_range[1] = 65535;
  cfg.sysctl.somaxconn = 65535;
  cfg.sysctl.tcp_max_syn_backlog = 65535;
  cfg.secret_seed = 1;
  dpx::bench::TwoStacks two(clock, pool, cfg);
  std::vector<dpx::Reactor*> reactors = {&two.ra(), &two.rb()};
  DpxResult r;
  uint64_t opened = 0;

  const uint64_t per_port = 64000;
  const unsigned ports = static_cast<unsigned>((n + per_port - 1) / per_port);
  std::vector<Tcb*> listeners;
  for (unsigned i = 0; i < ports; ++i) {
    Tcb* l = dpx::tcp::TcpSocket(two.b());
    dpx::tcp::TcpBind(l, 0, static_cast<uint16_t>(5000 + i));
    dpx::tcp::TcpListen(l, 65535);
    listeners.push_back(l);
  }
  // Warm up: resolve ARP both ways with one connection, so the first batch
  // of SYNs is not held (and partly dropped) behind an unresolved neighbour.
  {
    Tcb* c = dpx::tcp::TcpSocket(two.a());
    dpx::tcp::TcpConnect(c, dpx::bench::kIpB, 5000);
    dpx::RunVirtualUntil(clock, reactors, clock.NowNs() + 10'000'000);
    Tcb* child = nullptr;
    if (dpx::tcp::TcpAccept(listeners[0], &child) == 0) ++r.established;
    ++opened;
  }

  const uint64_t rss0 = dpx::bench::RssBytes();
  while (opened < n) {
    const uint64_t batch = std::min<uint64_t>(4096, n - opened);
    for (uint64_t k = 0; k < batch; ++k, ++opened) {
      Tcb* c = dpx::tcp::TcpSocket(two.a());
      const uint16_t port = static_cast<uint16_t>(5000 + opened / per_port);
      if (dpx::tcp::TcpConnect(c, dpx::bench::kIpB, port) != -EINPROGRESS) {
        dpx::tcp::TcpClose(c);
        std::fprintf(stderr, "bench_conn_memory: connect %llu failed\n",
                     static_cast<unsigned long long>(opened));
        return r;
      }
    }
    dpx::RunVirtualUntil(clock, reactors, clock.NowNs() + 5'000'000);
    for (Tcb* l : listeners) {
      Tcb* child = nullptr;
      while (dpx::tcp::TcpAccept(l, &child) == 0) ++r.established;
    }
  }
  // Long enough for any retransmitted SYN (1 s initial RTO) to complete.
  dpx::RunVirtualUntil(clock, reactors, clock.NowNs() + 3'000'000'000ull);
  for (Tcb* l : listeners) {
    Tcb* child = nullptr;
    while (dpx::tcp::TcpAccept(l, &child) == 0) ++r.established;
  }
  r.rss_delta = dpx::bench::RssBytes() - rss0;
  r.sockets_in_use = two.a().sockets_in_use() + two.b().sockets_in_use();
  r.virtual_seconds = clock.NowNs() / 1e9;
  return r;
}

uint64_t SlabKb() {
  uint64_t kb = 0;
  if (FILE* f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    while (std::fgets(line, sizeof(line), f))
      if (std::sscanf(line, "Slab: %lu kB", &kb) == 1) break;
    std::fclose(f);
  }
  return kb;
}

// The kernel: M loopback connections (client and server socket each), kept
// open while its slab growth is read.
struct LinuxResult {
  uint64_t established = 0;
  uint64_t slab_delta = 0;
};

LinuxResult RunLinux(uint64_t m) {
  LinuxResult r;
  // Two descriptors per connection: raise the soft limit to the hard one
  // (this sandbox cannot raise the hard limit) and fit M under it.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != RLIM_INFINITY && m * 2 + 64 > rl.rlim_cur) m = (rl.rlim_cur - 64) / 2;
  const uint64_t per_port = 20000;
  std::vector<int> listeners, fds;
  std::vector<uint16_t> lports;
  for (uint64_t i = 0; i < (m + per_port - 1) / per_port; ++i) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (l < 0 || bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 4096) != 0 ||
        getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::fprintf(stderr, "bench_conn_memory: linux listener: %s\n", std::strerror(errno));
      return r;
    }
    listeners.push_back(l);
    lports.push_back(a.sin_port);
  }
  fds.reserve(2 * m);
  const uint64_t slab0 = SlabKb();
  for (uint64_t i = 0; i < m; ++i) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = lports[i / per_port];
    if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      std::fprintf(stderr, "bench_conn_memory: linux connect %llu: %s\n",
                   static_cast<unsigned long long>(i), std::strerror(errno));
      if (c >= 0) close(c);
      break;
    }
    int s = accept(listeners[i / per_port], nullptr, nullptr);
    if (s < 0) {
      close(c);
      break;
    }
    fds.push_back(c);
    fds.push_back(s);
    ++r.established;
  }
  const uint64_t slab1 = SlabKb();
  r.slab_delta = slab1 > slab0 ? (slab1 - slab0) * 1024 : 0;
  for (int fd : fds) close(fd);
  for (int l : listeners) close(l);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const uint64_t m = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  dpx::bench::StartEal("benchconn", 512);
  rte_mempool* pool = dpx::bench::MakePool("bench_conn", 65535);
  const DpxResult d = RunDpx(pool, n);
  const LinuxResult l = RunLinux(m);  // may open fewer: the descriptor limit
  const double dpx_per_conn = d.established ? static_cast<double>(d.rss_delta) / d.established : 0;
  const double linux_per_conn =
      l.established ? static_cast<double>(l.slab_delta) / l.established : 0;
  std::printf(
      "{\"bench\":\"conn_memory\",\"dpx_connections\":%llu,\"dpx_established\":%llu,"
      "\"dpx_tcbs_in_use\":%llu,\"dpx_bytes_per_connection\":%.0f,"
      "\"dpx_bytes_per_tcb\":%.0f,\"tcb_sizeof\":%zu,"
      "\"linux_connections\":%llu,\"linux_bytes_per_connection\":%.0f,"
      "\"linux_note\":\"slab growth for loopback connections, both ends\","
      "\"ratio_dpx_over_linux\":%.3f}\n",
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(d.established),
      static_cast<unsigned long long>(d.sockets_in_use), dpx_per_conn, dpx_per_conn / 2,
      sizeof(Tcb), static_cast<unsigned long long>(l.established), linux_per_conn,
      linux_per_conn > 0 ? dpx_per_conn / linux_per_conn : 0.0);
  dpx::bench::StopEal();
  return d.established == n && l.established > 0 ? 0 : 1;
}
