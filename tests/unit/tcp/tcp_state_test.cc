#include "tcp/tcp_state.h"

#include <gtest/gtest.h>

#include <map>

namespace dpx::tcp {
namespace {

TEST(TcpStateTest, LinuxNumbering) {
  EXPECT_EQ(TCP_ESTABLISHED, 1);
  EXPECT_EQ(TCP_SYN_SENT, 2);
  EXPECT_EQ(TCP_SYN_RECV, 3);
  EXPECT_EQ(TCP_FIN_WAIT1, 4);
  EXPECT_EQ(TCP_FIN_WAIT2, 5);
  EXPECT_EQ(TCP_TIME_WAIT, 6);
  EXPECT_EQ(TCP_CLOSE, 7);
  EXPECT_EQ(TCP_CLOSE_WAIT, 8);
  EXPECT_EQ(TCP_LAST_ACK, 9);
  EXPECT_EQ(TCP_LISTEN, 10);
  EXPECT_EQ(TCP_CLOSING, 11);
  EXPECT_EQ(TCP_NEW_SYN_RECV, 12);
  EXPECT_EQ(TCPF_ESTABLISHED, 2u);
  EXPECT_EQ(TCPF_CLOSING, 1u << 11);
  EXPECT_TRUE(TcpStateIn(TCP_CLOSE_WAIT, TCPF_ESTABLISHED | TCPF_CLOSE_WAIT));
  EXPECT_FALSE(TcpStateIn(TCP_LISTEN, TCPF_ESTABLISHED | TCPF_CLOSE_WAIT));
}

TEST(TcpStateTest, SsNames) {
  const std::map<TcpState, std::string_view> want = {
      {TCP_ESTABLISHED, "ESTAB"},     {TCP_SYN_SENT, "SYN-SENT"},
      {TCP_SYN_RECV, "SYN-RECV"},     {TCP_FIN_WAIT1, "FIN-WAIT-1"},
      {TCP_FIN_WAIT2, "FIN-WAIT-2"},  {TCP_TIME_WAIT, "TIME-WAIT"},
      {TCP_CLOSE, "UNCONN"},          {TCP_CLOSE_WAIT, "CLOSE-WAIT"},
      {TCP_LAST_ACK, "LAST-ACK"},     {TCP_LISTEN, "LISTEN"},
      {TCP_CLOSING, "CLOSING"},       {TCP_NEW_SYN_RECV, "SYN-RECV"},
  };
  for (const auto& [s, name] : want) EXPECT_EQ(SsStateName(s), name) << int{s};
  EXPECT_EQ(SsStateName(static_cast<TcpState>(0)), "UNKNOWN");
  EXPECT_EQ(SsStateName(static_cast<TcpState>(200)), "UNKNOWN");
  EXPECT_EQ(TcpStateName(TCP_FIN_WAIT1), "TCP_FIN_WAIT1");
  EXPECT_EQ(TcpStateName(TCP_NEW_SYN_RECV), "TCP_NEW_SYN_RECV");
  EXPECT_EQ(SsStateFilterName(TCP_LISTEN), "listening");
  EXPECT_EQ(SsStateFilterName(TCP_CLOSE), "unconnected");
}

TEST(TcpStateTest, FromName) {
  TcpState s{};
  ASSERT_TRUE(TcpStateFromName("ESTAB", &s));
  EXPECT_EQ(s, TCP_ESTABLISHED);
  ASSERT_TRUE(TcpStateFromName("time-wait", &s));
  EXPECT_EQ(s, TCP_TIME_WAIT);
  ASSERT_TRUE(TcpStateFromName("TCP_LAST_ACK", &s));
  EXPECT_EQ(s, TCP_LAST_ACK);
  ASSERT_TRUE(TcpStateFromName("SYN-RECV", &s));
  EXPECT_EQ(s, TCP_SYN_RECV);
  EXPECT_FALSE(TcpStateFromName("estab", &s));
  EXPECT_FALSE(TcpStateFromName("UNKNOWN", &s));
}

TEST(TcpStateTest, CloseTableMatchesLinux) {
  // net/ipv4/tcp.c new_state[], written out as raw bytes:
  // state -> new state | TCP_ACTION_FIN (0x80).
  const uint8_t linux_new_state[13] = {
      7,             // 0 -> CLOSE
      4 | 0x80,      // ESTABLISHED -> FIN_WAIT1 + FIN
      7,             // SYN_SENT -> CLOSE
      4 | 0x80,      // SYN_RECV -> FIN_WAIT1 + FIN
      4,             // FIN_WAIT1
      5,             // FIN_WAIT2
      7,             // TIME_WAIT -> CLOSE
      7,             // CLOSE
      9 | 0x80,      // CLOSE_WAIT -> LAST_ACK + FIN
      9,             // LAST_ACK
      7,             // LISTEN -> CLOSE
      11,            // CLOSING
      7,             // NEW_SYN_RECV -> CLOSE
  };
  EXPECT_EQ(TCP_ACTION_FIN, 0x80);
  EXPECT_EQ(TCP_STATE_MASK, 0x0f);
  for (int i = 0; i < 13; ++i) EXPECT_EQ(kTcpCloseNewState[i], linux_new_state[i]) << i;
}

TEST(TcpStateTest, CloseTransitions) {
  struct {
    TcpState from, to;
    bool fin;
  } cases[] = {
      {TCP_ESTABLISHED, TCP_FIN_WAIT1, true}, {TCP_SYN_RECV, TCP_FIN_WAIT1, true},
      {TCP_CLOSE_WAIT, TCP_LAST_ACK, true},   {TCP_SYN_SENT, TCP_CLOSE, false},
      {TCP_FIN_WAIT1, TCP_FIN_WAIT1, false},  {TCP_FIN_WAIT2, TCP_FIN_WAIT2, false},
      {TCP_CLOSING, TCP_CLOSING, false},      {TCP_LAST_ACK, TCP_LAST_ACK, false},
      {TCP_LISTEN, TCP_CLOSE, false},         {TCP_CLOSE, TCP_CLOSE, false},
      {TCP_TIME_WAIT, TCP_CLOSE, false},      {TCP_NEW_SYN_RECV, TCP_CLOSE, false},
  };
  for (const auto& c : cases) {
    const CloseTransition t = TcpCloseTransition(c.from);
    EXPECT_EQ(t.next, c.to) << SsStateName(c.from);
    EXPECT_EQ(t.send_fin, c.fin) << SsStateName(c.from);
  }
  static_assert(TcpCloseTransition(TCP_ESTABLISHED).send_fin, "usable at compile time");
}

}  // namespace
}  // namespace dpx::tcp
