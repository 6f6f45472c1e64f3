// The close path, rule by rule as in shared/research/close-semantics.md:
// af_inet.c inet_release / inet_shutdown, tcp.c __tcp_close,
// tcp_close_state, tcp_shutdown, tcp_disconnect, tcp_check_oom,
// sock_orphan, inet_connection_sock.c inet_csk_listen_stop /
// inet_child_forget / inet_csk_destroy_sock, tcp_timer.c
// tcp_out_of_resources / tcp_orphan_retries, include/net/tcp.h tcp_fin_time.
#include <algorithm>
#include <cerrno>

#include <rte_mbuf.h>

#include "core/reactor.h"
#include "tcp/seq.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp {

namespace {
constexpr uint32_t TCP_TIMEWAIT_LEN_MS = 60'000;
constexpr uint32_t TCP_RTO_MAX_MS = TCP_RTO_MAX_US / 1000;
constexpr uint32_t SOCK_MIN_SNDBUF = 4608;  // 2 * (2048 + SKB_DATA_ALIGN(sizeof(sk_buff)))
constexpr uint32_t kOrphanCacheMs = 100;    // tcp_orphan_timer period (HZ/10)

inline uint32_t Truesize(const rte_mbuf* m) { return m->buf_len + 128; }

// tcp_need_reset.
constexpr bool NeedReset(TcpState s) {
  return TcpStateIn(s, TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 |
                           TCPF_SYN_RECV);
}
}  // namespace

// tcp_close_state: new_state[] decides the next state and the FIN.
bool TcpStack::CloseState(Tcb* sk) {
  const CloseTransition t = TcpCloseTransition(sk->state());
  SetState(sk, t.next);
  return t.send_fin;
}

// sock_orphan + tcp_orphan_count_inc (this core's slot).
void TcpStack::Orphan(Tcb* tp) {
  if (tp->flag(SOCK_DEAD)) return;
  tp->set_flag(SOCK_DEAD);
  tp->callback = nullptr;
  tp->user_ctx = nullptr;
  shared_->core[cfg_.core_index].orphans.fetch_add(1, std::memory_order_relaxed);
}

// inet_csk_destroy_sock: the orphan count drops in ScheduleFree/FreeTcb.
void TcpStack::DestroySock(Tcb* sk) { ScheduleFree(sk); }

// tcp_fin_time: linger2 ?: tcp_fin_timeout, at least 3.5 * RTO.
uint32_t TcpStack::FinTimeMs(const Tcb* tp) const {
  int64_t fin_timeout = tp->linger2 ? tp->linger2 : int64_t{cfg_.sysctl.tcp_fin_timeout} * 1000;
  const int64_t rto = tp->rtt.BackedOffRtoUs() / 1000;  // icsk_rto
  const int64_t floor = (rto << 2) - (rto >> 1);
  if (fin_timeout < floor) fin_timeout = floor;
  return static_cast<uint32_t>(fin_timeout);
}

// tcp_orphan_update, driven lazily: the cache moves at most once per 100 ms
// tick, and never between a close's orphan_count_inc and its tcp_check_oom
// (the socket being closed is not yet counted, as in Linux 6.x).
void TcpStack::MaybeRefreshOrphanCache() {
  const uint32_t tick = now_ms() / kOrphanCacheMs;
  if (orphan_cache_init_ && tick == orphan_cache_ms_) return;
  orphan_cache_init_ = true;
  orphan_cache_ms_ = tick;
  shared_->RefreshOrphanCache();
}

// tcp_too_many_orphans.
bool TcpStack::TooManyOrphans(int shift) {
  return (shared_->OrphansCached() << shift) > static_cast<int64_t>(cfg_.sysctl.tcp_max_orphans);
}

// tcp_out_of_memory: the hard limit tcp_mem[2], not the pressure flag.
bool TcpStack::OutOfMemory(const Tcb* tp) const {
  return tp->wmem_queued > SOCK_MIN_SNDBUF &&
         MemoryAllocated() > static_cast<int64_t>(cfg_.sysctl.tcp_mem[2]);
}

