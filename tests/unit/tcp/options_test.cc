#include "tcp/options.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace dpx::tcp {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Write(const OutOptions& o) {
  uint8_t buf[MAX_TCP_OPTION_SPACE + 8];
  std::memset(buf, 0xcc, sizeof(buf));
  const size_t n = WriteOptions(o, buf);
  EXPECT_EQ(n, OptionsSize(o));
  EXPECT_EQ(n % 4, 0u);
  EXPECT_LE(n, MAX_TCP_OPTION_SPACE);
  for (size_t i = n; i < sizeof(buf); ++i) EXPECT_EQ(buf[i], 0xcc) << "wrote past " << n;
  return Bytes(buf, buf + n);
}

OptionParseContext SynCtx() {
  OptionParseContext c;
  c.syn = true;
  return c;
}

OptionParseContext EstabCtx(bool ts, bool sack) {
  OptionParseContext c;
  c.estab = true;
  c.tstamp_ok = ts;
  c.sack_ok = sack;
  return c;
}

// ---- Writing, byte for byte as Linux ----

TEST(OptionsWriteTest, LinuxSynLayout) {
  OutOptions o;
  o.mss = 1460;
  o.timestamps = true;
  o.sack_perm = true;
  o.wscale = true;
  o.ws = 7;
  o.tsval = 0x11223344;
  o.tsecr = 0;
  // tcpdump -X of a Linux SYN: mss 1460,sackOK,TS val .. ecr 0,nop,wscale 7
  const Bytes want = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x11, 0x22,
                      0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
  EXPECT_EQ(Write(o), want);
}

TEST(OptionsWriteTest, SynWithoutTimestamps) {
  OutOptions o;
  o.mss = 1460;
  o.sack_perm = true;
  o.wscale = true;
  o.ws = 7;
  // mss 1460,nop,nop,sackOK,nop,wscale 7
  const Bytes want = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02, 0x01, 0x03, 0x03, 0x07};
  EXPECT_EQ(Write(o), want);
}

TEST(OptionsWriteTest, SynWithoutSack) {
  OutOptions o;
  o.mss = 536;
  o.timestamps = true;
  o.tsval = 1;
  o.tsecr = 2;
  o.wscale = true;
  o.ws = 0;
  const Bytes want = {0x02, 0x04, 0x02, 0x18, 0x01, 0x01, 0x08, 0x0a, 0, 0,
                      0,    1,    0,    0,    0,    2,    0x01, 0x03, 0x03, 0x00};
  EXPECT_EQ(Write(o), want);
}

TEST(OptionsWriteTest, MssOnly) {
  OutOptions o;
  o.mss = 1460;
  EXPECT_EQ(Write(o), (Bytes{0x02, 0x04, 0x05, 0xb4}));
  EXPECT_TRUE(Write(OutOptions{}).empty());
}

TEST(OptionsWriteTest, EstablishedTimestamp) {
  OutOptions o;
  o.timestamps = true;
  o.tsval = 0xdeadbeef;
  o.tsecr = 0x01020304;
  const Bytes want = {0x01, 0x01, 0x08, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};
  EXPECT_EQ(Write(o), want);
}

TEST(OptionsWriteTest, EstablishedTimestampAndSackBlocks) {
  const SackBlock blocks[] = {{0x1000, 0x2000}, {0x3000, 0x4000}};
  OutOptions o;
  o.timestamps = true;
  o.tsval = 7;
  o.tsecr = 9;
  o.sack_blocks = blocks;
  o.num_sack_blocks = 2;
  const Bytes want = {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 7, 0, 0, 0, 9,
                      0x01, 0x01, 0x05, 0x12,  // nop,nop,sack len 18
                      0, 0, 0x10, 0, 0, 0, 0x20, 0,
                      0, 0, 0x30, 0, 0, 0, 0x40, 0};
  EXPECT_EQ(Write(o), want);
}

TEST(OptionsWriteTest, SackBlocksCappedBySpace) {
  const SackBlock blocks[4] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  OutOptions o;
  o.sack_blocks = blocks;
  o.num_sack_blocks = 4;
  EXPECT_EQ(Write(o).size(), 36u);  // 4 blocks without timestamps
  o.timestamps = true;
  const Bytes b = Write(o);
  EXPECT_EQ(b.size(), 40u);  // 3 blocks with timestamps, as Linux
  EXPECT_EQ(b[15], 2 + 3 * 8);
  EXPECT_EQ(MaxSackBlocks(0), 4);
  EXPECT_EQ(MaxSackBlocks(12), 3);
  EXPECT_EQ(MaxSackBlocks(36), 0);
}

// ---- Parsing, like tcp_parse_options ----

