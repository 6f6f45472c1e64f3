// rx -> tx forwarding rate between two net_ring ethdev ports.
//
// Port A receives from ring a_rx; port B transmits into ring b_tx. Each
// iteration: rte_eth_rx_burst(A, 32) -> (optionally rewrite the Ethernet
// header, as an L2 forwarder does) -> rte_eth_tx_burst(B) -> move what B sent
// back into A's rx ring, so the same mbufs circulate and the figure is the
// ethdev path's cost, not the allocator's. Reports packets/s.
//
//   bench_forward --benchmark_format=json [--benchmark_min_time=0.05]
//
// EAL runs without hugepages, PCI, shared config or telemetry, under a
// per-process file prefix, on the first CPU this process may use.
#include <benchmark/benchmark.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr uint16_t kBurst = 32;
constexpr unsigned kRingSize = 4096;
constexpr unsigned kInFlight = 2048;  // mbufs circulating
constexpr uint16_t kFrameLen = 64;

struct Bench {
  rte_mempool* pool = nullptr;
  rte_ring* a_rx = nullptr;
  rte_ring* a_tx = nullptr;
  rte_ring* b_rx = nullptr;
  rte_ring* b_tx = nullptr;
  uint16_t port_a = 0;
  uint16_t port_b = 0;
};
Bench g;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "bench_forward: %s: %s\n", what, rte_strerror(rte_errno));
  std::exit(1);
}

rte_ring* MakeRing(const char* name) {
  rte_ring* r = rte_ring_create(name, kRingSize, static_cast<int>(rte_socket_id()),
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (r == nullptr) Die(name);
  return r;
}

uint16_t MakePort(const char* name, rte_ring* rx, rte_ring* tx) {
  const int id = rte_eth_from_rings(name, &rx, 1, &tx, 1, rte_socket_id());
  if (id < 0) Die(name);
  const auto port = static_cast<uint16_t>(id);
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) < 0) Die("rte_eth_dev_configure");
  if (rte_eth_rx_queue_setup(port, 0, kRingSize, rte_socket_id(), nullptr, g.pool) < 0) Die("rx_queue_setup");
  if (rte_eth_tx_queue_setup(port, 0, kRingSize, rte_socket_id(), nullptr) < 0) Die("tx_queue_setup");
  if (rte_eth_dev_start(port) < 0) Die("rte_eth_dev_start");
  return port;
}

void SetUp() {
  g.pool = rte_pktmbuf_pool_create("benchfwd_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   static_cast<int>(rte_socket_id()));
  if (g.pool == nullptr) Die("rte_pktmbuf_pool_create");
  g.a_rx = MakeRing("a_rx");
  g.a_tx = MakeRing("a_tx");
  g.b_rx = MakeRing("b_rx");
  g.b_tx = MakeRing("b_tx");
  g.port_a = MakePort("fwd_a", g.a_rx, g.a_tx);
  g.port_b = MakePort("fwd_b", g.b_rx, g.b_tx);

  // 64-byte Ethernet/IPv4 frames, injected into A's rx ring.
  std::vector<rte_mbuf*> mbufs(kInFlight);
  if (rte_pktmbuf_alloc_bulk(g.pool, mbufs.data(), kInFlight) != 0) Die("rte_pktmbuf_alloc_bulk");
  for (rte_mbuf* m : mbufs) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, kFrameLen));
    eth->dst_addr = {{0x02, 0, 0, 0, 0, 0x02}};
    eth->src_addr = {{0x02, 0, 0, 0, 0, 0x01}};
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  }
  if (rte_ring_enqueue_bulk(g.a_rx, reinterpret_cast<void* const*>(mbufs.data()), kInFlight, nullptr) !=
      kInFlight) {
    Die("inject");
  }
}

template <bool kTouch>
void BM_ForwardRingToRing(benchmark::State& state) {
  rte_mbuf* pkts[kBurst];
  uint64_t forwarded = 0;
  for (auto _ : state) {
    const uint16_t n = rte_eth_rx_burst(g.port_a, 0, pkts, kBurst);
    if constexpr (kTouch) {
      for (uint16_t i = 0; i < n; ++i) {
        auto* eth = rte_pktmbuf_mtod(pkts[i], rte_ether_hdr*);
        const rte_ether_addr tmp = eth->src_addr;
        eth->src_addr = eth->dst_addr;
        eth->dst_addr = tmp;
      }
    }
    const uint16_t sent = rte_eth_tx_burst(g.port_b, 0, pkts, n);
    if (sent < n) rte_pktmbuf_free_bulk(pkts + sent, n - sent);  // never with these ring sizes
    forwarded += sent;
    // The "wire": what B sent comes back into A's receive ring.
    void* back[kBurst];
    const unsigned got = rte_ring_dequeue_burst(g.b_tx, back, kBurst, nullptr);
    rte_ring_enqueue_burst(g.a_rx, back, got, nullptr);
  }
  state.SetItemsProcessed(static_cast<int64_t>(forwarded));
  state.counters["packets_per_second"] = benchmark::Counter(static_cast<double>(forwarded), benchmark::Counter::kIsRate);
  state.counters["burst"] = kBurst;
  if (forwarded == 0) state.SkipWithError("nothing forwarded");
}
BENCHMARK_TEMPLATE(BM_ForwardRingToRing, false)->Name("BM_ForwardRingToRing");
BENCHMARK_TEMPLATE(BM_ForwardRingToRing, true)->Name("BM_ForwardRingToRing_MacSwap");

int FirstAllowedCpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) return c;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::string lcores = "-l" + std::to_string(FirstAllowedCpu());
  const std::string prefix = "--file-prefix=benchfwd" + std::to_string(getpid());
  // DPDK 22.11 refuses --no-huge together with --in-memory: --no-shconf.
  std::vector<std::string> args = {"bench_forward", lcores, "--no-huge", "--no-pci", "--no-shconf",
                                   "-m", "512", "--no-telemetry", prefix, "--log-level=error"};
  std::vector<char*> eal_argv;
  for (std::string& a : args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) Die("rte_eal_init");
  SetUp();

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  rte_eth_dev_stop(g.port_a);
  rte_eth_dev_stop(g.port_b);
  const std::string run_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  rmdir(run_dir.c_str());  // EAL leaves its (empty) runtime dir behind
  return 0;
}
