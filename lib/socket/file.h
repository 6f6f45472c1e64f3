// A socket as a process sees it: Linux's struct file + struct socket in
// one object. Fd slots (and fork'ed copies of them) hold references; only
// the last reference releases the socket (fput -> sock_close ->
// inet_release -> tcp_close). A File lives on the core of its socket: it is
// created and released there. Its reference count is touched only on the
// home core of the processes that hold it (fork keeps the home core, so
// every holder of a File shares one home core).
#pragma once

#include <atomic>
#include <cstdint>

#include "tcp/tcb.h"

namespace dpx::tcp {
class TcpStack;
}

namespace dpx::sock {

struct File {
  tcp::TcpStack* stack = nullptr;  // the stack (core) the socket lives on
  tcp::Tcb* sk = nullptr;          // the socket; the File is its callback ctx
  uint32_t refs = 1;               // f_count
  uint16_t core = 0;               // stack's core index
  // The first fd that held it, for `dpxctl conns` (read on the socket's core).
  std::atomic<int32_t> owner_pid{0};
  std::atomic<int32_t> owner_fd{-1};
  // Where socket events go (kEv* bits); the socket's callback is
  // File::OnEvent, which forwards here. On release the socket's callback is
  // handed to app_cb directly (a lingering close still reports
  // kEvCloseDone to the application).
  tcp::TcpCallback app_cb = nullptr;
  void* app_ctx = nullptr;

  static void OnEvent(tcp::Tcb* sk, uint32_t events, void* ctx);
  // Placeholder for fds 0-2 (stdin/stdout/stderr) of a spawned process: not
  // a socket, never released.
  static File* Stdio();
  bool is_socket() const { return sk != nullptr; }
};

// The process fd that owns `sk` (socket's core only): false for orphans,
// children not yet accepted and sockets that no process holds.
bool SockOwner(const tcp::Tcb* sk, int* pid, int* fd);

}  // namespace dpx::sock
