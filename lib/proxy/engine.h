// The proxy's per-core session engine: frontends (listeners), sessions
// that splice a client to a backend, close propagation, workers as
// processes, connect checks for the health state machine.
//
// One ProxyEngine per data-path core, driven by that core's reactor: every
// call and every callback runs there (no locks). Balancing is injected per
// frontend (a pick function over the frontend's backend list), so the
// engine does not know the balancer; OnSessionStart / OnSessionEnd hooks
// feed a least-connections balancer.
//
// Workers are processes (lib/socket): each socket the engine opens or
// accepts is a File in the worker's fd table, closed through
// ProcessTable::Close. Killing the worker (ProcessTable::Exit) closes its
// sockets as Linux's do_exit would (linger ignored; unread data -> RST;
// otherwise FIN after what is queued; listeners reset unaccepted children).
// The engine stops acting on that worker's sessions at once (events are
// ignored once the worker is not running) and frees their state when the
// process is reaped; Restart() spawns a new worker (new pid) that reopens
// the listeners. Engines of other cores are not affected.
//
// A session:
//   accept -> pick a backend -> socket, bind to a local port whose reply
//   hashes to this core (rss_port.h), connect (connect timeout) -> on
//   failure (refused, timed out, unreachable) the next pick, up to
//   1 + connect_retries attempts; when all fail, the client is reset (RST)
//   or closed (close(): FIN, or RST if the client's data is unread, as
//   Linux) per on_backend_failure.
//   connected -> splice both ways (splice.h: zero-copy, backpressure).
//   FIN from one side -> shutdown(SHUT_WR) on the other once all its data
//   is queued (the FIN rides on the last unsent segment).
//   both directions finished -> close both fds.
//   RST (or any socket error: ETIMEDOUT, ECONNABORTED) on one side -> the
//   other is aborted: SO_LINGER {1,0} + close, an RST.
//   idle (no byte moved either way for idle_timeout_ms) -> close both
//   (IdleAction::kClose: close(), so a side with unread data gets an RST,
//   the other a FIN) or reset both (kReset).
//
// Memory per session: the Session (a per-core pool), one segment in hand
// per direction, and each socket's queues bounded by high_water (+ one
// segment) on the sending side and the receive buffer on the other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/object_pool.h"
#include "core/timer_kinds.h"
#include "core/timer_wheel.h"
#include "proxy/config.h"
#include "proxy/rss_port.h"
#include "proxy/splice.h"
#include "tcp/tcb.h"

namespace dpx::tcp {
class TcpStack;
}
namespace dpx::sock {
class Process;
class ProcessTable;
struct File;
}  // namespace dpx::sock

namespace dpx::proxy {

// Per frontend and per backend, on one core. One writer (the core), plain
// fields: the control plane may read them from any thread (a value may be
// one update stale, never torn: aligned 64-bit stores), and sums the cores.
struct ProxyCounters {
  uint64_t sessions = 0;          // frontend: clients accepted; backend: connects that succeeded
  uint64_t active = 0;            // frontend: live sessions; backend: live connected sessions
  uint64_t bytes_in = 0;          // received from the peer (the client / the backend)
  uint64_t bytes_out = 0;         // sent to the peer
  uint64_t connect_attempts = 0;  // backend connects started
  uint64_t connect_failures = 0;  // ... that failed (refused, timed out, local error)
  uint64_t connect_timeouts = 0;  // ... of which timed out
  uint64_t resets_sent = 0;       // RSTs the proxy sent the peer (abort, or close with unread data)
  uint64_t resets_received = 0;   // sessions the peer reset (ECONNRESET / EPIPE)
  uint64_t idle_timeouts = 0;     // sessions closed or reset for idleness
  uint64_t no_backend = 0;        // frontend: sessions failed because no backend could be connected
  uint64_t errors = 0;            // other socket errors (retransmission timeout, local abort)
  uint64_t killed = 0;            // sessions that died with their worker
};

// Picks a backend index for a client (addresses network order, port host
// order); -1: none available. `avoid`: the backend whose connect just
// failed, for retries (-1 on the first pick).
using PickFn = std::function<int(uint32_t client_addr_be, uint16_t client_port)>;
using PickAvoidFn = std::function<int(uint32_t client_addr_be, uint16_t client_port, int avoid)>;
using SessionHook = std::function<void(int backend)>;

enum class IdleAction : uint8_t { kClose, kReset };

// A frontend as the engine runs it.
struct FrontendSpec {
  std::string name;
  Endpoint listen;  // addr_be 0: any address of the stack
  uint32_t backlog = kDefaultBacklog;
  std::vector<Endpoint> backends;
  // Balancing: pick_avoiding if set (Balancer::Pick fits it), else pick;
  // on a retry with `pick` a backend already tried this session is
  // replaced by the next untried one in list order. Neither: round robin.
  PickFn pick;
  PickAvoidFn pick_avoiding;
  // Called when a session is given backend i (before its connect
  // completes) and exactly once when it leaves it (connect failed, session
  // ended, or its worker died) — Balancer::OnSessionStart/End.
  SessionHook on_session_start;
  SessionHook on_session_end;
  uint32_t connect_timeout_ms = kDefaultConnectTimeoutMs;
  uint32_t connect_retries = kDefaultConnectRetries;
  BackendFailureAction on_backend_failure = BackendFailureAction::kReset;
  uint32_t idle_timeout_ms = 0;  // 0: none
  IdleAction on_idle = IdleAction::kClose;

