// What the dpx benchmarks share: EAL without hugepages (a per-process
// runtime directory, removed at exit) and two TCP stacks joined by the
// in-memory wire, each on its own Reactor, driven by the caller's thread.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "core/clock.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"
#include "net/wire.h"
#include "tcp/tcp_stack.h"

namespace dpx::bench {

// Starts EAL with `mem_mb` of anonymous memory; exits the process on error.
inline void StartEal(const char* name, int mem_mb) {
  const std::string prefix = std::string("--file-prefix=") + name + std::to_string(getpid());
  std::vector<std::string> args = {name, "--no-huge", "--no-pci", "--no-shconf", "-m",
                                   std::to_string(mem_mb), "--no-telemetry",
                                   "--log-level=error", prefix, "-l", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "%s: EAL: %s\n", name, rte_strerror(rte_errno));
    std::exit(1);
  }
}

inline void StopEal() {
  const std::string dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

inline rte_mempool* MakePool(const char* name, unsigned n) {
  rte_mempool* p = rte_pktmbuf_pool_create(name, n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (p == nullptr) {
    std::fprintf(stderr, "%s: mbuf pool: %s\n", name, rte_strerror(rte_errno));
    std::exit(1);
  }
  return p;
}

inline constexpr uint32_t kIpA = Ipv4Addr(10, 0, 0, 1);
inline constexpr uint32_t kIpB = Ipv4Addr(10, 0, 0, 2);

// Stack A (10.0.0.1) and stack B (10.0.0.2) on one wire, no capture.
class TwoStacks {
 public:
  TwoStacks(Clock& clock, rte_mempool* pool, const tcp::TcpStackConfig& tcfg = {})
      : ra_(0, &clock, &mib_a_),
        rb_(1, &clock, &mib_b_),
        wire_(clock, pool, WireCfg()),
        ipa_(ra_, wire_.a(), pool, IpCfg(kIpA)),
        ipb_(rb_, wire_.b(), pool, IpCfg(kIpB)),
        ta_(ra_, ipa_, tcfg),
        tb_(rb_, ipb_, tcfg) {
    ipa_.AttachToReactor();
    ipb_.AttachToReactor();
  }
  unsigned RunOnce() { return ra_.RunOnce() + rb_.RunOnce(); }
  tcp::TcpStack& a() { return ta_; }
  tcp::TcpStack& b() { return tb_; }
  Counters& mib_a() { return mib_a_; }
  Counters& mib_b() { return mib_b_; }
  Reactor& ra() { return ra_; }
  Reactor& rb() { return rb_; }

 private:
  static WireConfig WireCfg() {
    WireConfig w;
    w.a.mac = {{0x02, 0, 0, 0, 0, 0x0a}};
    w.b.mac = {{0x02, 0, 0, 0, 0, 0x0b}};
    w.capture = false;
    return w;
  }
  static IpStackConfig IpCfg(uint32_t ip) {
    IpStackConfig c;
    c.ip = ip;
    c.prefix_len = 24;
    return c;
  }
  Counters mib_a_, mib_b_;
  Reactor ra_, rb_;
  Wire wire_;
  IpStack ipa_, ipb_;
  tcp::TcpStack ta_, tb_;
};

// Resident set size of this process in bytes (/proc/self/statm).
inline uint64_t RssBytes() {
  unsigned long size = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace dpx::bench
