// TcpStack setup, TCB lifetime, state changes, events, ports.
#include "tcp/tcp_stack.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>

#include <rte_mbuf.h>

#include "core/log.h"
#include "core/reactor.h"
#include "net/ip_stack.h"
#include "tcp/time_wait.h"

namespace dpx::tcp {

Tcb* TcbOfRetransmitTimer(Timer* t) {
  return reinterpret_cast<Tcb*>(reinterpret_cast<char*>(t) - offsetof(Tcb, retransmit_timer));
}
Tcb* TcbOfDelackTimer(Timer* t) {
  return reinterpret_cast<Tcb*>(reinterpret_cast<char*>(t) - offsetof(Tcb, delack_timer));
}
Tcb* TcbOfKeepaliveTimer(Timer* t) {
  return reinterpret_cast<Tcb*>(reinterpret_cast<char*>(t) - offsetof(Tcb, keepalive_timer));
}

namespace {
ObjectPoolOptions PoolOptions(const TcpStackConfig& cfg) {
  ObjectPoolOptions o;
  o.max_objects = cfg.max_sockets;
  return o;
}
uint64_t SeedOf(const TcpStackConfig& cfg, uint64_t salt) {
  return cfg.secret_seed ? cfg.secret_seed ^ salt : (static_cast<uint64_t>(random()) << 32) ^ random() ^ salt;
}
}  // namespace

TcpStack::TcpStack(Reactor& reactor, IpStack& ip, const TcpStackConfig& cfg)
    : reactor_(reactor),
      ip_(ip),
      mib_(ip.mib()),
      cfg_(cfg),
      pool_(PoolOptions(cfg)),
      table_(cfg.ehash_buckets, static_cast<uint32_t>(SeedOf(cfg, 1))),
      isn_(cfg.secret_seed ? IsnGenerator::FromSeed(cfg.secret_seed) : IsnGenerator::Random()),
      cookies_(cfg.secret_seed ? SynCookies::FromSeed(cfg.secret_seed ^ 0x5a5a)
                               : SynCookies::Random()),
      bind_count_(65536, 0) {
  if (!RegisterSegMetaDynfield()) DPX_LOG_ERROR("tcp: cannot register the mbuf dynfield");
  if (cfg_.shared != nullptr) {
    shared_ = cfg_.shared;
  } else {
    own_shared_ = std::make_unique<TcpShared>();
    shared_ = own_shared_.get();
  }
  default_cc_ = FindCongestionOps(cfg_.sysctl.tcp_congestion_control);
  if (default_cc_ == nullptr) default_cc_ = &DefaultCongestionOps();
  next_ephemeral_ = static_cast<uint32_t>(SeedOf(cfg, 2));
  TimerWheel& w = reactor_.timers();
  w.SetHandler(timer_kind(0), &TcpStack::OnRetransmitTimer, this);
  w.SetHandler(timer_kind(1), &TcpStack::OnDelackTimer, this);
  w.SetHandler(timer_kind(2), &TcpStack::OnKeepaliveTimer, this);
  TwInit(*this);  // timer_kind(3): TIME_WAIT (time_wait.cc)
  ip_.RegisterProtocol(kIpProtoTcp, [this](rte_mbuf* m, const Ipv4Rx& rx) { Rcv(m, rx); });
}

TcpStack::~TcpStack() {
  ip_.RegisterProtocol(kIpProtoTcp, nullptr);
  TwDestroyAll(*this);  // TIME_WAIT mini-sockets: timers off the wheel, tw count back
  // Free every socket still hashed (the pool frees its chunks; mbufs and
  // timers must be released here).
  std::vector<Tcb*> all;
  table_.ForEach([&](SockCommon* s) {
    if (s->kind == SockKind::kFull) all.push_back(reinterpret_cast<Tcb*>(s));
  });
  table_.ForEachListener([&](Tcb* tp) { all.push_back(tp); });
  for (Tcb* tp : all) {
    if (tp->flag(SOCK_ON_FREEQ)) continue;
    if (tp->lq) {  // children not yet accepted are not in `all` twice: they are in ehash
      tp->lq->syn_q = tp->lq->accept_q = nullptr;
    }
    FreeTcb(tp);
  }
  for (Tcb* tp : freeq_) FreeTcb(tp);
}

uint64_t TcpStack::now_ns() const { return reactor_.timers().now_ns(); }

// ---------------------------------------------------------------- TCBs

Tcb* TcpStack::AllocTcb() {
  Tcb* tp = pool_.New();
  if (tp == nullptr) return nullptr;
  InitTcb(tp);
  return tp;
}

// Linux tcp_init_sock.
void TcpStack::InitTcb(Tcb* tp) {
  tp->stack = this;
  tp->retransmit_timer.kind = timer_kind(0);
  tp->delack_timer.kind = timer_kind(1);
  tp->keepalive_timer.kind = timer_kind(2);
  tp->sndbuf = cfg_.sysctl.tcp_wmem[1];
  tp->rcvbuf = cfg_.sysctl.tcp_rmem[1];
  tp->mss_cache = kTcpMssDefault;
  tp->rtt.set_rto_us(TCP_TIMEOUT_INIT_US);
  tp->cc.snd_cwnd = TCP_INIT_CWND;
  tp->cc.snd_ssthresh = TCP_INFINITE_SSTHRESH;
  // tcp_assign_congestion_control: the sysctl as it is now (dpxctl may
  // have changed it since the stack started); sysctl_table validated it.
  if (cfg_.sysctl.tcp_congestion_control != default_cc_->name) {
    if (const CongestionOps* ops = FindCongestionOps(cfg_.sysctl.tcp_congestion_control))
      default_cc_ = ops;
  }
  tp->cc.ops = default_cc_;
  tp->c.state = TCP_CLOSE;
}

void TcpStack::FreeTcb(Tcb* tp) {
  TimerWheel& w = reactor_.timers();
  w.Cancel(&tp->retransmit_timer);
  w.Cancel(&tp->delack_timer);
  w.Cancel(&tp->keepalive_timer);
  if (tp->c.hashed == 1) table_.Remove(&tp->c);
  if (tp->c.hashed == 2) table_.RemoveListener(tp);
  PutPort(tp);
  tp->write_queue.Purge();
  tp->rtx_queue.Purge();
  tp->receive_queue.Purge();
  tp->ooo_queue.Purge();
  // inet_csk_destroy_sock: the orphan count drops when the socket goes
  // (in ScheduleFree for sockets freed through the free list).
  if (tp->flag(SOCK_DEAD) && !tp->flag(SOCK_ON_FREEQ)) shared_->core[cfg_.core_index].orphans.fetch_sub(1, std::memory_order_relaxed);
  tp->wmem_queued = tp->rmem_alloc = 0;
  MemUncharge(tp);
  delete tp->lq;
  tp->lq = nullptr;
  pool_.Delete(tp);
}

// Linux tcp_set_state: counters, and unhash on CLOSE (the port stays bound
// when bind() chose it: SOCK_BINDPORT_LOCK).
void TcpStack::SetState(Tcb* tp, TcpState st) {
  const TcpState old = tp->state();
  if (st == TCP_ESTABLISHED && old != TCP_ESTABLISHED) mib_.Inc(Mib::Tcp_CurrEstab);
  if (st == TCP_CLOSE_WAIT && old == TCP_SYN_RECV) mib_.Inc(Mib::Tcp_CurrEstab);
  if (st == TCP_CLOSE) {
    if (old == TCP_CLOSE_WAIT || old == TCP_ESTABLISHED) mib_.Inc(Mib::Tcp_EstabResets);
    if (tp->c.hashed == 1) table_.Remove(&tp->c);
    if (tp->c.hashed == 2) table_.RemoveListener(tp);
    if (!tp->flag(SOCK_BINDPORT_LOCK)) PutPort(tp);
  }
  // A lingering close() wakes once the state leaves FIN_WAIT1/CLOSING/LAST_ACK
  // (sk_stream_wait_close; finished after this event in FlushEvents).
  if (tp->flag(SOCK_LINGER_WAIT) &&
      !TcpStateIn(st, TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_LAST_ACK)) {
    tp->clear_flag(SOCK_LINGER_WAIT);
    linger_done_.push_back(tp);
  }
  if ((old == TCP_ESTABLISHED || old == TCP_CLOSE_WAIT) && st != TCP_ESTABLISHED &&
      st != TCP_CLOSE_WAIT)
    mib_.Dec(Mib::Tcp_CurrEstab);
  tp->c.state = st;
}

// Linux tcp_done: CLOSE, stop timers, wake the user or destroy an orphan.
void TcpStack::Done(Tcb* tp) {
  if (tp->state() == TCP_SYN_SENT || tp->state() == TCP_SYN_RECV)
    mib_.Inc(Mib::Tcp_AttemptFails);
  SetState(tp, TCP_CLOSE);
  ClearXmitTimer(tp);
  reactor_.timers().Cancel(&tp->delack_timer);
  reactor_.timers().Cancel(&tp->keepalive_timer);
  tp->sk_shutdown = SHUTDOWN_MASK;
  if (tp->parent != nullptr && !tp->flag(SOCK_IN_ACCEPTQ)) {
    // A SYN_RECV child (request socket) dies with no user: drop it.
    ListenQueue* lq = tp->parent->lq;
    for (Tcb** pp = &lq->syn_q; *pp; pp = &(*pp)->q_next)
      if (*pp == tp) {
        *pp = tp->q_next;
        --lq->syn_qlen;
        break;
      }
    tp->parent = nullptr;
    ScheduleFree(tp);
    return;
  }
  if (tp->flag(SOCK_DEAD)) ScheduleFree(tp);
  else PostEvent(tp, kEvHup | kEvIn | kEvOut | kEvRdHup);
}

// Linux tcp_reset.
void TcpStack::Reset(Tcb* tp) {
  switch (tp->state()) {
    case TCP_SYN_SENT: tp->sk_err = ECONNREFUSED; break;
    case TCP_CLOSE_WAIT: tp->sk_err = EPIPE; break;
    case TCP_CLOSE: return;
    default: tp->sk_err = ECONNRESET;
  }
  tp->write_queue.Purge();
  tp->wmem_queued = 0;
  MemReconcile(tp);
  PostEvent(tp, kEvErr);
  Done(tp);
}

// Linux tcp_write_err.
void TcpStack::WriteErr(Tcb* tp) {
  tp->sk_err = ETIMEDOUT;
  PostEvent(tp, kEvErr);
  Done(tp);
  mib_.Inc(Mib::TcpExt_TCPAbortOnTimeout);
}

// tcp_disconnect, sock_orphan and inet_csk_listen_stop live in close.cc.

// ---------------------------------------------------------------- events

void TcpStack::PostEvent(Tcb* tp, uint32_t ev) {
  tp->pending_events = static_cast<uint16_t>(tp->pending_events | (ev & 0xffff));
  if (!tp->flag(SOCK_ON_EVQ)) {
    tp->set_flag(SOCK_ON_EVQ);
    evq_.push_back(tp);
  }
}

void TcpStack::ScheduleFree(Tcb* tp) {
  if (tp->flag(SOCK_ON_FREEQ)) return;
  if (tp->flag(SOCK_DEAD))  // inet_csk_destroy_sock: orphan count -1
    shared_->core[cfg_.core_index].orphans.fetch_sub(1, std::memory_order_relaxed);
  tp->set_flag(SOCK_ON_FREEQ);
  ClearXmitTimer(tp);
  reactor_.timers().Cancel(&tp->delack_timer);
  reactor_.timers().Cancel(&tp->keepalive_timer);
  if (tp->c.hashed == 1) table_.Remove(&tp->c);
  if (tp->c.hashed == 2) table_.RemoveListener(tp);
  freeq_.push_back(tp);
}

// Callbacks run here, after the segment or timer that caused them is fully
// processed, so a callback may close the socket (the free is deferred too).
void TcpStack::FlushEvents() {
  if (flushing_) return;
  flushing_ = true;
  while (!evq_.empty() || !freeq_.empty() || !linger_done_.empty()) {
    while (!linger_done_.empty()) {  // lingering close() returns (close.cc)
      std::vector<Tcb*> done;
      done.swap(linger_done_);
      for (Tcb* tp : done) CloseFinish(tp, true);
    }
    while (!evq_.empty()) {
      std::vector<Tcb*> batch;
      batch.swap(evq_);
      for (Tcb* tp : batch) {
        tp->clear_flag(SOCK_ON_EVQ);
        const uint32_t ev = tp->pending_events;
        tp->pending_events = 0;
        if (tp->flag(SOCK_ON_FREEQ) || tp->callback == nullptr || ev == 0) continue;
        tp->callback(tp, ev, tp->user_ctx);
      }
    }
    std::vector<Tcb*> frees;
    frees.swap(freeq_);
    for (Tcb* tp : frees) FreeTcb(tp);
  }
  flushing_ = false;
}

// ---------------------------------------------------------------- ports

int TcpStack::GetPort(Tcb* tp, uint16_t want) {
  if (want == 0) {
    // bind(port 0): Linux prefers odd ports for bind (inet_csk_find_open_port).
    const uint32_t lo = cfg_.sysctl.ip_local_port_range[0], hi = cfg_.sysctl.ip_local_port_range[1];
    const uint32_t n = hi - lo + 1;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t p = lo + (next_ephemeral_++ % n);
      if (bind_count_[p] == 0) {
        want = static_cast<uint16_t>(p);
        break;
      }
    }
    if (want == 0) return -EADDRINUSE;
  } else if (bind_count_[want] != 0) {
    return -EADDRINUSE;
  }
  ++bind_count_[want];
  tp->c.sport = rte_cpu_to_be_16(want);
  tp->set_flag(SOCK_BOUND);
  return 0;
}