TEST(OptionsParseTest, LinuxSynRoundTrip) {
  OutOptions o;
  o.mss = 1460;
  o.timestamps = true;
  o.sack_perm = true;
  o.wscale = true;
  o.ws = 7;
  o.tsval = 123456789;
  o.tsecr = 0;
  const Bytes b = Write(o);
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(b.data(), b.size(), SynCtx(), &p));
  EXPECT_EQ(p.mss_clamp, 1460);
  EXPECT_TRUE(p.wscale_ok);
  EXPECT_EQ(p.snd_wscale, 7);
  EXPECT_TRUE(p.sack_ok);
  EXPECT_TRUE(p.saw_tstamp);
  EXPECT_EQ(p.rcv_tsval, 123456789u);
  EXPECT_EQ(p.rcv_tsecr, 0u);
  EXPECT_EQ(p.num_sacks, 0);
}

TEST(OptionsParseTest, SackBlocksRoundTrip) {
  const SackBlock blocks[] = {{0xfffffff0u, 0x10u}, {100, 200}, {300, 400}};
  OutOptions o;
  o.timestamps = true;
  o.tsval = 5;
  o.tsecr = 6;
  o.sack_blocks = blocks;
  o.num_sack_blocks = 3;
  const Bytes b = Write(o);
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(b.data(), b.size(), EstabCtx(true, true), &p));
  ASSERT_EQ(p.num_sacks, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p.sacks[i].start_seq, blocks[i].start_seq);
    EXPECT_EQ(p.sacks[i].end_seq, blocks[i].end_seq);
  }
  EXPECT_EQ(p.rcv_tsval, 5u);
  EXPECT_EQ(p.rcv_tsecr, 6u);
}

TEST(OptionsParseTest, FourSackBlocksWithoutTimestamps) {
  const SackBlock blocks[4] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  OutOptions o;
  o.sack_blocks = blocks;
  o.num_sack_blocks = 4;
  const Bytes b = Write(o);
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(b.data(), b.size(), EstabCtx(false, true), &p));
  ASSERT_EQ(p.num_sacks, 4);
  EXPECT_EQ(p.sacks[3].start_seq, 7u);
  EXPECT_EQ(p.sacks[3].end_seq, 8u);
}

TEST(OptionsParseTest, SynOnlyOptionsIgnoredOnEstablishedSegments) {
  const Bytes syn = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07, 0x01, 0x01, 0x04, 0x02};
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(syn.data(), syn.size(), EstabCtx(true, false), &p));
  EXPECT_EQ(p.mss_clamp, 0);
  EXPECT_FALSE(p.wscale_ok);
  EXPECT_FALSE(p.sack_ok);
  // Non-SYN segment before establishment (e.g. in SYN-RECV): same.
  ParsedOptions q;
  ASSERT_TRUE(ParseOptions(syn.data(), syn.size(), OptionParseContext{}, &q));
  EXPECT_EQ(q.mss_clamp, 0);
  EXPECT_FALSE(q.wscale_ok);
}

TEST(OptionsParseTest, TimestampOnlyWhenNegotiatedOrOffered) {
  const Bytes ts = {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2};
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(ts.data(), ts.size(), EstabCtx(false, false), &p));
  EXPECT_FALSE(p.saw_tstamp);  // not negotiated
  ParsedOptions q;
  ASSERT_TRUE(ParseOptions(ts.data(), ts.size(), EstabCtx(true, false), &q));
  EXPECT_TRUE(q.saw_tstamp);
  OptionParseContext off = SynCtx();
  off.sysctl_timestamps = false;
  ParsedOptions r;
  ASSERT_TRUE(ParseOptions(ts.data(), ts.size(), off, &r));
  EXPECT_FALSE(r.saw_tstamp);
}

TEST(OptionsParseTest, SackBlocksNeedSackPermitted) {
  const Bytes sack = {0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2};
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(sack.data(), sack.size(), EstabCtx(false, false), &p));
  EXPECT_EQ(p.num_sacks, 0);
  ParsedOptions q;
  ASSERT_TRUE(ParseOptions(sack.data(), sack.size(), EstabCtx(false, true), &q));
  EXPECT_EQ(q.num_sacks, 1);
}

TEST(OptionsParseTest, WscaleAbove14IsClamped) {
  const Bytes b = {0x01, 0x03, 0x03, 0x0f};
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(b.data(), b.size(), SynCtx(), &p));
  EXPECT_TRUE(p.wscale_ok);
  EXPECT_EQ(p.snd_wscale, TCP_MAX_WSCALE);
  EXPECT_TRUE(p.wscale_clamped);
}

TEST(OptionsParseTest, UserMssClampsAndZeroMssIgnored) {
  const Bytes b = {0x02, 0x04, 0x05, 0xb4};
  OptionParseContext c = SynCtx();
  c.user_mss = 1200;
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(b.data(), b.size(), c, &p));
  EXPECT_EQ(p.mss_clamp, 1200);
  const Bytes z = {0x02, 0x04, 0x00, 0x00};
  ParsedOptions q;
  ASSERT_TRUE(ParseOptions(z.data(), z.size(), SynCtx(), &q));
  EXPECT_EQ(q.mss_clamp, 0);
}

