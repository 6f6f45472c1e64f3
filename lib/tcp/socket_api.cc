// Non-blocking TCP socket calls (Linux af_inet.c, tcp.c).
#include "tcp/socket_api.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rte_mbuf.h>

#include "core/reactor.h"
#include "net/ip_stack.h"
#include "tcp/seq.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp {

namespace {
constexpr uint32_t SOCK_MIN_SNDBUF = 4608;  // 2 * (2048 + SKB_DATA_ALIGN(sizeof(sk_buff)))
constexpr uint32_t SOCK_MIN_RCVBUF = 2304;
constexpr int MAX_TCP_KEEPIDLE = 32767, MAX_TCP_KEEPINTVL = 32767, MAX_TCP_KEEPCNT = 127;
constexpr int MAX_TCP_SYNCNT = 127;
constexpr int TCP_FIN_TIMEOUT_MAX_S = 120;

inline uint32_t Truesize(const rte_mbuf* m) { return m->buf_len + 128; }

bool Writable(const Tcb* sk) {
  return sk->sndbuf > sk->wmem_queued && sk->sndbuf - sk->wmem_queued >= sk->wmem_queued / 2;
}

// Errors common to send paths (tcp_sendmsg_locked preamble).
int SendPreamble(Tcb* sk) {
  if (sk->sk_err) {
    const int e = sk->sk_err;
    sk->sk_err = 0;
    return -e;
  }
  if (sk->sk_shutdown & SEND_SHUTDOWN) return -EPIPE;
  if (!TcpStateIn(sk->state(), TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)) {
    if (TcpStateIn(sk->state(), TCPF_SYN_SENT | TCPF_SYN_RECV)) return -EAGAIN;
    return -EPIPE;  // sk_stream_wait_connect
  }
  return 0;
}
}  // namespace

Tcb* TcpSocket(TcpStack& st, TcpCallback cb, void* user_ctx) {
  Tcb* sk = st.AllocTcb();
  if (sk == nullptr) return nullptr;
  sk->callback = cb;
  sk->user_ctx = user_ctx;
  return sk;
}

void TcpSetCallback(Tcb* sk, TcpCallback cb, void* user_ctx) {
  sk->callback = cb;
  sk->user_ctx = user_ctx;
}

int TcpBind(Tcb* sk, uint32_t addr_be, uint16_t port) {
  TcpStack& st = *sk->stack;
  if (sk->state() != TCP_CLOSE || sk->flag(SOCK_BOUND)) return -EINVAL;
  if (addr_be != 0 && !st.ip().IsLocalAddress(addr_be)) return -EADDRNOTAVAIL;
  const int r = st.GetPort(sk, port);
  if (r < 0) return r;
  sk->c.saddr = addr_be;
  if (port != 0) sk->set_flag(SOCK_BINDPORT_LOCK);  // sk_userlocks |= SOCK_BINDPORT_LOCK
  return 0;
}

int TcpListen(Tcb* sk, int backlog) {
  TcpStack& st = *sk->stack;
  if (!TcpStateIn(sk->state(), TCPF_CLOSE | TCPF_LISTEN)) return -EINVAL;
  const uint32_t somax = st.sysctl().somaxconn;
  const uint32_t b = std::min<uint32_t>(static_cast<uint32_t>(backlog), somax);
  if (sk->lq == nullptr) sk->lq = new ListenQueue();
  sk->lq->max_ack_backlog = static_cast<uint16_t>(std::min<uint32_t>(b, 65535));
  if (sk->state() == TCP_LISTEN) return 0;
  if (!sk->flag(SOCK_BOUND)) {
    const int r = st.GetPort(sk, 0);
    if (r < 0) return r;
  }
  st.SetState(sk, TCP_LISTEN);
  st.table().InsertListener(sk);
  return 0;
}

