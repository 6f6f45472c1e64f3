// ProxyEngine: workers, listeners, accept, timers and connect checks. The
// session state machine is in session.cc.
#include "proxy/engine.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/reactor.h"
#include "net/ip_stack.h"
#include "proxy/session.h"
#include "socket/file.h"
#include "socket/process.h"
#include "socket/syscalls.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_stack.h"

namespace dpx::proxy {

using sock::File;
using sock::Process;
using sock::ProcState;
using tcp::Tcb;

namespace {

std::string ErrName(int neg_errno) {
  std::string n = sock::ErrnoName(-neg_errno);
  return n.empty() ? absl::StrCat("errno ", -neg_errno) : n;
}

}  // namespace

FrontendSpec FrontendSpec::FromConfig(const FrontendConfig& fe, const PoolConfig& pool) {
  FrontendSpec s;
  s.name = fe.name;
  s.listen = fe.listen;
  s.backlog = fe.backlog;
  for (const BackendConfig& b : pool.backends) s.backends.push_back(b.endpoint);
  s.connect_timeout_ms = fe.connect_timeout_ms;
  s.connect_retries = fe.connect_retries;
  s.on_backend_failure = fe.on_backend_failure;
  s.idle_timeout_ms = fe.idle_timeout_ms;
  return s;
}

ProxyEngine::ProxyEngine(tcp::TcpStack& stack, sock::ProcessTable& pt,
                         std::shared_ptr<Process> worker, EngineConfig cfg)
    : stack_(stack),
      pt_(pt),
      cfg_(std::move(cfg)),
      ports_(cfg_.rss, cfg_.core, static_cast<uint16_t>(stack.sysctl().ip_local_port_range[0]),
             static_cast<uint16_t>(stack.sysctl().ip_local_port_range[1])),
      sessions_(std::make_unique<ObjectPool<Session>>()),
      alive_(std::make_shared<ProxyEngine*>(this)) {
  if (cfg_.limits.low_water > cfg_.limits.high_water) cfg_.limits.low_water = cfg_.limits.high_water;
  stack_.reactor().timers().SetHandler(cfg_.timer_kind, &ProxyEngine::OnTimer, this);
  worker_proc_ = worker;
  current_ = Adopt(std::move(worker));
}

ProxyEngine::~ProxyEngine() {
  // An exit in progress still delivers events to our records until each of
  // its files is released: let it finish (its closes are deferred tasks on
  // this core) before the records go.
  destroying_ = true;
  cfg_.restart_on_exit = false;
  while (true) {
    bool exiting = false;
    for (const auto& w : workers_)
      if (!w->reaped && w->proc->state() == ProcState::kExiting) exiting = true;
    if (!exiting) break;
    stack_.reactor().RunOnce();
  }
  for (auto& w : workers_) {
    const bool running = Running(w.get());
    while (Session* s = w->sessions) {
      ++s->depth;  // events the closes deliver to it only mark it
      if (running) {
        CloseSide(s, s->client, false);
        CloseSide(s, s->backend, false);
      }
      if (!s->ended) End(s);
      --s->depth;
      FreeSession(s);
    }
    while (!w->listeners.empty()) CloseListener(w->listeners.back().get());
  }
  while (Check* c = checks_) {
    CancelTimer(c->timer);
    tcp::TcpSetCallback(c->sk, nullptr, nullptr);
    tcp::TcpClose(c->sk);
    checks_ = c->next;
    delete c;
  }
  alive_.reset();
}

// ---------------------------------------------------------------- workers

bool ProxyEngine::Running(const Worker* w) {
  return !w->reaped && w->proc->state() == ProcState::kRunning;
}

ProxyEngine::Worker* ProxyEngine::Adopt(std::shared_ptr<Process> proc) {
  auto w = std::make_unique<Worker>();
  w->proc = std::move(proc);
  Worker* raw = w.get();
  workers_.push_back(std::move(w));
  if (raw->proc->state() == ProcState::kDead) {
    raw->reaped = true;
    return raw;
  }
  std::weak_ptr<ProxyEngine*> token = alive_;
  pt_.OnReaped(*raw->proc, [token, raw](Process&) {
    if (auto eng = token.lock()) (*eng)->Reaped(raw);
  });
  return raw;
}

int ProxyEngine::worker_pid() const { return worker_proc_ ? worker_proc_->pid() : 0; }

size_t ProxyEngine::live_sessions() const { return sessions_->in_use(); }

// The worker is dead: its exit closed every socket it held (as Linux's
// do_exit). Free what the engine kept for it; never touch its files.
void ProxyEngine::Reaped(Worker* w) {
  if (w->reaped) return;
  w->reaped = true;
  DPX_LOG_INFO("proxy core %u: worker %d reaped; freeing %zu sessions", cfg_.core, w->proc->pid(),
               w->nsessions);
  while (Session* s = w->sessions) {
    if (!s->ended) {
      ++s->fe_counters().killed;
      if (ProxyCounters* bc = s->be_counters(); bc != nullptr && s->connected) ++bc->killed;
      ++stats_.sessions_killed;
      End(s);
    }
    FreeSession(s);
  }
  for (auto& l : w->listeners)
    if (l->fe != nullptr && l->fe->listener == l.get()) l->fe->listener = nullptr;
  w->listeners.clear();
  const bool was_current = (w == current_);
  if (was_current) current_ = nullptr;
  workers_.erase(std::find_if(workers_.begin(), workers_.end(),
                              [w](const auto& p) { return p.get() == w; }));
  if (was_current && cfg_.restart_on_exit) {
    auto pid = Restart();
    if (!pid.ok()) DPX_LOG_ERROR("proxy core %u: restart: %s", cfg_.core, pid.status().ToString().c_str());
    return;
  }
  if (current_ != nullptr && current_->listeners_pending && workers_.size() == 1) {
    current_->listeners_pending = false;
    OpenAllListeners(current_);
  }
}

absl::StatusOr<int> ProxyEngine::Restart() {
  if (current_ != nullptr && Running(current_))
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", current_->proc->pid(), " is running"));
  auto p = pt_.Spawn(cfg_.worker_name, cfg_.core, 1, cfg_.worker_nofile);
  if (!p.ok()) return p.status();
  worker_proc_ = *p;
  current_ = Adopt(*p);
  ++stats_.restarts;
  // An older worker still exiting holds the listening ports until it is
  // reaped; its reap opens ours.
  bool older = false;
  for (const auto& w : workers_)
    if (w.get() != current_ && !w->reaped) older = true;
  if (older) {
    current_->listeners_pending = true;
  } else {
    OpenAllListeners(current_);
  }
  DPX_LOG_INFO("proxy core %u: worker %d started%s", cfg_.core, (*p)->pid(),
               older ? " (listeners open once the old worker is reaped)" : "");
  return (*p)->pid();
}

// ---------------------------------------------------------------- frontends

absl::StatusOr<int> ProxyEngine::AddFrontend(FrontendSpec spec) {
  auto fe = std::make_unique<Frontend>();
  fe->id = static_cast<int>(frontends_.size());
  auto gen = std::make_shared<FrontendGen>();
  gen->id = fe->id;
  gen->counters = std::make_shared<ProxyCounters>();
  for (size_t i = 0; i < spec.backends.size(); ++i)
    gen->backend_counters.push_back(std::make_shared<ProxyCounters>());
  gen->spec = std::move(spec);
  fe->gen = std::move(gen);
  if (current_ != nullptr && Running(current_) && !current_->listeners_pending) {
    if (absl::Status st = OpenListener(current_, fe.get()); !st.ok()) return st;
  }
  frontends_.push_back(std::move(fe));
  return frontends_.back()->id;
}

absl::Status ProxyEngine::UpdateFrontend(int id, FrontendSpec spec) {
  if (id < 0 || static_cast<size_t>(id) >= frontends_.size() || !frontends_[id])
    return absl::NotFoundError(absl::StrCat("no frontend ", id));
  Frontend* fe = frontends_[id].get();
  const FrontendGen& old = *fe->gen;
  auto gen = std::make_shared<FrontendGen>();
  gen->id = id;
  gen->counters = old.counters;
  for (const Endpoint& ep : spec.backends) {
    std::shared_ptr<ProxyCounters> c;
    for (size_t i = 0; i < old.spec.backends.size(); ++i)
      if (old.spec.backends[i] == ep) c = old.backend_counters[i];
    gen->backend_counters.push_back(c ? c : std::make_shared<ProxyCounters>());
  }
  const bool relisten = !(spec.listen == old.spec.listen);
  const bool backlog = spec.backlog != old.spec.backlog;
  gen->spec = std::move(spec);
  fe->gen = std::move(gen);
  if (relisten) {
    if (fe->listener != nullptr) CloseListener(fe->listener);
    if (current_ != nullptr && Running(current_) && !current_->listeners_pending)
      return OpenListener(current_, fe);
  } else if (fe->listener == nullptr) {
    // Not listening (its listener was aborted, or failed to open): retry.
    if (current_ != nullptr && Running(current_) && !current_->listeners_pending)
      return OpenListener(current_, fe);
  } else if (backlog) {
    const int r = tcp::TcpListen(fe->listener->sk, static_cast<int>(fe->gen->spec.backlog));
    if (r < 0) return absl::InternalError(absl::StrCat("listen: ", ErrName(r)));
  }
  return absl::OkStatus();
}

absl::Status ProxyEngine::RemoveFrontend(int id) {
  if (id < 0 || static_cast<size_t>(id) >= frontends_.size() || !frontends_[id])
    return absl::NotFoundError(absl::StrCat("no frontend ", id));
  if (frontends_[id]->listener != nullptr) CloseListener(frontends_[id]->listener);
  // Listeners of exiting workers still point at it: let them forget it.
  for (auto& w : workers_)
    for (auto& l : w->listeners)
      if (l->fe == frontends_[id].get()) l->fe = nullptr;
  frontends_[id].reset();
  return absl::OkStatus();
}

size_t ProxyEngine::frontends() const {
  size_t n = 0;
  for (const auto& f : frontends_) n += f ? 1 : 0;
  return n;
}

bool ProxyEngine::listening(int id) const {
  if (id < 0 || static_cast<size_t>(id) >= frontends_.size() || !frontends_[id]) return false;
  const Listener* l = frontends_[id]->listener;
  return l != nullptr && Running(l->w);
}

std::shared_ptr<const ProxyCounters> ProxyEngine::frontend_counters(int id) const {
  if (id < 0 || static_cast<size_t>(id) >= frontends_.size() || !frontends_[id]) return nullptr;
  return frontends_[id]->gen->counters;
}

std::shared_ptr<const ProxyCounters> ProxyEngine::backend_counters(int id, size_t backend) const {
  if (id < 0 || static_cast<size_t>(id) >= frontends_.size() || !frontends_[id]) return nullptr;
  const FrontendGen& g = *frontends_[id]->gen;
  if (backend >= g.backend_counters.size()) return nullptr;
  return g.backend_counters[backend];
}

std::vector<SessionInfo> ProxyEngine::Sessions() const {
  std::vector<SessionInfo> out;
  for (const auto& w : workers_) {
    for (const Session* s = w->sessions; s != nullptr; s = s->next) {
      SessionInfo i;
      i.pid = w->proc->pid();
      i.frontend = s->gen->id;
      i.backend = s->backend_idx;
      i.connected = s->connected;
      i.client_fd = s->client.fd;
      i.backend_fd = s->backend.fd;
      i.client = s->client.sk;
      i.server = s->backend.sk;
      i.bytes_c2b = s->c2b.bytes;
      i.bytes_b2c = s->b2c.bytes;
      i.pending_c2b = s->c2b.pending_bytes();
      i.pending_b2c = s->b2c.pending_bytes();
      i.throttled_c2b = s->c2b.throttled;
      i.throttled_b2c = s->b2c.throttled;
      i.attempts = s->attempts;
      out.push_back(i);
    }
  }
  return out;
}

// ---------------------------------------------------------------- listeners

absl::Status ProxyEngine::OpenListener(Worker* w, Frontend* fe) {
  const FrontendSpec& spec = fe->gen->spec;
  const std::string where = absl::StrCat("frontend ", spec.name, " (", FormatEndpoint(spec.listen), ")");
  // socket(), bind(), listen(), as a worker process does it.
  Tcb* sk = tcp::TcpSocket(stack_);
  if (sk == nullptr) {
    ++stats_.listen_errors;
    return absl::ResourceExhaustedError(absl::StrCat(where, ": no socket"));
  }
  File* f = pt_.NewFile(cfg_.core, sk);
  if (f == nullptr) {
    tcp::TcpClose(sk);
    ++stats_.listen_errors;
    return absl::ResourceExhaustedError(absl::StrCat(where, ": no file"));
  }
  const int fd = pt_.InstallFd(*w->proc, f);
  if (fd < 0) {
    pt_.Release(f, false);
    ++stats_.listen_errors;
    return absl::ResourceExhaustedError(absl::StrCat(where, ": ", ErrName(fd)));
  }
  int r = tcp::TcpBind(sk, spec.listen.addr_be, spec.listen.port);
  if (r == 0) r = tcp::TcpListen(sk, static_cast<int>(spec.backlog));
  if (r < 0) {
    pt_.Close(*w->proc, fd);
    ++stats_.listen_errors;
    return absl::UnavailableError(absl::StrCat(where, ": ", r == -EADDRINUSE ? "bind: " : "", ErrName(r)));
  }
  auto l = std::make_unique<Listener>();
  l->eng = this;
  l->w = w;
  l->fe = fe;
  l->file = f;
  l->sk = sk;
  l->fd = fd;
  f->app_cb = &ProxyEngine::OnListenerEvent;
  f->app_ctx = l.get();
  fe->listener = l.get();
  w->listeners.push_back(std::move(l));
  return absl::OkStatus();
}

void ProxyEngine::OpenAllListeners(Worker* w) {
  for (auto& fe : frontends_) {
    if (!fe) continue;
    if (absl::Status st = OpenListener(w, fe.get()); !st.ok())
      DPX_LOG_ERROR("proxy core %u: worker %d: %s", cfg_.core, w->proc->pid(), st.ToString().c_str());
  }
}

void ProxyEngine::CloseListener(Listener* l) {
  Worker* w = l->w;
  l->file->app_cb = nullptr;
  l->file->app_ctx = nullptr;
  if (Running(w)) pt_.Close(*w->proc, l->fd);  // an exiting worker closes its own
  if (l->fe != nullptr && l->fe->listener == l) l->fe->listener = nullptr;
  auto it = std::find_if(w->listeners.begin(), w->listeners.end(),
                         [l](const auto& p) { return p.get() == l; });
  if (it != w->listeners.end()) w->listeners.erase(it);
}

void ProxyEngine::OnListenerEvent(Tcb* sk, uint32_t events, void* ctx) {
  auto* l = static_cast<Listener*>(ctx);
  ProxyEngine* eng = l->eng;
  if (!Running(l->w)) return;
  // Children not yet accepted share the listener's file: their events
  // come here too and mean nothing to the engine.
  if (sk != l->sk) return;
  if (sk->state() != tcp::TCP_LISTEN || (events & tcp::kEvErr)) {
    // Aborted under us (ss -K): close it; a reload or Restart reopens.
    DPX_LOG_WARN("proxy core %u: listener of frontend %d closed (%s)", eng->cfg_.core,
                 l->fe ? l->fe->id : -1, ErrName(-tcp::TcpSockError(sk)).c_str());
    ++eng->stats_.listen_errors;
    eng->CloseListener(l);
    return;
  }
  if (events & tcp::kEvIn) eng->AcceptAll(l);
}

bool ProxyEngine::CanAccept(const Worker* w) const {
  if (cfg_.max_sessions != 0 && sessions_->in_use() >= cfg_.max_sessions) return false;
  const sock::FdTable& t = w->proc->fds();
  return t.open_count() + 2 <= t.max_fds();  // the client's fd and the backend's
}

void ProxyEngine::AcceptAll(Listener* l) {
  Worker* w = l->w;
  while (l->fe != nullptr) {
    if (!CanAccept(w)) {
      // Leave the rest in the accept queue (as a process out of fds or
      // slots would) and come back when a session ends.
      if (!accept_stalled_) ++stats_.accept_stalls;
      accept_stalled_ = true;
      return;
    }
    Tcb* child = nullptr;
    if (tcp::TcpAccept(l->sk, &child) != 0) return;
    File* f = pt_.NewFile(cfg_.core, child);
    const tcp::Linger abort{1, 0};
    if (f == nullptr) {
      tcp::TcpSetsockopt(child, tcp::kSolSocket, tcp::kSoLinger, &abort, sizeof(abort));
      tcp::TcpClose(child);
      continue;
    }
    const int fd = pt_.InstallFd(*w->proc, f);
    if (fd < 0) {
      tcp::TcpSetsockopt(child, tcp::kSolSocket, tcp::kSoLinger, &abort, sizeof(abort));
      pt_.Release(f, false);
      continue;
    }
    NewSession(l, child, f, fd);
  }
}

void ProxyEngine::ResumeAccepting() {
  if (!accept_stalled_ || resume_scheduled_) return;
  resume_scheduled_ = true;
  std::weak_ptr<ProxyEngine*> token = alive_;
  stack_.reactor().Defer([token] {
    auto eng = token.lock();
    if (!eng) return;
    ProxyEngine* e = *eng;
    e->resume_scheduled_ = false;
    e->accept_stalled_ = false;
    if (e->current_ == nullptr || !Running(e->current_)) return;
    std::vector<Listener*> ls;
    for (auto& l : e->current_->listeners) ls.push_back(l.get());
    for (Listener* l : ls) e->AcceptAll(l);
  });
}

// ---------------------------------------------------------------- timers

void ProxyEngine::ArmTimer(TimerHook& h, uint64_t delay_ms) {
  h.timer.kind = cfg_.timer_kind;
  stack_.reactor().timers().ArmAfter(&h.timer, delay_ms * 1'000'000);
}

void ProxyEngine::CancelTimer(TimerHook& h) { stack_.reactor().timers().Cancel(&h.timer); }

void ProxyEngine::OnTimer(Timer* t, void* ctx) {
  auto* eng = static_cast<ProxyEngine*>(ctx);
  auto* h = reinterpret_cast<TimerHook*>(t);  // Timer is TimerHook's first member
  switch (h->what) {
    case kTimerSession: {
      auto* s = static_cast<Session*>(h->obj);
      eng->WithSession(s, [eng, s] { eng->OnSessionTimer(s); });
      break;
    }
    case kTimerCheck:
      eng->CheckDone(static_cast<Check*>(h->obj), false);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- RSS ports

int ProxyEngine::BindRssPort(Tcb* sk, Endpoint remote) {
  if (!ports_.active()) return 0;  // one queue: the stack's ephemeral port is fine
  ++stats_.port_picks;
  const int p = ports_.Pick(stack_.ip().ip(), remote.addr_be, remote.port,
                            [sk](uint16_t port) { return tcp::TcpBind(sk, 0, port); });
  if (p < 0) {
    ++stats_.port_pick_failures;
    return p;
  }
  return 0;
}

// ---------------------------------------------------------------- checks

void ProxyEngine::StartConnectCheck(Endpoint ep, uint32_t timeout_ms, std::function<void(bool ok)> done) {
  ++stats_.checks;
  auto fail_later = [this, &done] {
    std::weak_ptr<ProxyEngine*> token = alive_;
    stack_.reactor().Defer([token, done = std::move(done)] {
      if (token.lock()) done(false);
    });
  };
  Tcb* sk = tcp::TcpSocket(stack_);
  if (sk == nullptr) {
    fail_later();
    return;
  }
  int r = BindRssPort(sk, ep);
  for (int tries = 0; r == 0 && tries < 8; ++tries) {
    r = tcp::TcpConnect(sk, ep.addr_be, ep.port);
    if (r != -EADDRNOTAVAIL || !ports_.active()) break;
    // The 4-tuple is held (TIME_WAIT): another socket, the next port.
    tcp::TcpClose(sk);
    sk = tcp::TcpSocket(stack_);
    if (sk == nullptr) {
      fail_later();
      return;
    }
    r = BindRssPort(sk, ep);
  }
  if (r != -EINPROGRESS) {
    tcp::TcpClose(sk);
    fail_later();
    return;
  }
  auto* c = new Check;
  c->eng = this;
  c->sk = sk;
  c->done = std::move(done);
  c->timer.what = kTimerCheck;
  c->timer.obj = c;
  c->next = checks_;
  if (checks_ != nullptr) checks_->prev = c;
  checks_ = c;
  ++checks_live_;
  tcp::TcpSetCallback(sk, &ProxyEngine::OnCheckEvent, c);
  ArmTimer(c->timer, timeout_ms);
  // A connect answered at once (the stack delivered nothing yet) is seen
  // on the first event.
}

void ProxyEngine::OnCheckEvent(Tcb* sk, uint32_t /*events*/, void* ctx) {
  auto* c = static_cast<Check*>(ctx);
  const tcp::TcpState st = sk->state();
  if (st == tcp::TCP_SYN_SENT) return;
  c->eng->CheckDone(c, st != tcp::TCP_CLOSE);
}

void ProxyEngine::CheckDone(Check* c, bool ok) {
  CancelTimer(c->timer);
  // Connected: close at once (FIN). Refused or timed out: close() in
  // CLOSE or SYN_SENT sends nothing (a late SYN-ACK gets an RST).
  tcp::TcpSetCallback(c->sk, nullptr, nullptr);
  tcp::TcpClose(c->sk);
  if (c->prev != nullptr) c->prev->next = c->next;
  else checks_ = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  --checks_live_;
  if (ok) ++stats_.checks_ok;
  std::function<void(bool)> done = std::move(c->done);
  delete c;
  if (done) done(ok);
}

}  // namespace dpx::proxy
