#include "tcp/tcp_header.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace dpx::tcp {
namespace {

// A SYN-ACK as it appears on the wire: ports 80 -> 40000, seq 0x01020304,
// ack 0xa0b0c0d0, doff 8 (32 bytes), flags SYN|ACK, win 65160.
constexpr uint8_t kSynAck[20] = {0x00, 0x50, 0x9c, 0x40, 0x01, 0x02, 0x03,
                                 0x04, 0xa0, 0xb0, 0xc0, 0xd0, 0x80, 0x12,
                                 0xfe, 0x88, 0x12, 0x34, 0x00, 0x00};

TEST(TcpHeaderTest, ReadsWireFields) {
  alignas(4) uint8_t buf[32] = {};
  std::memcpy(buf, kSynAck, sizeof(kSynAck));
  const auto& h = *reinterpret_cast<const TcpHeader*>(buf);
  EXPECT_EQ(SrcPort(h), 80);
  EXPECT_EQ(DstPort(h), 40000);
  EXPECT_EQ(Seq(h), 0x01020304u);
  EXPECT_EQ(AckSeq(h), 0xa0b0c0d0u);
  EXPECT_EQ(HeaderLen(h), 32u);
  EXPECT_EQ(OptionsLen(h), 12u);
  EXPECT_EQ(OptionsPtr(h), buf + 20);
  EXPECT_EQ(Flags(h), TCPHDR_SYN | TCPHDR_ACK);
  EXPECT_TRUE(HasFlag(h, TCPHDR_SYN));
  EXPECT_FALSE(HasFlag(h, TCPHDR_FIN));
  EXPECT_EQ(Window(h), 65160);
  EXPECT_EQ(UrgPtr(h), 0);
}

TEST(TcpHeaderTest, SettersWriteWireBytes) {
  alignas(4) uint8_t buf[20];
  std::memset(buf, 0xee, sizeof(buf));
  auto& h = *reinterpret_cast<TcpHeader*>(buf);
  SetSrcPort(h, 80);
  SetDstPort(h, 40000);
  SetSeq(h, 0x01020304u);
  SetAckSeq(h, 0xa0b0c0d0u);
  SetHeaderLen(h, 32);
  SetFlags(h, TCPHDR_SYN | TCPHDR_ACK);
  SetWindow(h, 65160);
  h.cksum = rte_cpu_to_be_16(0x1234);
  SetUrgPtr(h, 0);
  EXPECT_EQ(std::memcmp(buf, kSynAck, sizeof(kSynAck)), 0);
}

TEST(TcpHeaderTest, ShortDataOffsetHasNoOptions) {
  TcpHeader h{};
  h.data_off = 3 << 4;  // malformed: 12 bytes
  EXPECT_EQ(HeaderLen(h), 12u);
  EXPECT_EQ(OptionsLen(h), 0u);
  SetHeaderLen(h, 60);
  EXPECT_EQ(HeaderLen(h), 60u);
  EXPECT_EQ(OptionsLen(h), 40u);
}

TEST(TcpHeaderTest, SegmentSeqLenCountsSynAndFin) {
  EXPECT_EQ(SegmentSeqLen(TCPHDR_SYN, 0), 1u);
  EXPECT_EQ(SegmentSeqLen(TCPHDR_ACK, 100), 100u);
  EXPECT_EQ(SegmentSeqLen(TCPHDR_FIN | TCPHDR_ACK, 100), 101u);
  EXPECT_EQ(SegmentSeqLen(TCPHDR_SYN | TCPHDR_FIN, 5), 7u);
}

std::string Fmt(uint8_t f) {
  char b[9];
  const size_t n = FormatFlags(f, b);
  EXPECT_EQ(n, std::strlen(b));
  return b;
}

TEST(TcpHeaderTest, FormatsFlagsLikeTcpdump) {
  EXPECT_EQ(Fmt(TCPHDR_SYN), "S");
  EXPECT_EQ(Fmt(TCPHDR_SYN | TCPHDR_ACK), "S.");
  EXPECT_EQ(Fmt(TCPHDR_FIN | TCPHDR_ACK), "F.");
  EXPECT_EQ(Fmt(TCPHDR_PSH | TCPHDR_ACK), "P.");
  EXPECT_EQ(Fmt(TCPHDR_FIN | TCPHDR_PSH | TCPHDR_ACK), "FP.");
  EXPECT_EQ(Fmt(TCPHDR_RST), "R");
  EXPECT_EQ(Fmt(TCPHDR_RST | TCPHDR_ACK), "R.");
  EXPECT_EQ(Fmt(TCPHDR_SYN | TCPHDR_ECE | TCPHDR_CWR), "SEW");
  EXPECT_EQ(Fmt(0xff), "FSRP.UEW");
  EXPECT_EQ(Fmt(0), "none");
}

}  // namespace
}  // namespace dpx::tcp