int TcpAccept(Tcb* sk, Tcb** out) {
  if (sk->state() != TCP_LISTEN) return -EINVAL;
  ListenQueue* lq = sk->lq;
  Tcb* child = lq->accept_q;
  if (child == nullptr) return -EAGAIN;
  lq->accept_q = child->q_next;
  if (lq->accept_q == nullptr) lq->accept_q_tail = nullptr;
  --lq->ack_backlog;
  child->q_next = nullptr;
  child->parent = nullptr;
  child->clear_flag(SOCK_IN_ACCEPTQ);
  *out = child;
  return 0;
}

int TcpConnect(Tcb* sk, uint32_t daddr_be, uint16_t dport) {
  TcpStack& st = *sk->stack;
  switch (sk->state()) {
    case TCP_CLOSE: break;
    case TCP_SYN_SENT:
    case TCP_SYN_RECV: return -EALREADY;
    default: return -EISCONN;
  }
  if (sk->sk_err) {
    sk->sk_err = 0;
  }
  if (dport == 0) return -ECONNREFUSED;
  if (sk->c.saddr == 0) sk->c.saddr = st.ip().ip();
  sk->c.daddr = daddr_be;
  sk->c.dport = rte_cpu_to_be_16(dport);
  const int r = st.ConnectPort(sk);
  if (r < 0) return r;
  const TcpSysctls& sc = st.sysctl();
  // tcp_connect_init
  sk->advmss = static_cast<uint16_t>(st.ip().mtu() - 40);
  if (sk->user_mss && sk->user_mss < sk->advmss) sk->advmss = sk->user_mss;
  sk->rx_opt.mss_clamp = sk->user_mss ? sk->user_mss : 0;
  // Linux tcp_connect_init: the timestamp allowance only when ts_recent_stamp is set.
  const uint32_t mss_for_wnd =
      sk->advmss - (sc.tcp_timestamps && sk->rx_opt.ts_recent_stamp ? kTcpOlenTstampAligned : 0);
  const InitialWindow iw = SelectInitialWindow(sk->rcvbuf / 2, mss_for_wnd, 0,
                                               sc.tcp_window_scaling, sc.tcp_rmem[2]);
  sk->rcv_wnd = iw.rcv_wnd;
  sk->window_clamp = iw.window_clamp;
  sk->rx_opt.rcv_wscale = iw.rcv_wscale;
  sk->tsoffset = sc.tcp_timestamps ? st.isn().TsOff(sk->c.saddr, sk->c.daddr) : 0;
  // tcp_v4_connect: a write_seq already set (tcp_twsk_unique took over a
  // TIME_WAIT 4-tuple: tw_snd_nxt + 65537) is the ISN; else secure_tcp_seq.
  sk->snd_una = sk->write_seq ? sk->write_seq
                              : st.isn().Seq(sk->c.saddr, sk->c.daddr, sk->c.sport, sk->c.dport, st.now_ns());
  sk->snd_nxt = sk->snd_una + 1;
  sk->write_seq = sk->snd_una + 1;
  sk->rcv_nxt = 0;
  sk->rcv_wup = 0;
  sk->copied_seq = 0;
  sk->retransmits = 0;
  sk->retrans_stamp = 0;
  sk->rtt.ResetBackoff();
  sk->rtt.set_rto_us(TCP_TIMEOUT_INIT_US);
  st.SetState(sk, TCP_SYN_SENT);
  st.mib().Inc(Mib::Tcp_ActiveOpens);
  st.SendSyn(sk);
  st.ResetXmitTimer(sk, ICSK_TIME_RETRANS, TCP_TIMEOUT_INIT_US);
  st.FlushEvents();
  return -EINPROGRESS;
}

namespace {
// Linux tcp_push: PSH on the tail unless MSG_MORE; MSG_MORE pushes with
// TCP_NAGLE_CORK (a partial tail is held).
void MarkPushAndXmit(TcpStack& st, Tcb* sk, int flags = 0) {
  const bool more = flags & kMsgMore;
  if (rte_mbuf* tail = sk->write_queue.tail; tail && !more)
    Seg(tail)->tcp_flags |= TCPHDR_PSH;  // tcp_mark_push
  st.WriteXmit(sk, false, more);
  st.MemReconcile(sk);
  st.FlushEvents();
}
}  // namespace

