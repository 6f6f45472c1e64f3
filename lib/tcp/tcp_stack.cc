// TcpStack setup, TCB lifetime, state changes, events, ports.
#include "tcp/tcp_stack.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>

#include <rte_mbuf.h>

#include "core/log.h"
#include "core/reactor.h"
#include "net/ip_stack.h"

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
  default_cc_ = FindCongestionOps(cfg_.sysctl.tcp_congestion_control);
  if (default_cc_ == nullptr) default_cc_ = &DefaultCongestionOps();
  next_ephemeral_ = static_cast<uint32_t>(SeedOf(cfg, 2));
  TimerWheel& w = reactor_.timers();
  w.SetHandler(timer_kind(0), &TcpStack::OnRetransmitTimer, this);
  w.SetHandler(timer_kind(1), &TcpStack::OnDelackTimer, this);
  w.SetHandler(timer_kind(2), &TcpStack::OnKeepaliveTimer, this);
  ip_.RegisterProtocol(kIpProtoTcp, [this](rte_mbuf* m, const Ipv4Rx& rx) { Rcv(m, rx); });
}

TcpStack::~TcpStack() {
  ip_.RegisterProtocol(kIpProtoTcp, nullptr);
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
  if (tp->flag(SOCK_DEAD) && orphans_ > 0) --orphans_;
  delete tp->lq;
  tp->lq = nullptr;
  pool_.Delete(tp);
}

// Linux tcp_set_state: counters, and unhash on CLOSE.
void TcpStack::SetState(Tcb* tp, TcpState st) {
  const TcpState old = tp->state();
  if (st == TCP_ESTABLISHED && old != TCP_ESTABLISHED) mib_.Inc(Mib::Tcp_CurrEstab);
  if (st == TCP_CLOSE) {
    if (old == TCP_CLOSE_WAIT || old == TCP_ESTABLISHED) mib_.Inc(Mib::Tcp_EstabResets);
    if (tp->c.hashed == 1) table_.Remove(&tp->c);
    if (tp->c.hashed == 2) table_.RemoveListener(tp);
    PutPort(tp);
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

// Linux tcp_disconnect (the parts issue 3 needs; issue 4 completes it).
void TcpStack::Disconnect(Tcb* tp) {
  const TcpState old = tp->state();
  if (old == TCP_LISTEN) ListenStop(tp);
  const bool need_reset = TcpStateIn(old, TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 |
                                              TCPF_FIN_WAIT2 | TCPF_SYN_RECV);
  if (need_reset) {
    SendActiveReset(tp);
    tp->sk_err = ECONNRESET;
  } else if ((old == TCP_CLOSING || old == TCP_LAST_ACK) && tp->snd_nxt != tp->write_seq) {
    SendActiveReset(tp);
  } else if (old == TCP_SYN_SENT) {
    tp->sk_err = ECONNRESET;
  }
  SetState(tp, TCP_CLOSE);
  ClearXmitTimer(tp);
  reactor_.timers().Cancel(&tp->delack_timer);
  reactor_.timers().Cancel(&tp->keepalive_timer);
  tp->write_queue.Purge();
  tp->rtx_queue.Purge();
  tp->receive_queue.Purge();
  tp->ooo_queue.Purge();
  tp->wmem_queued = tp->rmem_alloc = 0;
  tp->packets_out = tp->retrans_out = 0;
  tp->write_seq += tp->max_window + 2;
  if (tp->write_seq == 0) tp->write_seq = 1;
}

void TcpStack::Orphan(Tcb* tp) {
  if (tp->flag(SOCK_DEAD)) return;
  tp->set_flag(SOCK_DEAD);
  tp->callback = nullptr;
  ++orphans_;
}

// inet_csk_listen_stop, basic: accept-queue children are disconnected
// (RST where tcp_need_reset says so) and destroyed; SYN_RECV children are
// dropped silently.
void TcpStack::ListenStop(Tcb* lsk) {
  ListenQueue* lq = lsk->lq;
  if (lq == nullptr) return;
  while (Tcb* child = lq->accept_q) {
    lq->accept_q = child->q_next;
    child->clear_flag(SOCK_IN_ACCEPTQ);
    child->parent = nullptr;
    Disconnect(child);
    Orphan(child);
    ScheduleFree(child);
  }
  lq->accept_q_tail = nullptr;
  lq->ack_backlog = 0;
  while (Tcb* child = lq->syn_q) {
    lq->syn_q = child->q_next;
    child->parent = nullptr;
    SetState(child, TCP_CLOSE);
    ScheduleFree(child);
  }
  lq->syn_qlen = 0;
}

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
  while (!evq_.empty() || !freeq_.empty()) {
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
    if (table_.Lookup(tp->c.saddr, tp->c.sport, tp->c.daddr, tp->c.dport)) return -EADDRNOTAVAIL;
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
    if (table_.Lookup(tp->c.saddr, be, tp->c.daddr, tp->c.dport)) continue;
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
