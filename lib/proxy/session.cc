// The session state machine: connect to a backend (with retries), splice,
// propagate FIN and RST, time out, end. See engine.h for the behaviour.
#include <cerrno>

#include <rte_byteorder.h>

#include "core/reactor.h"
#include "proxy/engine.h"
#include "proxy/session.h"
#include "socket/file.h"
#include "socket/process.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_stack.h"

namespace dpx::proxy {

using sock::File;
using tcp::Tcb;

namespace {

void SetNodelay(Tcb* sk) {
  const int one = 1;
  tcp::TcpSetsockopt(sk, tcp::kIpprotoTcp, tcp::kTcpNodelay, &one, sizeof(one));
}

// Whether close() of sk sends an RST: with SO_LINGER {1,0}, tcp_disconnect
// resets where tcp_need_reset says so; otherwise __tcp_close resets when
// received data is unread (close-semantics.md rules 2 and 3).
bool CloseSendsReset(const Tcb* sk, bool linger_zero) {
  const tcp::TcpState st = sk->state();
  if (linger_zero) {
    return tcp::TcpStateIn(st, tcp::TCPF_ESTABLISHED | tcp::TCPF_CLOSE_WAIT | tcp::TCPF_FIN_WAIT1 |
                                   tcp::TCPF_FIN_WAIT2 | tcp::TCPF_SYN_RECV);
  }
  if (tcp::TcpStateIn(st, tcp::TCPF_CLOSE | tcp::TCPF_LISTEN | tcp::TCPF_SYN_SENT)) return false;
  return tcp::TcpReadable(sk) > 0;
}

bool IsReset(int neg_errno) { return neg_errno == -ECONNRESET || neg_errno == -EPIPE; }

}  // namespace

// ---------------------------------------------------------------- events

void ProxyEngine::OnClientEvent(Tcb* /*sk*/, uint32_t events, void* ctx) {
  auto* s = static_cast<Session*>(ctx);
  if (s->dead || !Running(s->w)) return;
  s->client.events |= events & tcp::kEvErr;
  ProxyEngine* eng = s->eng;
  eng->WithSession(s, [eng, s] { eng->Step(s); });
}

void ProxyEngine::OnBackendEvent(Tcb* /*sk*/, uint32_t events, void* ctx) {
  auto* s = static_cast<Session*>(ctx);
  if (s->dead || !Running(s->w)) return;
  s->backend.events |= events & tcp::kEvErr;
  ProxyEngine* eng = s->eng;
  eng->WithSession(s, [eng, s] { eng->Step(s); });
}

// ---------------------------------------------------------------- lifecycle

void ProxyEngine::NewSession(Listener* l, Tcb* child, File* f, int fd) {
  Worker* w = l->w;
  Session* s = sessions_->New();
  if (s == nullptr) {
    const tcp::Linger abort{1, 0};
    tcp::TcpSetsockopt(child, tcp::kSolSocket, tcp::kSoLinger, &abort, sizeof(abort));
    pt_.Close(*w->proc, fd);
    return;
  }
  s->eng = this;
  s->w = w;
  s->gen = l->fe->gen;
  s->timer.what = kTimerSession;
  s->timer.obj = s;
  s->client.file = f;
  s->client.sk = child;
  s->client.fd = fd;
  s->client_addr_be = child->c.daddr;
  s->client_port = rte_be_to_cpu_16(child->c.dport);
  s->last_active_ns = stack_.reactor().now_ns();
  s->next = w->sessions;
  if (w->sessions != nullptr) w->sessions->prev = s;
  w->sessions = s;
  ++w->nsessions;
  f->app_cb = &ProxyEngine::OnClientEvent;
  f->app_ctx = s;
  if (cfg_.nodelay) SetNodelay(child);
  ProxyCounters& fc = s->fe_counters();
  ++fc.sessions;
  ++fc.active;
  ++stats_.sessions_started;
  WithSession(s, [this, s] {
    // Reset (or aborted) while it waited in the accept queue: no backend.
    if (s->client.sk->state() == tcp::TCP_CLOSE) {
      const int e = tcp::TcpSockError(s->client.sk);
      SideFailed(s, /*client_side=*/true, e ? -e : -ECONNRESET);
      return;
    }
    StartConnect(s);
  });
}

// Settles counters and hooks; the sockets are closed by the caller first
// (or by the worker's exit). The session is freed when no call is inside.
void ProxyEngine::End(Session* s) {
  if (s->ended) return;
  s->ended = true;
  CancelTimer(s->timer);
  ProxyCounters& fc = s->fe_counters();
  --fc.active;
  if (s->connected) {
    if (ProxyCounters* bc = s->be_counters()) --bc->active;
  }
  ReleaseBackend(s);
  ++stats_.sessions_ended;
  s->dead = true;
}

void ProxyEngine::ReleaseBackend(Session* s) {
  if (s->backend_idx < 0) return;
  const int idx = s->backend_idx;
  s->backend_idx = -1;
  if (s->gen->spec.on_session_end && !destroying_) s->gen->spec.on_session_end(idx);
}

void ProxyEngine::FreeSession(Session* s) {
  s->c2b.Drop();
  s->b2c.Drop();
  CancelTimer(s->timer);
  Worker* w = s->w;
  if (s->prev != nullptr) s->prev->next = s->next;
  else w->sessions = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  --w->nsessions;
  sessions_->Delete(s);
  ResumeAccepting();
}

// close(2) on one side through the worker's fd table; with `reset`,
// SO_LINGER {1,0} first (an abort: RST).
void ProxyEngine::CloseSide(Session* s, Side& side, bool reset) {
  if (!side.open()) return;
  Tcb* sk = side.sk;
  if (reset) {
    const tcp::Linger abort{1, 0};
    tcp::TcpSetsockopt(sk, tcp::kSolSocket, tcp::kSoLinger, &abort, sizeof(abort));
  }
  const bool rst = CloseSendsReset(sk, reset);
  ProxyCounters* c = (&side == &s->client) ? &s->fe_counters() : s->be_counters();
  // No event may reach the session from this socket any more.
  side.file->app_cb = nullptr;
  side.file->app_ctx = nullptr;
  const int fd = side.fd;
  side = Side{};
  pt_.Close(*s->w->proc, fd);
  if (rst && c != nullptr) ++c->resets_sent;
}

// ---------------------------------------------------------------- connect

int ProxyEngine::PickBackend(Session* s) {
  const FrontendSpec& spec = s->gen->spec;
  const int n = static_cast<int>(spec.backends.size());
  if (n == 0) return -1;
  auto tried = [s](int i) {
    for (int k = 0; k < s->ntried; ++k)
      if (s->tried[k] == i) return true;
    return false;
  };
  int idx;
  if (spec.pick_avoiding) {
    idx = spec.pick_avoiding(s->client_addr_be, s->client_port, s->last_failed);
  } else {
    idx = spec.pick ? spec.pick(s->client_addr_be, s->client_port)
                    : static_cast<int>(rr_cursor_++ % static_cast<uint32_t>(n));
    // A retry: the next backend not yet tried, in list order.
    if (idx >= 0 && idx < n && tried(idx)) {
      for (int k = 1; k < n; ++k) {
        const int j = (idx + k) % n;
        if (!tried(j)) {
          idx = j;
          break;
        }
      }
    }
  }
  if (idx < 0 || idx >= n) return -1;
  if (s->ntried < Session::kTriedMax && !tried(idx)) s->tried[s->ntried++] = static_cast<int16_t>(idx);
  return idx;
}

void ProxyEngine::StartConnect(Session* s) {
  const FrontendSpec& spec = s->gen->spec;
  const uint32_t max_attempts = 1 + spec.connect_retries;
  while (s->attempts < max_attempts) {
    const int idx = PickBackend(s);
    if (idx < 0) break;
    ++s->attempts;
    s->backend_idx = idx;
    if (spec.on_session_start) spec.on_session_start(idx);
    ++s->be_counters()->connect_attempts;
    const int r = OpenBackend(s, spec.backends[static_cast<size_t>(idx)]);
    if (r == -EINPROGRESS) {
      ArmTimer(s->timer, spec.connect_timeout_ms);
      return;
    }
    // Failed at once (no local port, no memory, no fd).
    ConnectFailed(s, r, false);
    return;  // ConnectFailed went on with the next attempt
  }
  FailClient(s);
}

// socket(), bind() to a port whose reply hashes here, connect(). Returns
// -EINPROGRESS with s->backend open, or an error with it closed.
int ProxyEngine::OpenBackend(Session* s, Endpoint ep) {
  int r = -EADDRNOTAVAIL;
  for (int tries = 0; tries < 8; ++tries) {
    Tcb* sk = tcp::TcpSocket(stack_);
    if (sk == nullptr) return -ENOBUFS;
    File* f = pt_.NewFile(cfg_.core, sk);
    if (f == nullptr) {
      tcp::TcpClose(sk);
      return -ENOBUFS;
    }
    const int fd = pt_.InstallFd(*s->w->proc, f);
    if (fd < 0) {
      pt_.Release(f, false);
      return fd;
    }
    f->app_cb = &ProxyEngine::OnBackendEvent;
    f->app_ctx = s;
    s->backend.file = f;
    s->backend.sk = sk;
    s->backend.fd = fd;
    s->backend.events = 0;
    if (cfg_.nodelay) SetNodelay(sk);
    r = BindRssPort(sk, ep);
    if (r == 0) r = tcp::TcpConnect(sk, ep.addr_be, ep.port);
    if (r == -EINPROGRESS) return r;
    CloseSide(s, s->backend, false);
    // The 4-tuple is held (a TIME_WAIT of an earlier session): another
    // socket, the next port. Without RSS the stack's allocator already
    // skipped held tuples.
    if (r != -EADDRNOTAVAIL || !ports_.active()) return r;
  }
  return r;
}

void ProxyEngine::ConnectFailed(Session* s, int err, bool timed_out) {
  CancelTimer(s->timer);
  CloseSide(s, s->backend, false);  // SYN_SENT or CLOSE: close() sends nothing
  ProxyCounters& fc = s->fe_counters();
  ++fc.connect_failures;
  if (ProxyCounters* bc = s->be_counters()) {
    ++bc->connect_failures;
    if (timed_out) ++bc->connect_timeouts;
  }
  if (timed_out) ++fc.connect_timeouts;
  (void)err;
  s->last_failed = s->backend_idx;
  ReleaseBackend(s);
  StartConnect(s);
}

void ProxyEngine::Connected(Session* s) {
  CancelTimer(s->timer);
  s->connected = true;
  if (ProxyCounters* bc = s->be_counters()) {
    ++bc->sessions;
    ++bc->active;
  }
  s->last_active_ns = stack_.reactor().now_ns();
  if (s->gen->spec.idle_timeout_ms) ArmTimer(s->timer, s->gen->spec.idle_timeout_ms);
}

// No backend could be connected: reset the client, or close it (close():
// a FIN, or an RST if it sent data nobody read, as Linux's close gives).
void ProxyEngine::FailClient(Session* s) {
  ++s->fe_counters().no_backend;
  CloseSide(s, s->client, s->gen->spec.on_backend_failure == BackendFailureAction::kReset);
  End(s);
}

// One side failed (reset by its peer, retransmissions timed out, aborted
// locally): abort the other, close both.
void ProxyEngine::SideFailed(Session* s, bool client_side, int err) {
  Side& bad = client_side ? s->client : s->backend;
  Side& other = client_side ? s->backend : s->client;
  ProxyCounters* bc = client_side ? &s->fe_counters() : s->be_counters();
  if (bc != nullptr) {
    if (IsReset(err)) ++bc->resets_received;
    else ++bc->errors;
  }
  // Abort the other side (a backend still in SYN_SENT just goes: no RST
  // from SYN_SENT), then close the failed one (CLOSE already: nothing sent).
  CloseSide(s, other, true);
  CloseSide(s, bad, true);
  End(s);
}

void ProxyEngine::OnSessionTimer(Session* s) {
  const FrontendSpec& spec = s->gen->spec;
  if (!s->connected) {
    if (s->backend.open() && s->backend.sk->state() == tcp::TCP_SYN_SENT) {
      ConnectFailed(s, -ETIMEDOUT, true);
    } else {
      Step(s);  // the connect finished in this very tick
    }
    return;
  }
  if (spec.idle_timeout_ms == 0) return;
  const uint64_t idle_ns = uint64_t{spec.idle_timeout_ms} * 1'000'000;
  const uint64_t now = stack_.reactor().now_ns();
  if (now - s->last_active_ns < idle_ns) {
    ArmTimer(s->timer, (s->last_active_ns + idle_ns - now + 999'999) / 1'000'000);
    return;
  }
  ++s->fe_counters().idle_timeouts;
  if (ProxyCounters* bc = s->be_counters()) ++bc->idle_timeouts;
  const bool reset = spec.on_idle == IdleAction::kReset;
  CloseSide(s, s->client, reset);
  CloseSide(s, s->backend, reset);
  End(s);
}

// ---------------------------------------------------------------- step

// Level-triggered: looks at the sockets as they are now, whatever event
// brought it here, and moves everything that can move.
void ProxyEngine::Step(Session* s) {
  if (!s->connected) {
    if (s->client.events & tcp::kEvErr) {
      s->client.events &= ~uint32_t{tcp::kEvErr};
      if (const int e = tcp::TcpSockError(s->client.sk)) {
        SideFailed(s, /*client_side=*/true, -e);
        return;
      }
    }
    if (!s->backend.open()) return;
    const tcp::TcpState st = s->backend.sk->state();
    if (st == tcp::TCP_SYN_SENT) return;
    if (st == tcp::TCP_CLOSE) {
      const int e = tcp::TcpSockError(s->backend.sk);
      ConnectFailed(s, e ? -e : -ECONNREFUSED, false);
      return;
    }
    Connected(s);
  }
  // Errors the sockets reported (a reset with no data left to read).
  for (int i = 0; i < 2; ++i) {
    Side& side = i == 0 ? s->client : s->backend;
    if (!(side.events & tcp::kEvErr)) continue;
    side.events &= ~uint32_t{tcp::kEvErr};
    if (const int e = tcp::TcpSockError(side.sk)) {
      SideFailed(s, i == 0, -e);
      return;
    }
  }
  const SpliceLimits& lim = cfg_.limits;
  ProxyCounters& fc = s->fe_counters();
  ProxyCounters* bc = s->be_counters();
  const SpliceResult up = Splice(s->client.sk, s->backend.sk, s->c2b, lim);
  stats_.splice_segments += up.segments;
  stats_.splice_copies += up.copied;
  fc.bytes_in += up.moved;
  if (bc != nullptr) bc->bytes_out += up.moved;
  if (up.status != SpliceStatus::kOk) {
    SideFailed(s, up.status == SpliceStatus::kSrcError, up.err);
    return;
  }
  const SpliceResult down = Splice(s->backend.sk, s->client.sk, s->b2c, lim);
  stats_.splice_segments += down.segments;
  stats_.splice_copies += down.copied;
  if (bc != nullptr) bc->bytes_in += down.moved;
  fc.bytes_out += down.moved;
  if (down.status != SpliceStatus::kOk) {
    SideFailed(s, down.status == SpliceStatus::kDstError, down.err);
    return;
  }
  if (up.moved || down.moved) s->last_active_ns = stack_.reactor().now_ns();
  if (s->c2b.done() && s->b2c.done()) {
    // Both FINs passed on: the session is over. Orphans finish the close.
    CloseSide(s, s->client, false);
    CloseSide(s, s->backend, false);
    End(s);
  }
}

}  // namespace dpx::proxy
