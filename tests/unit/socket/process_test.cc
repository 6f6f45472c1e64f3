// Processes, files and exit on two TCP stacks on the in-memory wire: only
// the last reference closes a socket, fork and dup share files, exit
// closes every socket by its state (linger ignored, highest fd first),
// shared files survive the exit of one holder, sockets on two cores.
#include "socket/process.h"

#include <cerrno>
#include <map>

#include <gtest/gtest.h>

#include "socket/syscalls.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_harness.h"

namespace dpx::sock {
namespace {

using tcp::Tcb;
using tcp::testing::kIpA;
using tcp::testing::kIpB;
using tcp::testing::TwoStacks;
using tcp::testing::WireSeg;

class ProcessTest : public ::testing::Test {
 protected:
  explicit ProcessTest(ProcessTableConfig cfg = {})
      : pt_({CoreStack{&two_.a().reactor(), &two_.a()}}, cfg) {}

  std::shared_ptr<Process> Spawn(const char* name = "app") {
    auto p = pt_.Spawn(name, 0);
    EXPECT_TRUE(p.ok()) << p.status();
    return *p;
  }
  // A connection A -> B:port; the client end is installed in p's fd table.
  int Open(Process& p, uint16_t port, Tcb** peer = nullptr) {
    auto [c, child] = two_.Connect(port);
    if (peer) *peer = child;
    return pt_.InstallFd(p, pt_.NewFile(0, c));
  }
  // Segments A sent since the last call.
  std::vector<WireSeg> FromA() {
    std::vector<WireSeg> out;
    for (const WireSeg& s : two_.NewSegments())
      if (s.dir == WireDir::kAtoB) out.push_back(s);
    return out;
  }
  SyscallResult Call(int pid, std::vector<std::string> words) {
    auto req = ParseSyscall(words);
    EXPECT_TRUE(req.ok()) << req.status();
    SyscallResult out;
    out.ret = 999;
    EXPECT_TRUE(Syscall(pt_, pid, *req, [&out](const SyscallResult& r) { out = r; }));
    two_.Run(5'000'000);
    return out;
  }
  void Exit(Process& p, int code = 0) {
    bool reaped = false;
    EXPECT_TRUE(pt_.Exit(p, code, 0, [&reaped](Process&) { reaped = true; }));
    two_.Run(5'000'000);
    EXPECT_TRUE(reaped);
    EXPECT_EQ(p.state(), ProcState::kDead);
  }