ptrdiff_t TcpSend(Tcb* sk, const void* buf, size_t len) { return TcpSendFlags(sk, buf, len, 0); }

ptrdiff_t TcpSendFlags(Tcb* sk, const void* buf, size_t len, int flags) {
  TcpStack& st = *sk->stack;
  if (flags & ~(kMsgMore | kMsgDontwait)) return -EOPNOTSUPP;
  if (const int e = SendPreamble(sk)) return e;
  const auto* p = static_cast<const uint8_t*>(buf);
  size_t copied = 0;
  const uint16_t mss = sk->mss_cache;
  while (copied < len) {
    rte_mbuf* tail = sk->write_queue.tail;
    uint32_t room = 0;
    if (tail && !(Seg(tail)->tcp_flags & TCPHDR_FIN) && tail->nb_segs == 1 &&
        rte_pktmbuf_pkt_len(tail) < mss)
      room = std::min<uint32_t>(mss - rte_pktmbuf_pkt_len(tail), rte_pktmbuf_tailroom(tail));
    if (room == 0) {
      if (sk->wmem_queued >= sk->sndbuf) break;
      rte_mbuf* m = rte_pktmbuf_alloc(st.ip().pool());
      if (m == nullptr) break;
      SegMeta* s = Seg(m);
      *s = SegMeta{};
      s->seq = s->end_seq = sk->write_seq;
      sk->write_queue.PushBack(m);
      sk->wmem_queued += Truesize(m);
      tail = m;
      room = std::min<uint32_t>(mss, rte_pktmbuf_tailroom(m));
    }
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(room, len - copied));
    char* d = rte_pktmbuf_append(tail, static_cast<uint16_t>(n));
    std::memcpy(d, p + copied, n);
    Seg(tail)->end_seq += n;
    sk->write_seq += n;
    copied += n;
  }
  if (copied < len) sk->set_flag(SOCK_NOSPACE);
  if (copied == 0) return -EAGAIN;
  MarkPushAndXmit(st, sk, flags);
  return static_cast<ptrdiff_t>(copied);
}

ptrdiff_t TcpSendMbuf(Tcb* sk, rte_mbuf* m) {
  TcpStack& st = *sk->stack;
  if (const int e = SendPreamble(sk)) return e;
  const uint32_t len = rte_pktmbuf_pkt_len(m);
  if (sk->wmem_queued >= sk->sndbuf) {
    sk->set_flag(SOCK_NOSPACE);
    return -EAGAIN;
  }
  if (m->nb_segs == 1 && len <= sk->mss_cache && len > 0 && RTE_MBUF_DIRECT(m) &&
      rte_mbuf_refcnt_read(m) == 1) {
    SegMeta* s = Seg(m);
    *s = SegMeta{};
    s->seq = sk->write_seq;
    s->end_seq = sk->write_seq + len;
    sk->write_seq += len;
    sk->write_queue.PushBack(m);
    sk->wmem_queued += Truesize(m);
    MarkPushAndXmit(st, sk);
    return len;
  }
  // Larger or chained: copy segment by segment (the queue holds <= MSS
  // segments), ignoring sndbuf for this one call so the mbuf is consumed whole.
  const uint32_t saved = sk->sndbuf;
  sk->sndbuf = UINT32_MAX;
  uint8_t tmp[2048];
  uint32_t off = 0;
  ptrdiff_t r = 0;
  while (off < len) {
    const uint32_t n = std::min<uint32_t>(len - off, sizeof(tmp));
    const void* d = rte_pktmbuf_read(m, off, n, tmp);
    r = TcpSend(sk, d, n);
    if (r < 0) break;
    off += static_cast<uint32_t>(r);
  }
  sk->sndbuf = saved;
  if (off == 0) return r < 0 ? r : -EAGAIN;
  rte_pktmbuf_free(m);
  return off;
}