TEST(OptionsParseTest, UnknownKindsSkippedAndEolStops) {
  // kind 30 (MPTCP) len 4, kind 254 (experimental) len 6, then TS.
  const Bytes b = {30,   4,    0xaa, 0xbb, 254,  6,    1,    2,    3, 4,
                   0x08, 0x0a, 0,    0,    0,    9,    0,    0,    0, 8};
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(b.data(), b.size(), SynCtx(), &p));
  EXPECT_TRUE(p.saw_tstamp);
  EXPECT_EQ(p.rcv_tsval, 9u);
  EXPECT_EQ(p.rcv_tsecr, 8u);
  // After EOL nothing counts, even a well-formed MSS.
  const Bytes e = {0x00, 0x02, 0x04, 0x05, 0xb4};
  ParsedOptions q;
  EXPECT_TRUE(ParseOptions(e.data(), e.size(), SynCtx(), &q));
  EXPECT_EQ(q.mss_clamp, 0);
}

TEST(OptionsParseTest, WrongLengthForKnownKindIsSkipped) {
  // MSS with length 5, then a good wscale: the MSS is ignored, the rest
  // parsed (Linux checks opsize per kind and skips by opsize).
  const Bytes b = {0x02, 0x05, 0x05, 0xb4, 0x00, 0x03, 0x03, 0x02};
  ParsedOptions p;
  ASSERT_TRUE(ParseOptions(b.data(), b.size(), SynCtx(), &p));
  EXPECT_EQ(p.mss_clamp, 0);
  EXPECT_TRUE(p.wscale_ok);
  EXPECT_EQ(p.snd_wscale, 2);
  // SACK length not 2 + 8n.
  const Bytes s = {0x05, 0x0b, 0, 0, 0, 1, 0, 0, 0, 2, 0};
  ParsedOptions q;
  ASSERT_TRUE(ParseOptions(s.data(), s.size(), EstabCtx(false, true), &q));
  EXPECT_EQ(q.num_sacks, 0);
}

TEST(OptionsParseTest, MalformedLengthsRejected) {
  struct Case {
    const char* what;
    Bytes b;
  } cases[] = {
      {"length 0", {0x02, 0x00, 0x05, 0xb4}},
      {"length 1", {0x08, 0x01, 0, 0}},
      {"kind without length byte", {0x01, 0x01, 0x01, 0x02}},
      {"length past end", {0x08, 0x0a, 0, 0, 0, 1}},
      {"sack past end", {0x05, 0x12, 0, 0, 0, 1, 0, 0, 0, 2}},
  };
  for (const auto& c : cases) {
    ParsedOptions p;
    EXPECT_FALSE(ParseOptions(c.b.data(), c.b.size(), EstabCtx(true, true), &p)) << c.what;
    EXPECT_FALSE(p.saw_tstamp) << c.what;
    EXPECT_EQ(p.num_sacks, 0) << c.what;
  }
}

TEST(OptionsParseTest, MalformedKeepsWhatCameBefore) {
  const Bytes b = {0x02, 0x04, 0x05, 0xb4, 0x03, 0x00, 0x07};
  ParsedOptions p;
  EXPECT_FALSE(ParseOptions(b.data(), b.size(), SynCtx(), &p));
  EXPECT_EQ(p.mss_clamp, 1460);
  EXPECT_FALSE(p.wscale_ok);
}

TEST(OptionsParseTest, RandomGarbageNeverReadsOutOfBounds) {
  // Each case sits at the end of its own heap buffer, so ASan catches any
  // read past `len`.
  std::mt19937 rng(12345);
  for (int i = 0; i < 100000; ++i) {
    const size_t len = rng() % (MAX_TCP_OPTION_SPACE + 1);
    std::vector<uint8_t> b(len);
    for (auto& x : b) {
      const uint32_t r = rng();
      // Bias towards small kinds and lengths so real options show up.
      x = static_cast<uint8_t>((r & 3) == 0 ? r >> 8 : (r >> 8) % 12);
    }
    ParsedOptions p;
    OptionParseContext c;
    c.syn = (i & 1) != 0;
    c.sack_ok = true;
    c.tstamp_ok = true;
    ParseOptions(b.data(), len, c, &p);
    EXPECT_LE(p.num_sacks, TCP_NUM_SACKS);
    EXPECT_LE(p.snd_wscale, TCP_MAX_WSCALE);
  }
}

TEST(OptionsParseTest, AlignedTimestampFastPath) {
  const Bytes ts = {0x01, 0x01, 0x08, 0x0a, 0, 0, 1, 0, 0, 0, 2, 0};
  ParsedOptions p;
  ASSERT_TRUE(ParseAlignedTimestamp(ts.data(), ts.size(), &p));
  EXPECT_TRUE(p.saw_tstamp);
  EXPECT_EQ(p.rcv_tsval, 256u);
  EXPECT_EQ(p.rcv_tsecr, 512u);
  const Bytes other = {0x08, 0x0a, 0, 0, 1, 0, 0, 0, 2, 0, 0x01, 0x01};
  ParsedOptions q;
  EXPECT_FALSE(ParseAlignedTimestamp(other.data(), other.size(), &q));
  EXPECT_FALSE(q.saw_tstamp);
  EXPECT_FALSE(ParseAlignedTimestamp(ts.data(), 8, &q));
}

}  // namespace
}  // namespace dpx::tcp
