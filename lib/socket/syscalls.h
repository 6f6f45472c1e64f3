// Socket system calls made by a simulated process, with Linux's results
// (>= 0 or -errno). The call runs on the process's home core; when the
// socket lives on another core the call hops there and back. `done` runs
// on the core that finishes the call (any thread may wait on it).
//
// This is what `dpxctl proc call` and the conformance scripts drive.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dpx::sock {

class ProcessTable;

enum class Sys : uint8_t {
  kSocket,      // socket(AF_INET, SOCK_STREAM, 0) [on core `core`, -1: home core]
  kBind,        // bind(fd, addr:port)
  kListen,      // listen(fd, n)
  kAccept,      // accept(fd) (non-blocking: -EAGAIN when none is ready)
  kConnect,     // connect(fd, addr:port) (-EINPROGRESS, as O_NONBLOCK)
  kSend,        // send(fd, data or n bytes of the pattern, flags)
  kRecv,        // recv(fd, n)
  kShutdown,    // shutdown(fd, how)
  kClose,       // close(fd)
  kSetsockopt,  // setsockopt(fd, level, name, val[0] or {val[0], val[1]})
  kGetsockopt,  // getsockopt(fd, level, name)
  kDup,         // dup(fd)
  kDup2,        // dup2(fd, fd2)
  kFork,        // fork(): the child's pid
  kExit,        // exit(n): returns 0 once the process is reaped
};

struct SyscallReq {
  Sys op = Sys::kSocket;
  int fd = -1;
  int fd2 = -1;
  uint32_t addr_be = 0;  // network order
  uint16_t port = 0;     // host order
  int64_t n = 0;         // backlog, byte count, how, flags (send: n bytes unless data set)
  int flags = 0;         // send flags
  int level = 0, optname = 0;
  int val[2] = {0, 0};   // option value; SO_LINGER: {l_onoff, l_linger}
  bool has_data = false;
  std::string data;      // send: these bytes instead of the pattern
  int core = -1;         // socket: the core to make it on (-1: home core)
};

struct SyscallResult {
  int64_t ret = 0;       // >= 0 or -errno
  std::string data;      // recv: the bytes read
  int val[2] = {0, 0};   // getsockopt: the value ({l_onoff, l_linger} for SO_LINGER)
  int val_len = 0;       // getsockopt: option length (4 or 8)
};

// Starts `req` for process `pid`. False (and `done` is not called) if the
// pid is unknown or the home core's inbox is full; a process that is not
// running answers -ESRCH.
bool Syscall(ProcessTable& pt, int pid, const SyscallReq& req,
             std::function<void(const SyscallResult&)> done);

// The send pattern: byte i of a send is 'A' + i % 26.
void FillPattern(std::string* out, size_t n);

// ---- text form (dpxctl proc call) ----
// Parses "bind 3 10.0.0.1:80", "send 4 1000", "send 4 hello", "setsockopt 4
// SO_LINGER 1 0", "shutdown 4 SHUT_WR", "dup2 3 7", "socket", "socket 1"
// (core 1)... InvalidArgument with a usage line on any error.
absl::StatusOr<SyscallReq> ParseSyscall(const std::vector<std::string>& words);
// "listen(3, 128) = 0" or "recv(4, ..., 100) = -1 EAGAIN (Resource
// temporarily unavailable)", as strace prints it.
std::string FormatSyscall(const SyscallReq& req, const SyscallResult& res);
// Help text: every call and its arguments.
std::string SyscallUsage();
// "EAGAIN" for 11, "" for an unknown value; ErrnoText: strerror's text.
std::string ErrnoName(int err);

}  // namespace dpx::sock