// tcp_check_oom (net_info_ratelimited log lines).
bool TcpStack::CheckOom(Tcb* tp, int shift) {
  MemReconcile(tp);
  const bool too_many_orphans = TooManyOrphans(shift);
  const bool out_of_socket_memory = OutOfMemory(tp);
  if (too_many_orphans && oom_log_limit_.Allow(now_ns()))
    DPX_LOG_INFO("TCP: too many orphaned sockets");
  if (out_of_socket_memory && oom_log_limit_.Allow(now_ns()))
    DPX_LOG_INFO("TCP: out of memory -- consider tuning tcp_mem");
  return too_many_orphans || out_of_socket_memory;
}

// tcp_out_of_resources (orphans only, from the RTO and probe timers).
bool TcpStack::OutOfResources(Tcb* tp, bool do_reset) {
  int shift = 0;
  const int32_t since_send = static_cast<int32_t>(now_ms() - tp->lsndtime);
  if (since_send > static_cast<int32_t>(2 * TCP_RTO_MAX_MS) || !do_reset) ++shift;
  // (sk_err_soft is not tracked: no ICMP soft errors yet.)
  MaybeRefreshOrphanCache();
  if (CheckOom(tp, shift)) {
    if (since_send <= static_cast<int32_t>(TCP_TIMEWAIT_LEN_MS) ||
        (!tp->snd_wnd && !tp->packets_out))
      do_reset = true;
    if (do_reset) SendActiveReset(tp);
    Done(tp);
    mib_.Inc(Mib::TcpExt_TCPAbortOnMemory);
    return true;
  }
  return false;
}

// tcp_orphan_retries (sk_err_soft not tracked).
uint8_t TcpStack::OrphanRetries(const Tcb* tp, bool alive) const {
  (void)tp;
  uint8_t retries = cfg_.sysctl.tcp_orphan_retries;
  if (retries == 0 && alive) retries = 8;
  return retries;
}

// tcp_disconnect.
void TcpStack::Disconnect(Tcb* tp) {
  const TcpState old = tp->state();
  if (old != TCP_CLOSE) SetState(tp, TCP_CLOSE);
  if (old == TCP_LISTEN) {
    ListenStop(tp);
  } else if (NeedReset(old) ||
             (tp->snd_nxt != tp->write_seq && TcpStateIn(old, TCPF_CLOSING | TCPF_LAST_ACK))) {
    SendActiveReset(tp);
    tp->sk_err = ECONNRESET;
  } else if (old == TCP_SYN_SENT) {
    tp->sk_err = ECONNRESET;
  }
  ClearXmitTimer(tp);
  reactor_.timers().Cancel(&tp->delack_timer);
  reactor_.timers().Cancel(&tp->keepalive_timer);
  tp->write_queue.Purge();
  tp->rtx_queue.Purge();
  tp->receive_queue.Purge();
  tp->ooo_queue.Purge();
  tp->wmem_queued = tp->rmem_alloc = 0;
  MemReconcile(tp);
  tp->packets_out = tp->retrans_out = 0;
  tp->dupacks = 0;
  tp->retransmits = 0;
  tp->probes_out = 0;
  tp->ack_pending = 0;
  tp->rtt.ResetBackoff();
  tp->c.dport = 0;
  tp->c.daddr = 0;
  if (!tp->flag(SOCK_BINDPORT_LOCK)) tp->c.saddr = 0;  // inet_bhash2_reset_saddr
  tp->sk_shutdown = 0;
  tp->write_seq += tp->max_window + 2;
  if (tp->write_seq == 0) tp->write_seq = 1;
  tp->snd_wnd = 0;
  tp->max_window = 0;
  tp->rx_opt.ts_recent = 0;
  tp->rx_opt.ts_recent_stamp = 0;
}

