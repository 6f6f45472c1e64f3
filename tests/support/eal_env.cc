#include "support/eal_env.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

namespace dpx::testing {

namespace {
rte_mempool* g_pool = nullptr;
bool g_started = false;
}  // namespace

void StartEal() {
  if (g_started) return;
  g_started = true;
  // DPDK 22.11 treats --no-huge as legacy memory, which it refuses to
  // combine with --in-memory; --no-shconf gives the same result (no
  // hugepage files, no shared config). A per-process prefix lets test
  // binaries run in parallel.
  const std::string prefix = "--file-prefix=dpxtest" + std::to_string(getpid());
  // DPX_TEST_EAL_MB: more EAL memory for a test with a big pool of its own.
  const char* mb = std::getenv("DPX_TEST_EAL_MB");
  std::vector<std::string> args = {"dpx-test", "--no-huge", "--no-pci", "--no-shconf",
                                   "-m", mb != nullptr ? mb : "1024", "--no-telemetry", "--log-level=error",
                                   prefix, "-l", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "test: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    std::exit(1);
  }
  g_pool = rte_pktmbuf_pool_create("dpx_test_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   SOCKET_ID_ANY);
  if (g_pool == nullptr) {
    std::fprintf(stderr, "test: mbuf pool: %s\n", rte_strerror(rte_errno));
    std::exit(1);
  }
}

rte_mempool* TestPool() { return g_pool; }

}  // namespace dpx::testing
