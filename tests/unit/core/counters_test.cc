#include "core/counters.h"

#include <gtest/gtest.h>

namespace dpx {
namespace {

TEST(Counters, SumAcrossCores) {
  CounterSet set(3);
  set.core(0).Inc(Mib::TcpExt_TCPAbortOnClose);
  set.core(2).Inc(Mib::TcpExt_TCPAbortOnClose, 4);
  set.core(1).Inc(Mib::Tcp_CurrEstab, 2);
  set.core(2).Dec(Mib::Tcp_CurrEstab);
  EXPECT_EQ(set.Sum(Mib::TcpExt_TCPAbortOnClose), 5);
  EXPECT_EQ(set.Sum(Mib::Tcp_CurrEstab), 1);
  EXPECT_EQ(set.Snapshot()[static_cast<size_t>(Mib::TcpExt_TCPAbortOnClose)], 5);
}

TEST(Counters, NamesAreLinuxNstatNames) {
  EXPECT_EQ(MibNstatName(Mib::TcpExt_TCPAbortOnClose), "TcpExtTCPAbortOnClose");
  EXPECT_EQ(MibNstatName(Mib::Ip_InHdrErrors), "IpInHdrErrors");
  Mib m;
  ASSERT_TRUE(MibByName("TcpExtTW", &m));
  EXPECT_EQ(m, Mib::TcpExt_TW);
  ASSERT_TRUE(MibByName("Tcp.OutRsts", &m));
  EXPECT_EQ(m, Mib::Tcp_OutRsts);
  EXPECT_FALSE(MibByName("TcpExtNoSuchThing", &m));
}

}  // namespace
}  // namespace dpx
