// The executor itself: what it accepts, and that every kind of mismatch
// fails with the file:line and the expected and seen lines. Uses the RST a
// closed port sends, the least likely stack behaviour to change.
#include "conformance/runner.h"

#include <gtest/gtest.h>

#include <string>

namespace dpx::conformance {
namespace {

constexpr char kClosedPort[] = R"(0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, 0.0.0.0:8080) = 0
+0 listen(3, 128) = 0
+0 %state 3 LISTEN
+0 close(3) = 0
+0 %state 3 CLOSE
)";

absl::Status RunTail(const std::string& tail) {
  auto s = ParseScript(std::string(kClosedPort) + tail, "t.pkt");
  if (!s.ok()) return s.status();
  return RunScript(*s);
}

void ExpectFailure(const std::string& tail, std::initializer_list<const char*> needles) {
  const absl::Status st = RunTail(tail);
  ASSERT_FALSE(st.ok()) << tail;
  for (const char* n : needles)
    EXPECT_NE(st.message().find(n), std::string::npos) << "missing '" << n << "' in:\n" << st.message();
}

TEST(Runner, MatchesExpectedSegments) {
  const absl::Status st = RunTail(R"(+.1 < S 0:0(0) win 1000 <mss 1460>
+0 > R. 0:0(0) ack 1 win 0 <>
+0 %counter TcpOutRsts 1
+.5 %no_packet
)");
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(Runner, WildcardsAndOptionalFlags) {
  const absl::Status st = RunTail(R"(+.1 < S 0:0(0) win 1000
+0 > R?P?. *:*(0) ack * win * <*>
)");
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(Runner, UnexpectedSegmentFailsWithWhatWasSeen) {
  ExpectFailure("+.1 < S 0:0(0) win 1000\n+.1 %no_packet\n",
                {"t.pkt:8:", "did not expect", "expected: (none)",
                 "seen:     0.100000 > R. 0:0(0) ack 1 win 0 <>"});
}

TEST(Runner, UnexpectedSegmentAtTheEndFails) {
  ExpectFailure("+.1 < S 0:0(0) win 1000\n", {"t.pkt:end:", "> R. 0:0(0) ack 1 win 0 <>"});
}

TEST(Runner, DifferingFieldShowsBothLines) {
  ExpectFailure("+.1 < S 0:0(0) win 1000\n+0 > R. 0:0(0) ack 2\n",
                {"t.pkt:8:", "ack differs", "expected: 0.100000 > R. 0:0(0) ack 2",
                 "seen:     0.100000 > R. 0:0(0) ack 1 win 0 <>"});
  ExpectFailure("+.1 < S 0:0(0) win 1000\n+0 > R 0:0(0)\n", {"flags differ"});
  ExpectFailure("+.1 < S 0:0(0) win 1000\n+0 > R. 0:0(0) ack 1 <mss 1460>\n", {"options differ"});
}

TEST(Runner, SegmentSentTooEarlyOrNotAtAll) {
  ExpectFailure("+.1 < S 0:0(0) win 1000\n+.1 > R. 0:0(0) ack 1\n",
                {"too early", "sent at 0.100000 s, expected at 0.200000 s"});
  ExpectFailure("+.1 < R 1:1(0) win 1000\n+0 > R 1:1(0)\n",
                {"expected segment not sent", "seen:     (nothing)"});
}

TEST(Runner, CallsStatesAndCountersAreChecked) {
  ExpectFailure("+0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 4\n",
                {"t.pkt:7:", "call result differs", "socket(...) = 3"});
  ExpectFailure("+0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n"
                "+0 accept(3, ...) = -1 EAGAIN\n",
                {"accept(...) = -1 EINVAL"});
  ExpectFailure("+0 %state 3 LISTEN\n", {"state of fd 3 is TCP_CLOSE, expected TCP_LISTEN"});
  ExpectFailure("+0 %counter TcpOutRsts 1\n", {"counter TcpOutRsts is 0, expected 1"});
  ExpectFailure("+0 %counter NoSuchCounter 1\n", {"unknown counter"});
  ExpectFailure("+0 %sysctl net.ipv4.no_such_thing=1\n", {"t.pkt:7:"});
  ExpectFailure("+0 %frobnicate\n", {"unknown directive"});
  // Calls run in the script's process: an fd it does not hold is EBADF.
  ExpectFailure("+0 write(9, ..., 10) = 10\n", {"write(...) = -1 EBADF"});
}

TEST(Runner, ProcessesForkDupAndExit) {
  // fork() numbers children from 101; each process has its own fds; a
  // closed fd's connection is looked up in the tables (gone: CLOSE).
  const absl::Status st = RunTail(R"(+0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3
+0 dup(3) = 4
+0 dup2(3, 7) = 7
+0 fork() = 101
+0 fork() = 102
+0 %proc 101
+0 close(4) = 0
+0 close(4) = -1 EBADF
+0 %state 3 CLOSE
+0 exit(0) = 0
+0 %proc 100
+0 close(7) = 0
+0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 5
+0 exit(1) = 0
+0 %state 7 CLOSE
+0 %proc 102
+0 fork() = 103
)");
  EXPECT_TRUE(st.ok()) << st.message();
  ExpectFailure("+0 %proc 105\n", {"t.pkt:7:", "no process 105"});
  ExpectFailure("+0 exit(0) = 0\n+0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n",
                {"t.pkt:8:", "process 100 has exited"});
  ExpectFailure("+0 fork() = 102\n", {"fork(...) = 101"});
}

}  // namespace
}  // namespace dpx::conformance