  // The parts of a parsed config (pick and hooks are left to the caller).
  static FrontendSpec FromConfig(const FrontendConfig& fe, const PoolConfig& pool);
};

struct EngineConfig {
  unsigned core = 0;  // the core (ProcessTable index) of the stack and worker
  // One timer kind on the core's wheel for connect/idle timers and checks
  // (core/timer_kinds.h: lib/proxy takes kAppFirst + 8 by default).
  uint16_t timer_kind = timer_kind::kAppFirst + 8;
  SpliceLimits limits{kDefaultSndbufHighWater, kDefaultSndbufHighWater / 2};
  bool nodelay = true;         // TCP_NODELAY on both sockets: forward as the peer segmented
  uint32_t max_sessions = 0;   // on this core; 0: no limit (beyond fds and pools)
  RssSpec rss;                 // empty key or one queue: any local port
  std::string worker_name = "proxy";  // Restart() spawns with this name
  uint32_t worker_nofile = 1u << 20;  // RLIMIT_NOFILE of workers Restart() spawns
  bool restart_on_exit = false;       // supervisor: Restart() when the worker is reaped
};

// One session, for `dpxctl` and tests.
struct SessionInfo {
  int pid = 0;
  int frontend = -1;
  int backend = -1;  // -1 while no backend is picked
  bool connected = false;
  int client_fd = -1, backend_fd = -1;
  tcp::Tcb* client = nullptr;   // nullptr once closed
  tcp::Tcb* server = nullptr;   // the backend socket; nullptr once closed
  uint64_t bytes_c2b = 0, bytes_b2c = 0;
  uint32_t pending_c2b = 0, pending_b2c = 0;  // segment in hand, bytes
  bool throttled_c2b = false, throttled_b2c = false;
  uint32_t attempts = 0;
};

struct EngineStats {
  uint64_t sessions_started = 0;
  uint64_t sessions_ended = 0;
  uint64_t sessions_killed = 0;   // freed at a worker's reap
  uint64_t accept_stalls = 0;     // accepting paused (max_sessions, fds, pools)
  uint64_t restarts = 0;
  uint64_t listen_errors = 0;
  uint64_t checks = 0, checks_ok = 0;
  uint64_t port_picks = 0, port_pick_failures = 0;
  uint64_t splice_segments = 0;  // segments moved between the two sockets of a session
  uint64_t splice_copies = 0;    // ... that had to be copied (the rest moved as mbufs)
};

class ProxyEngine {
 public:
  // `worker` must be running with home core cfg.core; `stack` is that
  // core's stack in `pt`.
  ProxyEngine(tcp::TcpStack& stack, sock::ProcessTable& pt, std::shared_ptr<sock::Process> worker,
              EngineConfig cfg);
  // Closes the engine's listeners and sessions in a running worker
  // (close(), as an application's exit path would); finishes an exit in
  // progress first (runs the core's reactor until the worker is reaped).
  // The session hooks are not called from here (the balancer may be gone).
  ~ProxyEngine();
  ProxyEngine(const ProxyEngine&) = delete;
  ProxyEngine& operator=(const ProxyEngine&) = delete;

  // Adds a frontend and opens its listener in the current worker. The id is
  // returned even when listening fails (the error is returned instead; the
  // frontend stays, to be reopened by a reload or Restart()).
  absl::StatusOr<int> AddFrontend(FrontendSpec spec);
  // Reload: new sessions use the new spec (backends, balancing, timeouts);
  // sessions already running keep theirs. A new listen address reopens the
  // listener; a new backlog applies at once. Counters of a backend with
  // the same endpoint carry over.
  absl::Status UpdateFrontend(int id, FrontendSpec spec);
  // Closes the listener (unaccepted children get RST, as Linux); the
  // frontend's sessions carry on.
  absl::Status RemoveFrontend(int id);

