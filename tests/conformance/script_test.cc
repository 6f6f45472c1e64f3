// The script parser: what the conformance scripts are made of.
#include "conformance/script.h"

#include <gtest/gtest.h>

#include <rte_tcp.h>

namespace dpx::conformance {
namespace {

TEST(Script, ParsesPacketsCallsAndDirectives) {
  constexpr char kText[] = R"(# a passive open, then close
0      socket(AF_INET, SOCK_STREAM, 0) = 3
+0     bind(3, 192.168.0.1:8080) = 0
+0     setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
+0     < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0     > S. 0:0(0) ack 1 win * <mss 1460,sackOK,TS val * ecr 100,nop,wscale 7>
+.25   < P. 1:1001(1000) ack 1 win 502 <nop,nop,sack 1:2 5:9>
+0     > . 1:1(0) ack 1001 <*>
+0     shutdown(4, SHUT_WR) = -1 ENOTCONN (Transport endpoint is not connected)
+0     %state 4 FIN_WAIT1
+1.5   %counter TcpExtTCPAbortOnClose 1
)";
  auto s = ParseScript(kText, "t.pkt");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->lines.size(), 10u);

  const auto& bind = std::get<ScriptCall>(s->lines[1].event);
  EXPECT_EQ(bind.name, "bind");
  ASSERT_EQ(bind.args.size(), 2u);
  EXPECT_EQ(bind.args[1].kind, ScriptArg::Kind::kAddr);
  EXPECT_EQ(bind.args[1].port, 8080);

  const auto& so = std::get<ScriptCall>(s->lines[2].event);
  ASSERT_EQ(so.args[3].kind, ScriptArg::Kind::kStruct);
  EXPECT_EQ(so.args[3].fields[1].first, "l_linger");

  const auto& syn = std::get<ScriptPacket>(s->lines[3].event);
  EXPECT_TRUE(syn.inbound);
  EXPECT_EQ(syn.flags, RTE_TCP_SYN_FLAG);
  ASSERT_TRUE(syn.options.has_value());
  ASSERT_EQ(syn.options->size(), 5u);
  EXPECT_EQ((*syn.options)[2].kind, ScriptOption::Kind::kTimestamp);
  EXPECT_EQ((*syn.options)[2].a.value, 100u);