  TwoStacks two_;
  ProcessTable pt_;
};

TEST_F(ProcessTest, SpawnReservesStdio) {
  auto p = Spawn();
  EXPECT_EQ(p->pid(), 100);
  EXPECT_EQ(p->fds().open_count(), 3u);
  EXPECT_EQ(Open(*p, 80), 3);
  EXPECT_EQ(pt_.Spawn("x", 7).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pt_.Spawn("", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pt_.Spawn("x", 0, 1, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pt_.Find(100), p);
  EXPECT_EQ(pt_.Find(12345), nullptr);
}

TEST_F(ProcessTest, ClosingOneOfTwoReferencesSendsNothing) {
  auto p = Spawn();
  const int fd = Open(*p, 80);
  Tcb* sk = p->fds().Get(fd)->sk;
  FromA();
  EXPECT_EQ(pt_.Dup(*p, fd), 4);
  EXPECT_EQ(pt_.Close(*p, fd), 0);
  two_.Run(300'000'000);
  EXPECT_TRUE(FromA().empty());
  EXPECT_EQ(sk->state(), tcp::TCP_ESTABLISHED);
  EXPECT_EQ(pt_.Close(*p, fd), -EBADF);
  EXPECT_EQ(pt_.Close(*p, 4), 0);
  two_.Settle();
  auto segs = FromA();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].Flags(), "F.");
  EXPECT_EQ(pt_.files_in_use(0), 0u);
}

TEST_F(ProcessTest, Dup2OntoAnOpenFdReleasesWhatWasThere) {
  auto p = Spawn();
  const int a = Open(*p, 80);
  const int b = Open(*p, 81);
  Tcb* sa = p->fds().Get(a)->sk;
  const uint16_t b_port = rte_be_to_cpu_16(p->fds().Get(b)->sk->c.sport);
  FromA();
  EXPECT_EQ(pt_.Dup2(*p, a, b), b);
  two_.Settle();
  auto segs = FromA();
  ASSERT_EQ(segs.size(), 1u);  // the FIN of the displaced socket only
  EXPECT_EQ(segs[0].Flags(), "F.");
  EXPECT_EQ(segs[0].sport, b_port);
  EXPECT_EQ(p->fds().Get(b)->sk, sa);
  EXPECT_EQ(pt_.Dup2(*p, a, a), a);
  EXPECT_EQ(pt_.Dup2(*p, 50, 51), -EBADF);
  EXPECT_EQ(pt_.Close(*p, a), 0);
  two_.Settle();
  EXPECT_TRUE(FromA().empty());
  EXPECT_EQ(pt_.Close(*p, b), 0);
  two_.Settle();
  EXPECT_EQ(FromA().size(), 1u);
}

TEST_F(ProcessTest, ExitWithAFileSharedByAForkedChildReleasesNothing) {
  auto parent = Spawn();
  const int fd = Open(*parent, 80);
  Tcb* sk = parent->fds().Get(fd)->sk;
  // linger {1,30}: ignored by the exit (PF_EXITING), so the FIN goes at once.
  const tcp::Linger lg{1, 30};
  ASSERT_EQ(tcp::TcpSetsockopt(sk, tcp::kSolSocket, tcp::kSoLinger, &lg, sizeof(lg)), 0);
  auto child = pt_.Fork(*parent);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ((*child)->ppid(), parent->pid());
  EXPECT_EQ((*child)->fds().Get(fd), parent->fds().Get(fd));
  EXPECT_EQ((*child)->fds().open_count(), 4u);
  FromA();
  Exit(*parent, 3);
  EXPECT_EQ(parent->exit_code(), 3);
  EXPECT_EQ(parent->exit_counts().fds, 4u);
  EXPECT_EQ(parent->exit_counts().released, 0u);
  EXPECT_EQ(parent->exit_counts().shared, 1u);
  EXPECT_TRUE(FromA().empty());
  EXPECT_EQ(sk->state(), tcp::TCP_ESTABLISHED);
  EXPECT_EQ((*child)->ppid(), 1);  // reparented
  Exit(**child);
  auto segs = FromA();
  ASSERT_GE(segs.size(), 1u);
  EXPECT_EQ(segs[0].Flags(), "F.");
  EXPECT_EQ((*child)->exit_counts().released, 1u);
  EXPECT_EQ((*child)->exit_counts().fins, 1u);
  EXPECT_EQ(pt_.files_in_use(0), 0u);
}

TEST_F(ProcessTest, ExitClosesEachSocketByItsStateHighestFdFirst) {
  auto p = Spawn();
  Tcb* peer_idle = nullptr;
  Tcb* peer_unread = nullptr;
  const int idle = Open(*p, 80, &peer_idle);    // ESTABLISHED, idle: FIN
  const int unread = Open(*p, 81, &peer_unread);  // unread data: RST
  const uint16_t idle_port = rte_be_to_cpu_16(p->fds().Get(idle)->sk->c.sport);
  const uint16_t unread_port = rte_be_to_cpu_16(p->fds().Get(unread)->sk->c.sport);
  ASSERT_EQ(tcp::TcpSend(peer_unread, "0123456789", 10), 10);
  // A listener on A with a child nobody accepted: RST to the child.
  Tcb* l = tcp::TcpSocket(two_.a());
  ASSERT_EQ(tcp::TcpBind(l, 0, 9000), 0);
  ASSERT_EQ(tcp::TcpListen(l, 16), 0);
  const int lfd = pt_.InstallFd(*p, pt_.NewFile(0, l));
  Tcb* c = tcp::TcpSocket(two_.b());
  ASSERT_EQ(tcp::TcpConnect(c, kIpA, 9000), -EINPROGRESS);
  two_.Run(50'000'000);
  EXPECT_EQ(lfd, 5);
  FromA();
  const int64_t rsts0 = two_.mib_a().Get(Mib::Tcp_OutRsts);
  Exit(*p, 0);
  auto segs = FromA();
  std::vector<std::pair<std::string, uint16_t>> seen;
  for (const WireSeg& s : segs)
    if (s.flags & (RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG)) seen.push_back({s.Flags(), s.sport});
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, "R.");  // fd 5: the listener's child
  EXPECT_EQ(seen[0].second, 9000);
  EXPECT_EQ(seen[1].first, "R.");  // fd 4: unread data
  EXPECT_EQ(seen[1].second, unread_port);
  EXPECT_EQ(seen[2].first, "F.");  // fd 3: idle
  EXPECT_EQ(seen[2].second, idle_port);
  const ExitCounts& ec = p->exit_counts();
  EXPECT_EQ(ec.fds, 6u);
  EXPECT_EQ(ec.released, 3u);
  EXPECT_EQ(ec.fins, 1u);
  EXPECT_EQ(ec.rsts, 2u);
  EXPECT_EQ(ec.rsts, static_cast<uint64_t>(two_.mib_a().Get(Mib::Tcp_OutRsts) - rsts0));
  EXPECT_EQ(ec.orphans, 1u);
  EXPECT_EQ(two_.mib_a().Get(Mib::TcpExt_TCPAbortOnClose), 1);
  // A dead process answers no calls.
  EXPECT_EQ(Call(p->pid(), {"socket"}).ret, -ESRCH);
}

TEST_F(ProcessTest, SystemCallsDriveTheStackFromOutside) {
  auto p = Spawn("srv");
  const int pid = p->pid();
  EXPECT_EQ(Call(pid, {"socket"}).ret, 3);
  EXPECT_EQ(Call(pid, {"bind", "3", "10.0.0.1:7000"}).ret, 0);
  EXPECT_EQ(Call(pid, {"listen", "3", "16"}).ret, 0);
  EXPECT_EQ(Call(pid, {"accept", "3"}).ret, -EAGAIN);
  Tcb* c = tcp::TcpSocket(two_.b());
  ASSERT_EQ(tcp::TcpConnect(c, kIpA, 7000), -EINPROGRESS);
  two_.Run(10'000'000);
  ASSERT_EQ(tcp::TcpSend(c, "hello", 5), 5);
  two_.Run(10'000'000);
  EXPECT_EQ(Call(pid, {"accept", "3"}).ret, 4);
  SyscallResult r = Call(pid, {"recv", "4", "100"});
  EXPECT_EQ(r.ret, 5);
  EXPECT_EQ(r.data, "hello");
  SyscallReq rq = *ParseSyscall({"recv", "4", "100"});
  EXPECT_EQ(FormatSyscall(rq, r), "recv(4, \"hello\", 100) = 5");
  EXPECT_EQ(Call(pid, {"recv", "4", "100"}).ret, -EAGAIN);
  EXPECT_EQ(FormatSyscall(rq, Call(pid, {"recv", "4", "100"})),
            "recv(4, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)");
  EXPECT_EQ(Call(pid, {"send", "4", "30"}).ret, 30);
  EXPECT_EQ(Call(pid, {"setsockopt", "4", "SO_LINGER", "1", "0"}).ret, 0);
  r = Call(pid, {"getsockopt", "4", "SOL_SOCKET", "SO_LINGER"});
  EXPECT_EQ(r.ret, 0);
  EXPECT_EQ(r.val[0], 1);
  EXPECT_EQ(r.val[1], 0);
  EXPECT_EQ(Call(pid, {"setsockopt", "4", "TCP_NODELAY", "1"}).ret, 0);
  EXPECT_EQ(Call(pid, {"getsockopt", "4", "TCP_NODELAY"}).val[0], 1);
  two_.Run(10'000'000);
  char buf[64];
  ASSERT_EQ(tcp::TcpRecv(c, buf, sizeof(buf)), 30);
  EXPECT_EQ(std::string(buf, 5), "ABCDE");
  EXPECT_EQ(Call(pid, {"dup", "4"}).ret, 5);
  EXPECT_EQ(Call(pid, {"dup2", "4", "9"}).ret, 9);
  EXPECT_EQ(Call(pid, {"close", "4"}).ret, 0);
  EXPECT_EQ(Call(pid, {"close", "4"}).ret, -EBADF);
  EXPECT_EQ(Call(pid, {"recv", "77", "1"}).ret, -EBADF);
  EXPECT_EQ(Call(pid, {"recv", "1", "1"}).ret, -ENOTSOCK);
  EXPECT_EQ(Call(pid, {"bind", "5", "10.0.0.1:7000"}).ret, -EINVAL);
  const int child = static_cast<int>(Call(pid, {"fork"}).ret);
  EXPECT_EQ(child, 101);
  EXPECT_EQ(Call(pid, {"exit", "0"}).ret, 0);
  EXPECT_EQ(tcp::TcpSockError(c), 0);  // the fork holds fds 5 and 9
  EXPECT_EQ(Call(child, {"close", "5"}).ret, 0);
  EXPECT_EQ(Call(child, {"close", "9"}).ret, 0);  // last reference, linger {1,0}: RST
  EXPECT_EQ(tcp::TcpRecv(c, buf, sizeof(buf)), -ECONNRESET);
  SyscallResult none;
  EXPECT_FALSE(Syscall(pt_, 4242, *ParseSyscall({"fork"}), [](const SyscallResult&) {}));
  (void)none;
}

TEST(SyscallText, ParsesAndRefuses) {
  EXPECT_EQ(ParseSyscall({"socket", "1"})->core, 1);
  EXPECT_EQ(ParseSyscall({"listen", "3"})->n, 128);
  auto s = ParseSyscall({"send", "4", "hi there"});
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->has_data);
  EXPECT_EQ(s->n, 8);
  EXPECT_EQ(ParseSyscall({"shutdown", "4", "SHUT_WR"})->n, 1);
  auto b = ParseSyscall({"bind", "3", "10.1.2.3:80"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(FormatSyscall(*b, SyscallResult{}), "bind(3, 10.1.2.3:80) = 0");
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {}, {"frobnicate"}, {"bind", "3"}, {"bind", "x", "1.2.3.4:5"}, {"bind", "3", "1.2.3:5"},
           {"bind", "3", "1.2.3.4:70000"}, {"listen"}, {"recv", "3", "-1"}, {"shutdown", "3", "UP"},
           {"setsockopt", "3", "SO_LINGER", "1"}, {"setsockopt", "3", "SO_BOGUS", "1"},
           {"getsockopt", "3", "TCP_NODELAY", "1"}, {"fork", "1"}, {"exit", "x"}}) {
    auto r = ParseSyscall(bad);
    EXPECT_FALSE(r.ok()) << (bad.empty() ? "(empty)" : bad[0]);
    if (!r.ok()) {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
}

// Sockets on two cores: the exit sends one message per core and each core
// closes its own.
class TwoCoreTest : public ::testing::Test {
 protected:
  TwoCoreTest()
      : pt_({CoreStack{&two_.a().reactor(), &two_.a()}, CoreStack{&two_.b().reactor(), &two_.b()}}) {}
  TwoStacks two_;
  ProcessTable pt_;
};

TEST_F(TwoCoreTest, ExitClosesSocketsOnEveryCore) {
  auto p = *pt_.Spawn("both", 0);
  auto [c, child] = two_.Connect(80);
  const int fa = pt_.InstallFd(*p, pt_.NewFile(0, c));
  const int fb = pt_.InstallFd(*p, pt_.NewFile(1, child));
  EXPECT_EQ(fa, 3);
  EXPECT_EQ(fb, 4);
  int pid = 0, fd = 0;
  EXPECT_TRUE(SockOwner(child, &pid, &fd));
  EXPECT_EQ(pid, p->pid());
  EXPECT_EQ(fd, 4);
  // A call on the remote socket hops to core 1 and back.
  SyscallResult r;
  r.ret = 999;
  ASSERT_TRUE(Syscall(pt_, p->pid(), *ParseSyscall({"send", "4", "7"}), [&r](const SyscallResult& x) { r = x; }));
  two_.Run(10'000'000);
  EXPECT_EQ(r.ret, 7);
  bool reaped = false;
  ASSERT_TRUE(pt_.Exit(*p, 0, 9, [&reaped](Process&) { reaped = true; }));
  EXPECT_FALSE(pt_.Exit(*p, 0, 9));  // already exiting
  two_.Run(50'000'000);
  ASSERT_TRUE(reaped);
  EXPECT_EQ(p->exit_signal(), 9);
  EXPECT_EQ(p->exit_counts().released, 2u);
  EXPECT_EQ(p->exit_counts().fins, 1u);  // core 0's end: FIN
  EXPECT_EQ(p->exit_counts().rsts, 1u);  // core 1's end has the 7 bytes unread: RST
  EXPECT_EQ(pt_.files_in_use(0) + pt_.files_in_use(1), 0u);
}

// A bounded number of closes per reactor iteration.
class ChunkedExitTest : public ProcessTest {
 protected:
  static ProcessTableConfig Cfg() {
    ProcessTableConfig c;
    c.exit_closes_per_iteration = 2;
    c.exit_fds_per_iteration = 3;
    return c;
  }
  ChunkedExitTest() : ProcessTest(Cfg()) {}
};

TEST_F(ChunkedExitTest, ClosesAtMostTheBatchBetweenPolls) {
  auto p = Spawn();
  for (int i = 0; i < 9; ++i) Open(*p, static_cast<uint16_t>(80 + i));
  uint64_t last = pt_.files_in_use(0), max_step = 0, polls = 0;
  two_.a().reactor().AddPoller([&] {
    const uint64_t now = pt_.files_in_use(0);
    max_step = std::max(max_step, last - now);
    last = now;
    ++polls;
    return 0u;
  });
  Exit(*p);
  EXPECT_EQ(pt_.files_in_use(0), 0u);
  EXPECT_EQ(p->exit_counts().released, 9u);
  EXPECT_EQ(p->exit_counts().fins, 9u);
  EXPECT_EQ(p->exit_counts().max_closes_per_iteration, 2u);
  EXPECT_EQ(max_step, 2u);
  EXPECT_GE(polls, 5u);
}

}  // namespace
}  // namespace dpx::sock
