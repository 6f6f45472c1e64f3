#include "socket/syscalls.h"

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "net/ipv4_addr.h"
#include "socket/process.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_stack.h"

namespace dpx::sock {

namespace {

using Done = std::function<void(const SyscallResult&)>;

void Reply(const Done& done, int64_t ret) {
  SyscallResult r;
  r.ret = ret;
  done(r);
}

// The calls that need only the socket, run on the socket's core.
SyscallResult SockCall(File* f, const SyscallReq& q) {
  SyscallResult r;
  tcp::Tcb* sk = f->sk;
  switch (q.op) {
    case Sys::kBind:
      r.ret = tcp::TcpBind(sk, q.addr_be, q.port);
      break;
    case Sys::kListen:
      r.ret = tcp::TcpListen(sk, static_cast<int>(q.n));
      break;
    case Sys::kConnect:
      r.ret = tcp::TcpConnect(sk, q.addr_be, q.port);
      break;
    case Sys::kSend: {
      std::string pattern;
      const std::string* data = &q.data;
      if (!q.has_data) {
        FillPattern(&pattern, static_cast<size_t>(q.n));
        data = &pattern;
      }
      r.ret = tcp::TcpSendFlags(sk, data->data(), data->size(), q.flags);
      break;
    }
    case Sys::kRecv: {
      std::string buf(static_cast<size_t>(q.n), '\0');
      r.ret = tcp::TcpRecv(sk, buf.data(), buf.size());
      if (r.ret > 0) r.data = buf.substr(0, static_cast<size_t>(r.ret));
      break;
    }
    case Sys::kShutdown:
      r.ret = tcp::TcpShutdown(sk, static_cast<int>(q.n));
      break;
    case Sys::kSetsockopt: {
      if (q.level == tcp::kSolSocket && q.optname == tcp::kSoLinger) {
        tcp::Linger lg{q.val[0], q.val[1]};
        r.ret = tcp::TcpSetsockopt(sk, q.level, q.optname, &lg, sizeof(lg));
      } else {
        const int v = q.val[0];
        r.ret = tcp::TcpSetsockopt(sk, q.level, q.optname, &v, sizeof(v));
      }
      break;
    }
    case Sys::kGetsockopt: {
      union {
        int i;
        tcp::Linger lg;
      } out{};
      size_t len = sizeof(out);
      r.ret = tcp::TcpGetsockopt(sk, q.level, q.optname, &out, &len);
      r.val_len = static_cast<int>(len);
      if (len >= sizeof(tcp::Linger)) {
        r.val[0] = out.lg.l_onoff;
        r.val[1] = out.lg.l_linger;
      } else {
        r.val[0] = out.i;
      }
      break;
    }
    default:
      r.ret = -EINVAL;
  }
  return r;
}

// Installs `f` (made on core `core` for process `pid`) in the process's fd
// table on its home core; if the process is gone or its table is full, the
// file is released again on its core.
void InstallAndReply(ProcessTable& pt, int pid, unsigned core, File* f, Done done) {
  const bool ok = pt.RunOnHome(pid, [&pt, core, f, done](Process& p) {
    int fd = -ESRCH;
    if (p.state() == ProcState::kRunning) fd = pt.InstallFd(p, f);
    if (fd < 0) {
      if (core == p.home_core()) pt.Release(f, false);
      else pt.RunOnCore(core, [&pt, f] { pt.Release(f, false); });
    }
    Reply(done, fd);
  });
  if (!ok) {
    pt.Release(f, false);
    Reply(done, -ESRCH);
  }
}

void HomeCall(ProcessTable& pt, Process& p, const SyscallReq& q, Done done) {
  if (p.state() != ProcState::kRunning) return Reply(done, -ESRCH);
  const unsigned home = p.home_core();
  switch (q.op) {
    case Sys::kSocket: {
      const unsigned core = q.core < 0 ? home : static_cast<unsigned>(q.core);
      if (core >= pt.cores()) return Reply(done, -EINVAL);
      if (p.fds().open_count() >= p.fds().max_fds()) return Reply(done, -EMFILE);
      const int pid = p.pid();
      auto make = [&pt, core, pid, done] {
        tcp::Tcb* sk = tcp::TcpSocket(*pt.core(core).tcp);
        if (sk == nullptr) return Reply(done, -ENOBUFS);
        File* f = pt.NewFile(core, sk);
        if (f == nullptr) {
          tcp::TcpClose(sk);
          return Reply(done, -ENOBUFS);
        }
        InstallAndReply(pt, pid, core, f, done);
      };
      if (core == home) {
        tcp::Tcb* sk = tcp::TcpSocket(*pt.core(core).tcp);
        if (sk == nullptr) return Reply(done, -ENOBUFS);
        File* f = pt.NewFile(core, sk);
        if (f == nullptr) {
          tcp::TcpClose(sk);
          return Reply(done, -ENOBUFS);
        }
        const int fd = pt.InstallFd(p, f);
        if (fd < 0) pt.Release(f, false);
        return Reply(done, fd);
      }
      if (!pt.RunOnCore(core, make)) Reply(done, -EAGAIN);
      return;
    }
    case Sys::kClose:
      return Reply(done, pt.Close(p, q.fd));
    case Sys::kDup:
      return Reply(done, pt.Dup(p, q.fd));
    case Sys::kDup2:
      return Reply(done, pt.Dup2(p, q.fd, q.fd2));
    case Sys::kFork: {
      auto child = pt.Fork(p);
      return Reply(done, child.ok() ? (*child)->pid() : -EAGAIN);
    }
    case Sys::kExit:
      pt.Exit(p, static_cast<int>(q.n), 0, [done](Process&) { Reply(done, 0); });
      return;
    default:
      break;
  }
  // Calls on one socket.
  File* f = p.fds().Get(q.fd);
  if (f == nullptr) return Reply(done, -EBADF);
  if (!f->is_socket()) return Reply(done, -ENOTSOCK);
  const int pid = p.pid();
  auto run = [&pt, f, q, pid, home, done] {
    if (q.op == Sys::kAccept) {
      tcp::Tcb* child = nullptr;
      const int r = tcp::TcpAccept(f->sk, &child);
      if (r < 0) return Reply(done, r);
      File* cf = pt.NewFile(f->core, child);
      if (cf == nullptr) {
        tcp::TcpClose(child);
        return Reply(done, -ENOBUFS);
      }
      if (f->core == home) {
        // Same core: install now (the caller is on the home core).
        auto p = pt.Find(pid);
        int fd = p && p->state() == ProcState::kRunning ? pt.InstallFd(*p, cf) : -ESRCH;
        if (fd < 0) pt.Release(cf, false);
        return Reply(done, fd);
      }
      return InstallAndReply(pt, pid, f->core, cf, done);
    }
    done(SockCall(f, q));
  };
  if (f->core == home) {
    run();
  } else if (!pt.RunOnCore(f->core, run)) {
    Reply(done, -EAGAIN);
  }
}

}  // namespace

bool Syscall(ProcessTable& pt, int pid, const SyscallReq& req, Done done) {
  return pt.RunOnHome(pid, [&pt, req, done = std::move(done)](Process& p) { HomeCall(pt, p, req, done); });
}

void FillPattern(std::string* out, size_t n) {
  out->resize(n);
  for (size_t i = 0; i < n; ++i) (*out)[i] = static_cast<char>('A' + i % 26);
}

// ---------------------------------------------------------------- text

namespace {

struct Name {
  const char* name;
  int value;
};
constexpr Name kOpts[] = {
    {"SO_LINGER", tcp::kSoLinger},       {"SO_SNDBUF", tcp::kSoSndbuf},
    {"SO_RCVBUF", tcp::kSoRcvbuf},       {"SO_KEEPALIVE", tcp::kSoKeepalive},
    {"SO_ERROR", tcp::kSoError},         {"TCP_NODELAY", tcp::kTcpNodelay},
    {"TCP_LINGER2", tcp::kTcpLinger2},   {"TCP_CORK", tcp::kTcpCork},
    {"TCP_MAXSEG", tcp::kTcpMaxseg},     {"TCP_KEEPIDLE", tcp::kTcpKeepidle},
    {"TCP_KEEPINTVL", tcp::kTcpKeepintvl}, {"TCP_KEEPCNT", tcp::kTcpKeepcnt},
    {"TCP_SYNCNT", tcp::kTcpSyncnt},
};

bool OptByName(const std::string& s, int* level, int* name) {
  for (const Name& n : kOpts)
    if (s == n.name) {
      *name = n.value;
      *level = s.rfind("SO_", 0) == 0 ? tcp::kSolSocket : tcp::kIpprotoTcp;
      return true;
    }
  return false;
}

std::string OptName(int level, int name) {
  for (const Name& n : kOpts) {
    const int l = std::string(n.name).rfind("SO_", 0) == 0 ? tcp::kSolSocket : tcp::kIpprotoTcp;
    if (l == level && n.value == name) return n.name;
  }
  return absl::StrCat(name);
}

absl::Status Usage(absl::string_view call, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(call, ": ", why, " (usage: ", call, " ",
                                                 [&]() -> std::string {
                                                   for (absl::string_view line : absl::StrSplit(SyscallUsage(), '\n')) {
                                                     std::vector<std::string> w = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
                                                     if (!w.empty() && w[0] == call) {
                                                       std::string rest;
                                                       for (size_t i = 1; i < w.size() && w[i] != "--"; ++i) absl::StrAppend(&rest, i > 1 ? " " : "", w[i]);
                                                       return rest;
                                                     }
                                                   }
                                                   return "";
                                                 }(),
                                                 ")"));
}

bool ParseFd(const std::string& s, int* fd) { return absl::SimpleAtoi(s, fd) && *fd >= 0; }

bool ParseAddrPort(const std::string& s, uint32_t* addr, uint16_t* port) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  uint32_t p;
  if (!absl::SimpleAtoi(s.substr(colon + 1), &p) || p > 65535) return false;
  if (!ParseIpv4(s.substr(0, colon), addr)) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

std::string AddrPort(uint32_t addr_be, uint16_t port) {
  return absl::StrCat(FormatIpv4(addr_be), ":", port);
}

std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\\' || c == '"') absl::StrAppend(&out, "\\", std::string(1, static_cast<char>(c)));
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 32 || c > 126) absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    else out += static_cast<char>(c);
  }
  return out;
}

}  // namespace