  // Supervisor: spawns a new worker (new pid) and reopens the listeners in
  // it (once every earlier worker is reaped: they hold the ports).
  // FailedPrecondition while the current worker runs. Returns the new pid.
  absl::StatusOr<int> Restart();

  // A TCP connect check from this core (local port by RSS): ok when the
  // connect completes within timeout_ms (the socket is then closed at
  // once), not ok when refused, unreachable or timed out. `done` runs on
  // this core, from a socket callback or a timer. Check sockets belong to
  // the engine, not the worker: health checking goes on while a worker is
  // restarted.
  void StartConnectCheck(Endpoint ep, uint32_t timeout_ms, std::function<void(bool ok)> done);

  // ---- state (this core) ----
  const std::shared_ptr<sock::Process>& worker() const { return worker_proc_; }
  int worker_pid() const;
  bool listening(int frontend) const;
  size_t frontends() const;
  size_t live_sessions() const;
  size_t checks_in_flight() const { return checks_live_; }
  std::vector<SessionInfo> Sessions() const;
  const EngineStats& stats() const { return stats_; }
  const EngineConfig& config() const { return cfg_; }
  const RssPortPicker& ports() const { return ports_; }
  // Counters stay valid while the caller holds them (any thread may read).
  std::shared_ptr<const ProxyCounters> frontend_counters(int frontend) const;
  std::shared_ptr<const ProxyCounters> backend_counters(int frontend, size_t backend) const;

 private:
  struct Frontend;
  struct FrontendGen;
  struct Worker;
  struct Listener;
  struct Check;
  struct Session;
  struct Side;
  struct TimerHook {
    Timer timer;  // first: the wheel hands back the Timer*
    uint8_t what = 0;
    void* obj = nullptr;
  };
  enum : uint8_t { kTimerSession = 1, kTimerCheck = 2 };
  enum class EndHow : uint8_t;

  // engine.cc: workers, listeners, accept, checks, timers
  Worker* Adopt(std::shared_ptr<sock::Process> proc);
  void Reaped(Worker* w);
  static bool Running(const Worker* w);
  absl::Status OpenListener(Worker* w, Frontend* fe);
  void CloseListener(Listener* l);
  void OpenAllListeners(Worker* w);
  static void OnListenerEvent(tcp::Tcb* sk, uint32_t events, void* ctx);
  void AcceptAll(Listener* l);
  bool CanAccept(const Worker* w) const;
  void ResumeAccepting();
  static void OnTimer(Timer* t, void* ctx);
  void ArmTimer(TimerHook& h, uint64_t delay_ms);
  void CancelTimer(TimerHook& h);
  static void OnCheckEvent(tcp::Tcb* sk, uint32_t events, void* ctx);
  void CheckDone(Check* c, bool ok);
  int BindRssPort(tcp::Tcb* sk, Endpoint remote);

  // session.cc: the session state machine
  void NewSession(Listener* l, tcp::Tcb* child, sock::File* f, int fd);
  static void OnClientEvent(tcp::Tcb* sk, uint32_t events, void* ctx);
  static void OnBackendEvent(tcp::Tcb* sk, uint32_t events, void* ctx);
  template <typename Fn>
  void WithSession(Session* s, Fn&& fn);
  void Step(Session* s);
  void StartConnect(Session* s);
  int PickBackend(Session* s);
  int OpenBackend(Session* s, Endpoint ep);
  void ConnectFailed(Session* s, int err, bool timed_out);
  void Connected(Session* s);
  void FailClient(Session* s);
  void SideFailed(Session* s, bool client_side, int err);
  void OnSessionTimer(Session* s);
  void CloseSide(Session* s, Side& side, bool reset);
  void End(Session* s);
  void FreeSession(Session* s);
  void ReleaseBackend(Session* s);

  tcp::TcpStack& stack_;
  sock::ProcessTable& pt_;
  EngineConfig cfg_;
  RssPortPicker ports_;
  std::shared_ptr<sock::Process> worker_proc_;  // the current worker
  Worker* current_ = nullptr;
  std::vector<std::unique_ptr<Worker>> workers_;  // current and exiting ones
  std::vector<std::unique_ptr<Frontend>> frontends_;  // by id; removed ones stay (nullptr)
  std::unique_ptr<ObjectPool<Session>> sessions_;
  Check* checks_ = nullptr;  // in flight, linked
  size_t checks_live_ = 0;
  uint32_t rr_cursor_ = 0;
  bool destroying_ = false;  // the destructor runs: no hooks, no restarts
  bool accept_stalled_ = false;
  bool resume_scheduled_ = false;
  EngineStats stats_;
  std::shared_ptr<ProxyEngine*> alive_;  // weak-held by OnReaped callbacks
};

}  // namespace dpx::proxy
