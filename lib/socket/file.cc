#include "socket/file.h"

#include "tcp/socket_api.h"

namespace dpx::sock {

void File::OnEvent(tcp::Tcb* sk, uint32_t events, void* ctx) {
  File* f = static_cast<File*>(ctx);
  if (f->app_cb != nullptr) f->app_cb(sk, events, f->app_ctx);
}

File* File::Stdio() {
  static File stdio;
  return &stdio;
}

bool SockOwner(const tcp::Tcb* sk, int* pid, int* fd) {
  if (sk->callback != &File::OnEvent || sk->user_ctx == nullptr) return false;
  const File* f = static_cast<const File*>(sk->user_ctx);
  // A child not yet accepted inherits its listener's callback and ctx.
  if (f->sk != sk) return false;
  const int p = f->owner_pid.load(std::memory_order_relaxed);
  if (p == 0) return false;
  *pid = p;
  *fd = f->owner_fd.load(std::memory_order_relaxed);
  return true;
}

}  // namespace dpx::sock