// inet_csk_listen_stop: every accept-queue child goes through
// inet_child_forget (tcp_disconnect with its RST, sock_orphan, orphan
// count +1, inet_csk_destroy_sock); SYN_RECV requests are dropped without
// a packet, so a later ACK finds no socket and gets `R <ack>`.
void TcpStack::ListenStop(Tcb* lsk) {
  ListenQueue* lq = lsk->lq;
  if (lq == nullptr) return;
  while (Tcb* child = lq->accept_q) {
    lq->accept_q = child->q_next;
    child->q_next = nullptr;
    child->clear_flag(SOCK_IN_ACCEPTQ);
    child->parent = nullptr;
    Disconnect(child);  // inet_child_forget
    Orphan(child);
    DestroySock(child);
  }
  lq->accept_q_tail = nullptr;
  lq->ack_backlog = 0;
  while (Tcb* child = lq->syn_q) {  // reqsk_timer_handler drops them (no RST, no SYN-ACK)
    lq->syn_q = child->q_next;
    child->q_next = nullptr;
    child->parent = nullptr;
    SetState(child, TCP_CLOSE);
    ScheduleFree(child);
  }
  lq->syn_qlen = 0;
}

// inet_shutdown + tcp_shutdown.
int TcpStack::Shutdown(Tcb* sk, int how) {
  ++how;  // SHUT_RD(0)->RCV_SHUTDOWN(1), SHUT_WR(1)->SEND_SHUTDOWN(2), SHUT_RDWR->3
  if ((how & ~SHUTDOWN_MASK) || how == 0) return -EINVAL;
  int err = 0;
  switch (sk->state()) {
    case TCP_CLOSE:
      err = -ENOTCONN;  // the flags are still set (wakes pollers with HUP)
      [[fallthrough]];
    default:
      sk->sk_shutdown = static_cast<uint8_t>(sk->sk_shutdown | how);
      // tcp_shutdown: FIN only from ESTABLISHED, SYN_SENT, SYN_RECV, CLOSE_WAIT.
      if ((how & SEND_SHUTDOWN) &&
          TcpStateIn(sk->state(), TCPF_ESTABLISHED | TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_CLOSE_WAIT)) {
        if (CloseState(sk)) SendFin(sk);
      }
      break;
    case TCP_LISTEN:
      if (!(how & RCV_SHUTDOWN)) break;  // SHUT_WR on a listener: no-op
      [[fallthrough]];
    case TCP_SYN_SENT:
      Disconnect(sk);  // no RST from SYN_SENT; ECONNRESET in sk_err
      break;
  }
  // sk_state_change: wake pollers with the tcp_poll mask that now holds.
  uint32_t ev = 0;
  if (sk->sk_shutdown == SHUTDOWN_MASK || sk->state() == TCP_CLOSE) ev |= kEvHup;
  if (sk->sk_shutdown & RCV_SHUTDOWN) ev |= kEvIn | kEvRdHup;
  if (sk->sk_shutdown & SEND_SHUTDOWN) ev |= kEvOut;
  if (sk->sk_err) ev |= kEvErr;
  if (ev) PostEvent(sk, ev);
  FlushEvents();
  return err;
}