namespace {
// tcp_recvmsg error order once the queue is empty.
int RecvEmptyError(Tcb* sk) {
  if (sk->state() == TCP_LISTEN) return -ENOTCONN;
  if (sk->sk_err) {
    const int e = sk->sk_err;
    sk->sk_err = 0;
    return -e;
  }
  if (sk->sk_shutdown & RCV_SHUTDOWN) return 0;
  if (sk->state() == TCP_CLOSE) return -ENOTCONN;
  return -EAGAIN;
}

// Linux __tcp_cleanup_rbuf: ACK when more than one rcv_mss is unacknowledged,
// when a pushed segment was read out entirely (not pingpong; dpx enters
// pingpong only at a FIN), or when reading opened the window a lot.
void CleanupRbuf(TcpStack& st, Tcb* sk, size_t copied) {
  if (!TcpStateIn(sk->state(), TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2)) return;
  bool time_to_ack = false;
  if (sk->ack_pending & ICSK_ACK_SCHED) {
    const bool pingpong = (sk->sk_shutdown & RCV_SHUTDOWN) != 0;
    if (sk->rcv_nxt - sk->rcv_wup > sk->rcv_mss ||
        (copied > 0 &&
         ((sk->ack_pending & ICSK_ACK_PUSHED2) ||
          ((sk->ack_pending & ICSK_ACK_PUSHED) && !pingpong)) &&
         sk->rmem_alloc == 0))
      time_to_ack = true;
  }
  if (copied > 0 && !time_to_ack && !(sk->sk_shutdown & RCV_SHUTDOWN)) {
    const uint32_t now_win = TcpReceiveWindow(*sk);
    if (2 * now_win <= sk->window_clamp) {
      const uint32_t new_win = st.RawSelectWindow(sk);
      if (new_win && new_win >= 2 * now_win) time_to_ack = true;
    }
  }
  if (time_to_ack) st.SendAck(sk);
}
}  // namespace

ptrdiff_t TcpRecv(Tcb* sk, void* buf, size_t len) {
  TcpStack& st = *sk->stack;
  auto* out = static_cast<uint8_t*>(buf);
  size_t copied = 0;
  while (copied < len) {
    rte_mbuf* m = sk->receive_queue.head;
    if (m == nullptr) break;
    const uint32_t avail = rte_pktmbuf_pkt_len(m);
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(avail, len - copied));
    const void* d = rte_pktmbuf_read(m, 0, n, out + copied);
    if (d != out + copied) std::memcpy(out + copied, d, n);
    copied += n;
    sk->copied_seq += n;
    if (n == avail) {
      sk->receive_queue.PopFront();
      sk->rmem_alloc -= std::min(sk->rmem_alloc, Truesize(m));
      rte_pktmbuf_free(m);
    } else {
      rte_pktmbuf_adj(m, static_cast<uint16_t>(n));
      Seg(m)->seq += n;
    }
  }
  if (copied == 0) return len == 0 ? 0 : RecvEmptyError(sk);
  st.MemReconcile(sk);
  CleanupRbuf(st, sk, copied);
  st.FlushEvents();
  return static_cast<ptrdiff_t>(copied);
}

rte_mbuf* TcpRecvMbuf(Tcb* sk, int* err) {
  TcpStack& st = *sk->stack;
  rte_mbuf* m = sk->receive_queue.PopFront();
  if (m == nullptr) {
    *err = RecvEmptyError(sk);
    return nullptr;
  }
  sk->copied_seq += rte_pktmbuf_pkt_len(m);
  sk->rmem_alloc -= std::min(sk->rmem_alloc, Truesize(m));
  *err = 0;
  st.MemReconcile(sk);
  CleanupRbuf(st, sk, rte_pktmbuf_pkt_len(m));
  st.FlushEvents();
  return m;
}

size_t TcpReadable(const Tcb* sk) {
  size_t n = 0;
  for (rte_mbuf* m = sk->receive_queue.head; m; m = Seg(m)->next) n += rte_pktmbuf_pkt_len(m);
  return n;
}