std::string SyscallUsage() {
  return
      "socket [CORE]                      -- a TCP socket (on CORE; default the home core)\n"
      "bind FD ADDR:PORT                  -- e.g. bind 3 0.0.0.0:8080\n"
      "listen FD [BACKLOG]                -- backlog 128 by default\n"
      "accept FD                          -- non-blocking: EAGAIN when none is ready\n"
      "connect FD ADDR:PORT               -- non-blocking: EINPROGRESS\n"
      "send FD N|TEXT [MSG_MORE]          -- N bytes of the pattern ABC...Z, or TEXT\n"
      "recv FD N                          -- up to N bytes\n"
      "shutdown FD SHUT_RD|SHUT_WR|SHUT_RDWR\n"
      "close FD\n"
      "setsockopt FD OPTION VALUE [VALUE] -- SO_LINGER ONOFF SECS, TCP_LINGER2 N, TCP_NODELAY 0|1,\n"
      "                                      SO_SNDBUF N, SO_RCVBUF N, SO_KEEPALIVE 0|1, TCP_CORK 0|1\n"
      "getsockopt FD OPTION\n"
      "dup FD\n"
      "dup2 FD NEWFD\n"
      "fork                               -- prints the child's pid\n"
      "exit [CODE]                        -- the process exits (do_exit)\n";
}