  const auto& synack = std::get<ScriptPacket>(s->lines[4].event);
  EXPECT_FALSE(synack.inbound);
  EXPECT_EQ(synack.flags, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
  EXPECT_TRUE(synack.win->any);
  EXPECT_TRUE((*synack.options)[2].a.any);
  EXPECT_FALSE((*synack.options)[2].b.any);

  EXPECT_EQ(s->lines[5].time_ns, 250'000'000u);
  const auto& data = std::get<ScriptPacket>(s->lines[5].event);
  EXPECT_EQ(data.len, 1000u);
  EXPECT_EQ(data.flags, RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG);
  const auto& sack = (*data.options)[2];
  ASSERT_EQ(sack.kind, ScriptOption::Kind::kSack);
  ASSERT_EQ(sack.sack_blocks.size(), 2u);
  EXPECT_EQ(sack.sack_blocks[1], std::make_pair(5u, 9u));

  EXPECT_TRUE(std::get<ScriptPacket>(s->lines[6].event).any_options);

  const auto& sh = std::get<ScriptCall>(s->lines[7].event);
  EXPECT_EQ(sh.ret, -1);
  EXPECT_EQ(sh.err, "ENOTCONN");
  EXPECT_EQ(sh.args[1].kind, ScriptArg::Kind::kName);
  EXPECT_EQ(sh.args[1].s, "SHUT_WR");

  const auto& st = std::get<ScriptDirective>(s->lines[8].event);
  EXPECT_EQ(st.name, "state");
  EXPECT_EQ(st.words, (std::vector<std::string>{"4", "FIN_WAIT1"}));
  EXPECT_EQ(s->lines[9].time_ns, 1'750'000'000u);
}

TEST(Script, ParsesExtensions) {
  constexpr char kText[] = R"(0 setsockopt(4, IPPROTO_TCP, TCP_KEEPIDLE, [10], 4) = 0
+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [...], [4]) = 0
+.2 > P?. 1:1449(1448) ack 1 <>
+0 < . 1:1(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>
1 %peer_port 40001
)";
  auto s = ParseScript(kText, "x.pkt");
  ASSERT_TRUE(s.ok()) << s.status();
  const auto& so = std::get<ScriptCall>(s->lines[0].event);
  EXPECT_EQ(so.args[3].kind, ScriptArg::Kind::kInt);
  EXPECT_EQ(so.args[3].i, 10);
  EXPECT_EQ(std::get<ScriptCall>(s->lines[1].event).args[3].kind, ScriptArg::Kind::kEllipsis);
  EXPECT_FALSE(s->lines[0].relative);
  EXPECT_TRUE(s->lines[2].relative);
  EXPECT_FALSE(s->lines[4].relative);
  EXPECT_EQ(s->lines[2].text, "+.2 > P?. 1:1449(1448) ack 1 <>");
  const auto& p = std::get<ScriptPacket>(s->lines[2].event);
  EXPECT_EQ(p.flags, RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG);
  EXPECT_EQ(p.flags_optional, RTE_TCP_PSH_FLAG);
  ASSERT_TRUE(p.options.has_value());
  EXPECT_TRUE(p.options->empty());
  EXPECT_FALSE(p.any_options);
  EXPECT_EQ(FormatPacket(p), "> P?. 1:1449(1448) ack 1 <>");
  const auto& in = std::get<ScriptPacket>(s->lines[3].event);
  EXPECT_TRUE((*in.options)[2].b.any);
}

TEST(Script, FormatsPacketsAsScriptLines) {
  auto s = ParseScript("0 > F. 1001:1001(0) ack 1 win * <nop,nop,TS val * ecr 7>\n", "f.pkt");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FormatPacket(std::get<ScriptPacket>(s->lines[0].event)),
            "> F. 1001:1001(0) ack 1 win * <nop,nop,TS val * ecr 7>");
}

// Each malformed line is refused with the file and line number in the error.
TEST(Script, RejectsMalformedLinesNamingTheLine) {
  const char* bad[] = {
      "0 < X 0:0(0)",                      // bad flags
      "0 < S 0:10(5)",                     // END - SEQ != LEN
      "0 < S *:0(0)",                      // wildcard in an injected packet
      "0 < . 1:1(0) ack *",                // wildcard in an injected packet
      "0 < S 0:0(0) ack 5",                // ack without '.'
      "0 < S 0:0(0) <mss>",                // option without value
      "0 < S 0:0(0) <frobnicate 1>",       // unknown option
      "0 < S 0:0(0) win",                  // missing value
      "0 close(3) = -1",                   // -1 without errno
      "0 close(3 = 0",                     // unbalanced
      "0 bind(3, 1.2.3:80) = 0",           // bad address
      "x close(3) = 0",                    // bad time
      "1 close(3) = 0\n0 close(4) = 0",   // time goes backwards
      "0 %",                               // directive without a name
      "0 < P?. 1:2(1) ack 1",              // optional flag in an injected packet
      "0 > ?. 1:1(0)",                     // '?' without a flag
      "0 < S 0:0(0) <mss *>",              // wildcard option value injected
      "0 < . 1:1(0) ack 1 <nop,nop,TS val * ecr 1>",  // only ecr may be '*'
      "0 close([3) = 0",                   // unbalanced '['
  };
  for (const char* text : bad) {
    auto s = ParseScript(text, "bad.pkt");
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_NE(s.status().message().find("bad.pkt:"), std::string::npos) << s.status();
  }
  auto s = ParseScript("0 close(3) = 0\n\n# fine\n+1 < S 0:0(0) <frobnicate>\n", "l.pkt");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("l.pkt:4:"), std::string::npos) << s.status();
}

}  // namespace
}  // namespace dpx::conformance
