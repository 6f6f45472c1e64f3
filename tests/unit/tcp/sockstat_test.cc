// The sockstat view follows a connection through close as
// /proc/net/sockstat would: inuse, orphan, tw, alloc.
#include "tcp/sockstat.h"

#include <gtest/gtest.h>

#include "tcp_harness.h"

namespace dpx::tcp::testing {
namespace {

SockStat Of(TcpStack& st) { return ReadSockStat({&st}); }

TEST(SockStat, FollowsAConnectionThroughCloseAndTimeWait) {
  TwoStacks t;
  auto [c, s] = t.Connect();
  ASSERT_NE(s, nullptr);
  // A: the client. B: the listener and the accepted child.
  EXPECT_EQ(Of(t.a()).inuse, 1);
  EXPECT_EQ(Of(t.a()).alloc, 1);
  EXPECT_EQ(Of(t.b()).inuse, 2);
  EXPECT_EQ(Of(t.b()).alloc, 2);
  EXPECT_EQ(Of(t.a()).orphan, 0);

  // A closes first: FIN_WAIT1 orphan until B's ACK, then a FIN_WAIT2
  // mini-socket (tcp_fin_timeout 60 s <= TCP_TIMEWAIT_LEN): tw, not orphan.
  ASSERT_EQ(TcpClose(c), 0);
  EXPECT_EQ(Of(t.a()).orphan, 1);
  t.Run(300'000'000);
  EXPECT_EQ(Of(t.a()).orphan, 0);
  EXPECT_EQ(Of(t.a()).tw, 1);
  EXPECT_EQ(Of(t.a()).alloc, 0);
  EXPECT_EQ(Of(t.a()).inuse, 0);

  // B closes: LAST_ACK orphan, freed on A's ACK; A's entry moves to TIME_WAIT.
  ASSERT_EQ(TcpClose(s), 0);
  t.Run(300'000'000);
  EXPECT_EQ(Of(t.b()).orphan, 0);
  EXPECT_EQ(Of(t.b()).alloc, 1);  // the listener
  EXPECT_EQ(Of(t.b()).inuse, 1);
  EXPECT_EQ(Of(t.a()).tw, 1);

  // TIME_WAIT expires after 60 s.
  t.Run(61'000'000'000ull);
  EXPECT_EQ(Of(t.a()).tw, 0);
  EXPECT_EQ(FormatSockStat(Of(t.a())), "TCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0");
}

}  // namespace
}  // namespace dpx::tcp::testing