absl::StatusOr<SyscallReq> ParseSyscall(const std::vector<std::string>& w) {
  if (w.empty()) return absl::InvalidArgumentError("no system call given");
  SyscallReq q;
  const std::string& c = w[0];
  auto nargs = [&](size_t lo, size_t hi) { return w.size() - 1 >= lo && w.size() - 1 <= hi; };
  auto fd_at = [&](size_t i, int* out) { return i < w.size() && ParseFd(w[i], out); };
  if (c == "socket") {
    q.op = Sys::kSocket;
    if (!nargs(0, 1)) return Usage(c, "wrong number of arguments");
    if (w.size() == 2 && !ParseFd(w[1], &q.core)) return Usage(c, "CORE must be a core number");
  } else if (c == "bind" || c == "connect") {
    q.op = c == "bind" ? Sys::kBind : Sys::kConnect;
    if (!nargs(2, 2) || !fd_at(1, &q.fd)) return Usage(c, "wrong arguments");
    if (!ParseAddrPort(w[2], &q.addr_be, &q.port))
      return Usage(c, absl::StrCat("'", w[2], "' is not ADDR:PORT"));
  } else if (c == "listen") {
    q.op = Sys::kListen;
    q.n = 128;
    if (!nargs(1, 2) || !fd_at(1, &q.fd)) return Usage(c, "wrong arguments");
    if (w.size() == 3 && !absl::SimpleAtoi(w[2], &q.n)) return Usage(c, "BACKLOG must be a number");
  } else if (c == "accept" || c == "close" || c == "dup") {
    q.op = c == "accept" ? Sys::kAccept : c == "close" ? Sys::kClose : Sys::kDup;
    if (!nargs(1, 1) || !fd_at(1, &q.fd)) return Usage(c, "wrong arguments");
  } else if (c == "dup2") {
    q.op = Sys::kDup2;
    if (!nargs(2, 2) || !fd_at(1, &q.fd) || !fd_at(2, &q.fd2)) return Usage(c, "wrong arguments");
  } else if (c == "send" || c == "write") {
    q.op = Sys::kSend;
    if (!nargs(2, 3) || !fd_at(1, &q.fd)) return Usage("send", "wrong arguments");
    if (!absl::SimpleAtoi(w[2], &q.n) || q.n < 0) {
      q.has_data = true;
      q.data = w[2];
      q.n = static_cast<int64_t>(q.data.size());
    }
    if (q.n > (64 << 20)) return Usage("send", "at most 64 MiB per call");
    if (w.size() == 4) {
      if (w[3] != "MSG_MORE") return Usage("send", "the only flag is MSG_MORE");
      q.flags = tcp::kMsgMore;
    }
  } else if (c == "recv" || c == "read") {
    q.op = Sys::kRecv;
    if (!nargs(2, 2) || !fd_at(1, &q.fd) || !absl::SimpleAtoi(w[2], &q.n) || q.n < 0 || q.n > (64 << 20))
      return Usage("recv", "wrong arguments (N up to 64 MiB)");
  } else if (c == "shutdown") {
    q.op = Sys::kShutdown;
    if (!nargs(2, 2) || !fd_at(1, &q.fd)) return Usage(c, "wrong arguments");
    if (w[2] == "SHUT_RD" || w[2] == "0") q.n = tcp::kShutRd;
    else if (w[2] == "SHUT_WR" || w[2] == "1") q.n = tcp::kShutWr;
    else if (w[2] == "SHUT_RDWR" || w[2] == "2") q.n = tcp::kShutRdWr;
    else return Usage(c, absl::StrCat("'", w[2], "' is not SHUT_RD, SHUT_WR or SHUT_RDWR"));
  } else if (c == "setsockopt" || c == "getsockopt") {
    q.op = c == "setsockopt" ? Sys::kSetsockopt : Sys::kGetsockopt;
    size_t i = 2;
    if (!fd_at(1, &q.fd) || w.size() < 3) return Usage(c, "wrong arguments");
    if (w[i] == "SOL_SOCKET" || w[i] == "IPPROTO_TCP" || w[i] == "SOL_TCP") ++i;  // implied by the option
    if (i >= w.size() || !OptByName(w[i], &q.level, &q.optname))
      return Usage(c, absl::StrCat("unknown option '", i < w.size() ? w[i] : "", "'"));
    ++i;
    const bool linger = q.optname == tcp::kSoLinger && q.level == tcp::kSolSocket;
    const size_t want = q.op == Sys::kGetsockopt ? 0 : linger ? 2 : 1;
    if (w.size() - i != want) return Usage(c, linger && want ? "SO_LINGER takes ONOFF SECONDS" : "wrong number of values");
    for (size_t k = 0; k < want; ++k)
      if (!absl::SimpleAtoi(w[i + k], &q.val[k])) return Usage(c, absl::StrCat("'", w[i + k], "' is not a number"));
  } else if (c == "fork") {
    q.op = Sys::kFork;
    if (!nargs(0, 0)) return Usage(c, "takes no arguments");
  } else if (c == "exit") {
    q.op = Sys::kExit;
    if (!nargs(0, 1)) return Usage(c, "wrong arguments");
    if (w.size() == 2 && !absl::SimpleAtoi(w[1], &q.n)) return Usage(c, "CODE must be a number");
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown system call '", c, "'; one of: socket bind listen accept connect send recv shutdown close setsockopt getsockopt dup dup2 fork exit"));
  }
  return q;
}