bool TcpWritable(const Tcb* sk) { return Writable(sk); }

// inet_shutdown + tcp_shutdown (close.cc).
int TcpShutdown(Tcb* sk, int how) { return sk->stack->Shutdown(sk, how); }

// inet_release + __tcp_close (close.cc).
int TcpClose(Tcb* sk) { return sk->stack->Close(sk, /*exiting=*/false); }
int TcpCloseExiting(Tcb* sk) { return sk->stack->Close(sk, /*exiting=*/true); }

int TcpSockError(Tcb* sk) {
  const int e = sk->sk_err;
  sk->sk_err = 0;
  return e;
}

int TcpSetsockopt(Tcb* sk, int level, int name, const void* val, size_t len) {
  TcpStack& st = *sk->stack;
  if (name == kSoLinger && level == kSolSocket) {
    if (len < sizeof(Linger)) return -EINVAL;
    Linger l;
    std::memcpy(&l, val, sizeof(l));
    if (!l.l_onoff) {
      sk->clear_flag(SOCK_LINGER);
    } else {
      sk->lingertime = l.l_linger < 0 ? 0 : static_cast<uint32_t>(l.l_linger);
      sk->set_flag(SOCK_LINGER);
    }
    return 0;
  }
  if (len < sizeof(int)) return -EINVAL;
  int v;
  std::memcpy(&v, val, sizeof(v));
  if (level == kSolSocket) {
    switch (name) {
      case kSoSndbuf: {
        const uint32_t u = std::min<uint32_t>(v < 0 ? 0 : static_cast<uint32_t>(v), st.sysctl().wmem_max);
        sk->sndbuf = std::max<uint32_t>(u * 2, SOCK_MIN_SNDBUF);
        sk->set_flag(SOCK_SNDBUF_LOCK);
        return 0;
      }
      case kSoRcvbuf: {
        const uint32_t u = std::min<uint32_t>(v < 0 ? 0 : static_cast<uint32_t>(v), st.sysctl().rmem_max);
        sk->rcvbuf = std::max<uint32_t>(u * 2, SOCK_MIN_RCVBUF);
        sk->set_flag(SOCK_RCVBUF_LOCK);
        return 0;
      }
      case kSoKeepalive:
        if (v && !sk->flag(SOCK_KEEPOPEN)) {
          sk->set_flag(SOCK_KEEPOPEN);
          if (!TcpStateIn(sk->state(), TCPF_CLOSE | TCPF_LISTEN))
            st.ResetKeepalive(sk, uint64_t{st.KeepaliveTimeS(sk)} * 1000);
        } else if (!v) {
          sk->clear_flag(SOCK_KEEPOPEN);
          st.reactor().timers().Cancel(&sk->keepalive_timer);
        }
        return 0;
      default:
        return -ENOPROTOOPT;
    }
  }
  if (level != kIpprotoTcp) return -ENOPROTOOPT;
  switch (name) {
    case kTcpNodelay:
      if (v) {
        sk->set_flag(SOCK_NODELAY);
        st.WriteXmit(sk);  // tcp_push_pending_frames
        st.FlushEvents();
      } else {
        sk->clear_flag(SOCK_NODELAY);
      }
      return 0;
    case kTcpCork:  // __tcp_sock_set_cork
      if (v) {
        sk->set_flag(SOCK_CORK);
      } else {
        sk->clear_flag(SOCK_CORK);
        // tcp_push_pending_frames; with TCP_NODELAY, TCP_NAGLE_PUSH.
        st.WriteXmit(sk, sk->flag(SOCK_NODELAY));
        st.MemReconcile(sk);
        st.FlushEvents();
      }
      return 0;
    case kTcpMaxseg:
      if (v && (v < TCP_MIN_MSS || v > static_cast<int>(MAX_TCP_WINDOW))) return -EINVAL;
      sk->user_mss = static_cast<uint16_t>(v);
      return 0;
    case kTcpKeepidle:
      if (v < 1 || v > MAX_TCP_KEEPIDLE) return -EINVAL;
      sk->keepalive_time = static_cast<uint32_t>(v);
      if (sk->flag(SOCK_KEEPOPEN) && !TcpStateIn(sk->state(), TCPF_CLOSE | TCPF_LISTEN)) {
        const uint64_t keep = uint64_t{sk->keepalive_time} * 1000;
        const uint32_t last = SeqAfter(sk->lrcvtime, sk->rcv_tstamp) ? sk->lrcvtime : sk->rcv_tstamp;
        const uint64_t elapsed = st.now_ms() - last;
        st.ResetKeepalive(sk, elapsed < keep ? keep - elapsed : 0);
      }
      return 0;
    case kTcpKeepintvl:
      if (v < 1 || v > MAX_TCP_KEEPINTVL) return -EINVAL;
      sk->keepalive_intvl = static_cast<uint32_t>(v);
      return 0;
    case kTcpKeepcnt:
      if (v < 1 || v > MAX_TCP_KEEPCNT) return -EINVAL;
      sk->keepalive_probes = static_cast<uint8_t>(v);
      return 0;
    case kTcpSyncnt:
      if (v < 1 || v > MAX_TCP_SYNCNT) return -EINVAL;
      sk->syn_retries = static_cast<uint8_t>(v);
      return 0;
    case kTcpLinger2:
      if (v < 0) sk->linger2 = -1;
      else if (v > TCP_FIN_TIMEOUT_MAX_S) sk->linger2 = TCP_FIN_TIMEOUT_MAX_S * 1000;
      else sk->linger2 = v * 1000;
      return 0;
    default:
      return -ENOPROTOOPT;
  }
}

