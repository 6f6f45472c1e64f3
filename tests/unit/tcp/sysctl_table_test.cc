// Tunables by their Linux names: read as /proc/sys shows them, written
// with validation, and a bad value leaves the old one in place.
#include "tcp/sysctl_table.h"

#include <gtest/gtest.h>

namespace dpx::tcp {
namespace {

TEST(SysctlTable, ReadsLinuxDefaultsAsProcSysPrintsThem) {
  TcpSysctls s;
  EXPECT_EQ(*SysctlGet(s, "net.ipv4.tcp_fin_timeout"), "60");
  EXPECT_EQ(*SysctlGet(s, "net.ipv4.tcp_tw_reuse"), "2");
  EXPECT_EQ(*SysctlGet(s, "net.ipv4.tcp_mem"), "287901\t383869\t575802");
  EXPECT_EQ(*SysctlGet(s, "net.ipv4.ip_local_port_range"), "32768\t60999");
  EXPECT_EQ(*SysctlGet(s, "net.ipv4.tcp_rfc1337"), "0");
  EXPECT_EQ(*SysctlGet(s, "net.ipv4.tcp_congestion_control"), "cubic");
  EXPECT_EQ(SysctlGet(s, "net.ipv4.tcp_nonsense").status().code(), absl::StatusCode::kNotFound);
}

TEST(SysctlTable, EveryListedNameReadsBack) {
  TcpSysctls s;
  const auto list = SysctlList();
  EXPECT_GE(list.size(), 25u);
  for (const SysctlDesc& d : list) {
    auto v = SysctlGet(s, d.name);
    ASSERT_TRUE(v.ok()) << d.name;
    // Writing back what was read is always accepted and changes nothing.
    TcpSysctls copy = s;
    ASSERT_TRUE(SysctlSet(&copy, d.name, *v).ok()) << d.name << " = " << *v;
    EXPECT_EQ(*SysctlGet(copy, d.name), *v) << d.name;
    EXPECT_FALSE(d.help.empty()) << d.name;
  }
}

TEST(SysctlTable, WritesValidValues) {
  TcpSysctls s;
  ASSERT_TRUE(SysctlSet(&s, "net.ipv4.tcp_fin_timeout", "30").ok());
  EXPECT_EQ(s.tcp_fin_timeout, 30u);
  ASSERT_TRUE(SysctlSet(&s, "net.ipv4.tcp_mem", "10 20\t30").ok());
  EXPECT_EQ(s.tcp_mem[0], 10u);
  EXPECT_EQ(s.tcp_mem[2], 30u);
  ASSERT_TRUE(SysctlSet(&s, "net.ipv4.tcp_rfc1337", "1").ok());
  EXPECT_TRUE(s.tcp_rfc1337);
  ASSERT_TRUE(SysctlSet(&s, "net.ipv4.tcp_max_tw_buckets", "10000000").ok());
  EXPECT_EQ(s.tcp_max_tw_buckets, 10000000u);
  ASSERT_TRUE(SysctlSet(&s, "net.ipv4.tcp_congestion_control", "reno").ok());
  EXPECT_EQ(s.tcp_congestion_control, "reno");
}

// Each bad write is refused with a message naming the tunable, and the
// old value stays.
TEST(SysctlTable, RefusesBadValuesAndKeepsTheOldOne) {
  struct Bad {
    const char* name;
    const char* value;
  } bad[] = {
      {"net.ipv4.tcp_fin_timeout", "abc"},
      {"net.ipv4.tcp_fin_timeout", "0"},
      {"net.ipv4.tcp_fin_timeout", "-5"},
      {"net.ipv4.tcp_fin_timeout", "1 2"},
      {"net.ipv4.tcp_fin_timeout", ""},
      {"net.ipv4.tcp_tw_reuse", "3"},
      {"net.ipv4.tcp_orphan_retries", "256"},
      {"net.ipv4.tcp_mem", "10 20"},
      {"net.ipv4.tcp_mem", "30 20 10"},
      {"net.ipv4.ip_local_port_range", "60000 1000"},
      {"net.ipv4.ip_local_port_range", "0 100"},
      {"net.ipv4.tcp_congestion_control", "vegas"},
      {"net.ipv4.tcp_max_orphans", "99999999999"},
  };
  for (const Bad& b : bad) {
    TcpSysctls s;
    const std::string before = *SysctlGet(s, b.name);
    absl::Status st = SysctlSet(&s, b.name, b.value);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << b.name << " = " << b.value;
    EXPECT_NE(st.message().find(b.name), absl::string_view::npos) << st;
    EXPECT_EQ(*SysctlGet(s, b.name), before) << b.name;
  }
  TcpSysctls s;
  EXPECT_EQ(SysctlSet(&s, "net.ipv4.nope", "1").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace dpx::tcp
