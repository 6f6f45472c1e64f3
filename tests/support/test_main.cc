// gtest main for every dpx test binary: EAL first, then the tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <rte_eal.h>

#include "support/eal_env.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  dpx::testing::StartEal();
  const int rc = RUN_ALL_TESTS();
  // EAL makes /var/run/dpdk/<prefix> even with --no-shconf; leave nothing.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir, ec);
  return rc;
}