int TcpGetsockopt(Tcb* sk, int level, int name, void* val, size_t* len) {
  TcpStack& st = *sk->stack;
  if (level == kSolSocket && name == kSoLinger) {
    if (*len < sizeof(Linger)) return -EINVAL;
    Linger l{sk->flag(SOCK_LINGER) ? 1 : 0, static_cast<int>(sk->lingertime)};
    std::memcpy(val, &l, sizeof(l));
    *len = sizeof(l);
    return 0;
  }
  if (*len < sizeof(int)) return -EINVAL;
  int v = 0;
  if (level == kSolSocket) {
    switch (name) {
      case kSoSndbuf: v = static_cast<int>(sk->sndbuf); break;
      case kSoRcvbuf: v = static_cast<int>(sk->rcvbuf); break;
      case kSoKeepalive: v = sk->flag(SOCK_KEEPOPEN) ? 1 : 0; break;
      case kSoError: v = TcpSockError(sk); break;
      default: return -ENOPROTOOPT;
    }
  } else if (level == kIpprotoTcp) {
    switch (name) {
      case kTcpNodelay: v = sk->flag(SOCK_NODELAY) ? 1 : 0; break;
      case kTcpCork: v = sk->flag(SOCK_CORK) ? 1 : 0; break;
      case kTcpMaxseg: v = sk->state() == TCP_CLOSE || sk->state() == TCP_LISTEN ? sk->user_mss : sk->mss_cache; break;
      case kTcpKeepidle: v = static_cast<int>(st.KeepaliveTimeS(sk)); break;
      case kTcpKeepintvl: v = static_cast<int>(st.KeepaliveIntvlS(sk)); break;
      case kTcpKeepcnt: v = st.KeepaliveProbes(sk); break;
      case kTcpSyncnt: v = sk->syn_retries ? sk->syn_retries : st.sysctl().tcp_syn_retries; break;
      case kTcpLinger2:
        v = sk->linger2 < 0 ? -1
                            : (sk->linger2 ? sk->linger2 / 1000 : static_cast<int>(st.sysctl().tcp_fin_timeout));
        break;
      default: return -ENOPROTOOPT;
    }
  } else {
    return -ENOPROTOOPT;
  }
  std::memcpy(val, &v, sizeof(v));
  *len = sizeof(v);
  return 0;
}

}  // namespace dpx::tcp