void TcpStack::PutPort(Tcb* tp) {
  if (!tp->flag(SOCK_BOUND)) return;
  const uint16_t p = rte_be_to_cpu_16(tp->c.sport);
  if (bind_count_[p] > 0) --bind_count_[p];
  tp->clear_flag(SOCK_BOUND);
}

// Linux __inet_hash_connect, simplified: walk the range from a moving
// offset; a port is usable when no socket is bound to it and the 4-tuple
// is free. The socket is hashed on success.
int TcpStack::ConnectPort(Tcb* tp) {
  if (tp->c.sport != 0) {
    // __inet_check_established with twp == NULL: a TIME_WAIT holder may be
    // taken over (tcp_twsk_unique, sysctl and delay ignored).
    if (SockCommon* s = table_.Lookup(tp->c.saddr, tp->c.sport, tp->c.daddr, tp->c.dport)) {
      if (s->kind != SockKind::kTimeWait ||
          !TwUnique(*this, tp, reinterpret_cast<TwSock*>(s), /*bound_port=*/true))
        return -EADDRNOTAVAIL;
    }
    table_.Insert(&tp->c);
    return 0;
  }
  const uint32_t lo = cfg_.sysctl.ip_local_port_range[0], hi = cfg_.sysctl.ip_local_port_range[1];
  const uint32_t n = hi - lo + 1;
  uint32_t off = next_ephemeral_;
  for (uint32_t i = 0; i < n; ++i) {
    const uint16_t p = static_cast<uint16_t>(lo + ((off + i) % n));
    if (bind_count_[p] != 0) continue;
    const uint16_t be = rte_cpu_to_be_16(p);
    if (SockCommon* s = table_.Lookup(tp->c.saddr, be, tp->c.daddr, tp->c.dport)) {
      // A TIME_WAIT holder under tcp_tw_reuse rules (tcp_twsk_unique).
      if (s->kind != SockKind::kTimeWait ||
          !TwUnique(*this, tp, reinterpret_cast<TwSock*>(s), /*bound_port=*/false))
        continue;
    }
    tp->c.sport = be;
    table_.Insert(&tp->c);
    next_ephemeral_ = off + i + 2;
    return 0;
  }
  return -EADDRNOTAVAIL;
}

// ---------------------------------------------------------------- timers

void TcpStack::OnRetransmitTimer(Timer* t, void* ctx) {
  auto* self = static_cast<TcpStack*>(ctx);
  Tcb* tp = TcbOfRetransmitTimer(t);
  if (tp->pending == ICSK_TIME_PROBE0) self->ProbeTimer(tp);
  else self->RetransmitTimer(tp);
  self->FlushEvents();
}
void TcpStack::OnDelackTimer(Timer* t, void* ctx) {
  auto* self = static_cast<TcpStack*>(ctx);
  self->DelackTimer(TcbOfDelackTimer(t));
  self->FlushEvents();
}
void TcpStack::OnKeepaliveTimer(Timer* t, void* ctx) {
  auto* self = static_cast<TcpStack*>(ctx);
  self->KeepaliveTimer(TcbOfKeepaliveTimer(t));
  self->FlushEvents();
}

}  // namespace dpx::tcp