// inet_release + __tcp_close, steps 1-6 (close-semantics.md §2).
int TcpStack::Close(Tcb* sk, bool exiting) {
  // inet_release: the linger time is ignored when the process is exiting.
  const uint64_t timeout_ms =
      (sk->flag(SOCK_LINGER) && !exiting) ? uint64_t{sk->lingertime} * 1000 : 0;
  MaybeRefreshOrphanCache();  // the tcp_orphan_timer tick, before this socket counts
  sk->sk_shutdown = SHUTDOWN_MASK;  // 1
  if (sk->state() == TCP_LISTEN) {  // 2
    SetState(sk, TCP_CLOSE);
    ListenStop(sk);
    CloseFinish(sk, false);
    FlushEvents();
    return 0;
  }
  // 3: drain the receive queue; the FIN byte and already-read bytes do not
  // count, the out-of-order queue is ignored.
  bool data_was_unread = false;
  while (rte_mbuf* m = sk->receive_queue.PopFront()) {
    const SegMeta* s = Seg(m);
    const uint32_t end = s->end_seq - ((s->tcp_flags & TCPHDR_FIN) ? 1 : 0);
    if (SeqAfter(end, sk->copied_seq)) data_was_unread = true;
    sk->rmem_alloc -= std::min(sk->rmem_alloc, Truesize(m));
    rte_pktmbuf_free(m);
  }
  MemReconcile(sk);
  if (sk->state() == TCP_CLOSE) {
    // 4: already closed (reset, never connected): nothing is sent.
  } else if (data_was_unread) {  // 5b (RFC 2525 2.17)
    mib_.Inc(Mib::TcpExt_TCPAbortOnClose);
    SetState(sk, TCP_CLOSE);
    SendActiveReset(sk);
  } else if (sk->flag(SOCK_LINGER) && sk->lingertime == 0) {  // 5c
    Disconnect(sk);
    mib_.Inc(Mib::TcpExt_TCPAbortOnData);
  } else if (CloseState(sk)) {  // 5d
    SendFin(sk);
  }
  // 6: sk_stream_wait_close. dpx never blocks: the wait runs on the
  // keepalive timer (idle in these states: the FIN is queued or in flight)
  // and ends in CloseFinish with kEvCloseDone.
  if (timeout_ms && TcpStateIn(sk->state(), TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_LAST_ACK)) {
    sk->set_flag(SOCK_LINGER_WAIT);
    ResetKeepalive(sk, timeout_ms);
    FlushEvents();
    return 0;
  }
  CloseFinish(sk, false);
  FlushEvents();
  return 0;
}

// __tcp_close from adjudge_to_death (steps 7-10). `notify`: a lingering
// close ends (state change or linger expiry): report kEvCloseDone first.
void TcpStack::CloseFinish(Tcb* sk, bool notify) {
  if (notify) {
    sk->clear_flag(SOCK_LINGER_WAIT);
    reactor_.timers().Cancel(&sk->keepalive_timer);
    if (sk->callback) sk->callback(sk, kEvCloseDone, sk->user_ctx);
    if (sk->flag(SOCK_KEEPOPEN) &&
        TcpStateIn(sk->state(), TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_LAST_ACK))
      ResetKeepalive(sk, uint64_t{KeepaliveTimeS(sk)} * 1000);
  }
  if (sk->flag(SOCK_ON_FREEQ)) return;  // already destroyed
  // 7: sock_orphan, orphan count +1.
  Orphan(sk);
  if (sk->state() == TCP_TIME_WAIT) return;  // full-socket TIME_WAIT (before time_wait.cc)
  // 8: FIN_WAIT2.
  if (sk->state() == TCP_FIN_WAIT2) {
    if (sk->linger2 < 0) {
      SetState(sk, TCP_CLOSE);
      SendActiveReset(sk);
      mib_.Inc(Mib::TcpExt_TCPAbortOnLinger);
    } else {
      const uint32_t tmo = FinTimeMs(sk);
      if (tmo > TCP_TIMEWAIT_LEN_MS) {
        ResetKeepalive(sk, tmo - TCP_TIMEWAIT_LEN_MS);
      } else {
        TimeWait(sk, TCP_FIN_WAIT2, tmo);
        return;  // no OOM check
      }
    }
  }
  // 9: tcp_check_oom (the FIN of 5d is already on the wire: F. then R.).
  if (sk->state() != TCP_CLOSE && CheckOom(sk, 0)) {
    SetState(sk, TCP_CLOSE);
    SendActiveReset(sk);
    mib_.Inc(Mib::TcpExt_TCPAbortOnMemory);
  }
  // 10
  if (sk->state() == TCP_CLOSE) DestroySock(sk);
}

}  // namespace dpx::tcp