std::string ErrnoName(int e) {
  switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT)
    E(EBUSY) E(EEXIST) E(EINVAL) E(EMFILE) E(ENFILE) E(ENOSPC) E(EPIPE) E(ENOTSOCK) E(EDESTADDRREQ)
    E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT) E(EPROTONOSUPPORT) E(EOPNOTSUPP) E(EAFNOSUPPORT)
    E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ECONNABORTED) E(ECONNRESET)
    E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTUNREACH) E(EALREADY)
    E(EINPROGRESS) E(EXDEV)
#undef E
    default: return "";
  }
}

std::string FormatSyscall(const SyscallReq& q, const SyscallResult& r) {
  std::string call;
  switch (q.op) {
    case Sys::kSocket: call = "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)"; break;
    case Sys::kBind: call = absl::StrCat("bind(", q.fd, ", ", AddrPort(q.addr_be, q.port), ")"); break;
    case Sys::kConnect: call = absl::StrCat("connect(", q.fd, ", ", AddrPort(q.addr_be, q.port), ")"); break;
    case Sys::kListen: call = absl::StrCat("listen(", q.fd, ", ", q.n, ")"); break;
    case Sys::kAccept: call = absl::StrCat("accept(", q.fd, ", ...)"); break;
    case Sys::kSend:
      call = absl::StrCat("send(", q.fd, ", ", q.has_data ? absl::StrCat("\"", Escape(q.data), "\"") : "...", ", ",
                          q.n, q.flags ? ", MSG_MORE" : "", ")");
      break;
    case Sys::kRecv:
      call = absl::StrCat("recv(", q.fd, ", ", r.ret > 0 ? absl::StrCat("\"", Escape(r.data), "\"") : "...", ", ", q.n, ")");
      break;
    case Sys::kShutdown:
      call = absl::StrCat("shutdown(", q.fd, ", ", q.n == 0 ? "SHUT_RD" : q.n == 1 ? "SHUT_WR" : "SHUT_RDWR", ")");
      break;
    case Sys::kClose: call = absl::StrCat("close(", q.fd, ")"); break;
    case Sys::kSetsockopt:
    case Sys::kGetsockopt: {
      const bool linger = q.level == tcp::kSolSocket && q.optname == tcp::kSoLinger;
      const bool set = q.op == Sys::kSetsockopt;
      const int* v = set ? q.val : r.val;
      std::string val = linger ? absl::StrCat("{l_onoff=", v[0], ", l_linger=", v[1], "}")
                               : absl::StrCat("[", v[0], "]");
      if (!set && r.ret < 0) val = "...";
      call = absl::StrCat(set ? "setsockopt(" : "getsockopt(", q.fd, ", ",
                          q.level == tcp::kSolSocket ? "SOL_SOCKET" : "IPPROTO_TCP", ", ",
                          OptName(q.level, q.optname), ", ", val, ", ",
                          set ? absl::StrCat(linger ? 8 : 4) : absl::StrCat("[", r.val_len, "]"), ")");
      break;
    }
    case Sys::kDup: call = absl::StrCat("dup(", q.fd, ")"); break;
    case Sys::kDup2: call = absl::StrCat("dup2(", q.fd, ", ", q.fd2, ")"); break;
    case Sys::kFork: call = "fork()"; break;
    case Sys::kExit: call = absl::StrCat("exit(", q.n, ")"); break;
  }
  if (r.ret >= 0) return absl::StrCat(call, " = ", r.ret);
  const int e = static_cast<int>(-r.ret);
  return absl::StrCat(call, " = -1 ", ErrnoName(e), " (", std::strerror(e), ")");
}

}  // namespace dpx::sock
