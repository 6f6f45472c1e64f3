// Test-wide DPDK environment: EAL without hugepages or PCI, and one mbuf
// pool. Started once by the test main before any test runs.
#pragma once

struct rte_mempool;

namespace dpx::testing {

// The shared pool (16k mbufs of RTE_MBUF_DEFAULT_BUF_SIZE).
rte_mempool* TestPool();
// Starts EAL once; aborts the test binary with a message if EAL fails.
void StartEal();

}  // namespace dpx::testing
