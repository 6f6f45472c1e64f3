// TCP input (Linux tcp_ipv4.c:tcp_v4_rcv, tcp_input.c:tcp_rcv_state_process,
// tcp_rcv_synsent_state_process, tcp_validate_incoming, tcp_conn_request,
// tcp_minisocks.c:tcp_check_req).
#include <algorithm>
#include <cerrno>

#include <rte_mbuf.h>

#include "core/reactor.h"
#include "net/checksum.h"
#include "net/ip_stack.h"
#include "tcp/seq.h"
#include "tcp/tcp_stack.h"
#include "tcp/time_wait.h"

namespace dpx::tcp {

namespace {
constexpr int FLAG_SLOWPATH = 0x100;
constexpr int FLAG_UPDATE_TS_RECENT = 0x200;
constexpr int FLAG_NO_CHALLENGE_ACK = 0x400;
constexpr uint32_t TCP_PAWS_WINDOW = 1;
constexpr uint32_t TCP_PAWS_24DAYS = 60 * 60 * 24 * 24;
}  // namespace

bool TcpStack::ParseSegment(rte_mbuf* m, const Ipv4Rx& rx, SegIn* seg) {
  const uint32_t l4 = rte_pktmbuf_pkt_len(m);
  if (l4 < kTcpHeaderMinLen || rte_pktmbuf_data_len(m) < kTcpHeaderMinLen) return false;
  const auto* th = rte_pktmbuf_mtod(m, const TcpHeader*);
  const size_t hl = HeaderLen(*th);
  if (hl < kTcpHeaderMinLen || hl > l4 || hl > rte_pktmbuf_data_len(m)) return false;
  seg->m = m;
  seg->th = th;
  seg->saddr = rx.src;
  seg->daddr = rx.dst;
  seg->hdr_len = static_cast<uint16_t>(hl);
  seg->len = l4 - static_cast<uint32_t>(hl);
  seg->flags = Flags(*th);
  seg->seq = Seq(*th);
  seg->ack_seq = AckSeq(*th);
  seg->window = Window(*th);
  seg->end_seq = seg->seq + SegmentSeqLen(seg->flags, seg->len);
  return true;
}

namespace {
// Linux tcp_initialize_rcv_mss: a guess of the peer's MSS, low on purpose
// (at most TCP_MSS_DEFAULT, at least TCP_MIN_MSS); tcp_measure_rcv_mss raises it.
uint16_t InitialRcvMss(const Tcb* tp) {
  uint32_t hint = tp->advmss < tp->mss_cache ? tp->advmss : tp->mss_cache;
  if (hint > tp->rcv_wnd / 2) hint = tp->rcv_wnd / 2;
  if (hint > kTcpMssDefault) hint = kTcpMssDefault;
  if (hint < 88) hint = 88;
  return static_cast<uint16_t>(hint);
}
}  // namespace

// Linux tcp_v4_rcv.
void TcpStack::Rcv(rte_mbuf* m, const Ipv4Rx& rx) {
  SegIn seg{};
  if (!ParseSegment(m, rx, &seg)) {
    mib_.Inc(Mib::Tcp_InErrs);
    mib_.Inc(Mib::Drop_TCP_HDR);
    rte_pktmbuf_free(m);
    return;
  }
  if (rx.broadcast) {
    rte_pktmbuf_free(m);
    return;
  }
  if (!L4CksumValid(m, rx.src, rx.dst, kIpProtoTcp)) {
    mib_.Inc(Mib::Tcp_InCsumErrors);
    mib_.Inc(Mib::Tcp_InErrs);
    mib_.Inc(Mib::Drop_TCP_CSUM);
    rte_pktmbuf_free(m);
    return;
  }
  mib_.Inc(Mib::Tcp_InSegs);
  dsack_tp_ = nullptr;  // a D-SACK block is sent by the segment that set it (immediate ACK)

  SockCommon* sc = table_.Lookup(seg.daddr, seg.th->dst_port, seg.saddr, seg.th->src_port);
  Tcb* tp = (sc && sc->kind == SockKind::kFull) ? reinterpret_cast<Tcb*>(sc) : nullptr;
  OptionParseContext ctx;
  ctx.syn = (seg.flags & TCPHDR_SYN) != 0;
  ctx.sysctl_timestamps = cfg_.sysctl.tcp_timestamps;
  ctx.sysctl_window_scaling = cfg_.sysctl.tcp_window_scaling;
  ctx.sysctl_sack = cfg_.sysctl.tcp_sack;
  if (tp && !TcpStateIn(tp->state(), TCPF_SYN_SENT)) {
    ctx.estab = true;
    ctx.tstamp_ok = tp->rx_opt.tstamp_ok;
    ctx.sack_ok = tp->rx_opt.sack_ok;
  }
  ParseOptions(OptionsPtr(*seg.th), OptionsLen(*seg.th), ctx, &seg.opt);

  // do_time_wait: tcp_timewait_state_process; a SYN it lets through goes on
  // to the listener with seg.tw_isn (time_wait.cc).
  if (sc && sc->kind == SockKind::kTimeWait &&
      !TwRcv(*this, reinterpret_cast<TwSock*>(sc), seg)) {
    rte_pktmbuf_free(m);
    FlushEvents();
    return;
  }
  if (tp == nullptr) {
    Tcb* lsk = table_.LookupListener(seg.daddr, seg.th->dst_port);
    if (lsk != nullptr) ListenRcv(lsk, seg);
    else SendResetReply(seg);
    rte_pktmbuf_free(m);
    FlushEvents();
    return;
  }
  // Payload stays in `m` when DataQueue takes it (it sets seg.m = nullptr).
  int reset = 0;
  if (tp->state() == TCP_SYN_SENT) reset = SynSentRcv(tp, seg);
  else reset = StateProcess(tp, seg);
  if (reset) SendResetReply(seg);
  if (seg.m) rte_pktmbuf_free(seg.m);
  FlushEvents();
}

// ------------------------------------------------------------- listen

void TcpStack::ListenRcv(Tcb* lsk, SegIn& seg) {
  if (seg.flags & TCPHDR_RST) return;
  if (seg.flags & TCPHDR_ACK) {
    // Linux tcp_v4_cookie_check: only after a recent SYN-queue overflow.
    if (!(seg.flags & TCPHDR_SYN) && cfg_.sysctl.tcp_syncookies &&
        (cfg_.sysctl.tcp_syncookies == 2 ||
         (lsk->lq->last_synq_overflow && now_sec() - lsk->lq->last_synq_overflow < 120))) {
      if (Tcb* child = CookieCheck(lsk, seg)) {
        (void)child;
        return;
      }
    }
    SendResetReply(seg);  // tcp_rcv_state_process LISTEN: ACK -> return 1
    return;
  }
  if (!(seg.flags & TCPHDR_SYN)) return;
  if (seg.flags & TCPHDR_FIN) return;  // SYN-FIN dropped (tcp_v4_rcv TCP_SKB_CB checks)
  ConnRequest(lsk, seg);
}

// Linux tcp_conn_request (+ tcp_openreq_init, tcp_create_openreq_child). A
// SYN_RECV child is a full Tcb on the listener's syn_q (Linux uses a small
// request_sock; see the report in tcb.h's history for the trade-off).
// Linux inet_csk_clone_lock / tcp_create_openreq_child: a child of `lsk`
// for the 4-tuple of `seg`, in SYN_RECV, with the listener's socket options
// (the regular and the SYN-cookie paths alike).
Tcb* TcpStack::CloneChild(Tcb* lsk, const SegIn& seg) {
  Tcb* tp = AllocTcb();
  if (tp == nullptr) return nullptr;
  tp->c.saddr = seg.daddr;
  tp->c.daddr = seg.saddr;
  tp->c.sport = seg.th->dst_port;
  tp->c.dport = seg.th->src_port;
  tp->c.state = TCP_SYN_RECV;
  tp->parent = lsk;
  tp->sk_flags = static_cast<uint16_t>(
      tp->sk_flags | (lsk->sk_flags & (SOCK_NODELAY | SOCK_CORK | SOCK_KEEPOPEN | SOCK_LINGER |
                                       SOCK_SNDBUF_LOCK | SOCK_RCVBUF_LOCK)));
  tp->sndbuf = lsk->sndbuf;
  tp->rcvbuf = lsk->rcvbuf;
  tp->keepalive_time = lsk->keepalive_time;
  tp->keepalive_intvl = lsk->keepalive_intvl;
  tp->keepalive_probes = lsk->keepalive_probes;
  tp->linger2 = lsk->linger2;
  tp->lingertime = lsk->lingertime;
  tp->user_mss = lsk->user_mss;
  tp->cc.ops = lsk->cc.ops;
  return tp;
}

void TcpStack::ConnRequest(Tcb* lsk, SegIn& seg) {
  const TcpSysctls& sc = cfg_.sysctl;
  bool want_cookie = false;
  if ((sc.tcp_syncookies == 2 || lsk->lq->syn_qlen > lsk->lq->max_ack_backlog) && !seg.tw_isn) {
    // Linux 6.18 inet_csk_reqsk_queue_is_full: queue length > backlog.
    // tcp_syn_flood_action
    if (sc.tcp_syncookies) {
      want_cookie = true;
      mib_.Inc(Mib::TcpExt_TCPReqQFullDoCookies);
    } else {
      mib_.Inc(Mib::TcpExt_TCPReqQFullDrop);
    }
    if (!want_cookie) {
      mib_.Inc(Mib::TcpExt_ListenDrops);
      return;
    }
  }
  if (lsk->lq->ack_backlog > lsk->lq->max_ack_backlog) {  // sk_acceptq_is_full
    mib_.Inc(Mib::TcpExt_ListenOverflows);
    mib_.Inc(Mib::TcpExt_ListenDrops);
    return;
  }
  ParsedOptions& opt = seg.opt;
  if (!opt.saw_tstamp) opt.rcv_tsval = 0;
  if (want_cookie) {
    lsk->lq->last_synq_overflow = now_sec() ? now_sec() : 1;
    uint16_t mss = opt.mss_clamp ? opt.mss_clamp : kTcpMssDefault;
    const uint32_t isn = cookies_.InitSequence(seg.saddr, seg.daddr, seg.th->src_port,
                                               seg.th->dst_port, seg.seq, &mss, now_ns());
    mib_.Inc(Mib::TcpExt_SyncookiesSent);
    SendSynAckCookie(lsk, seg, isn, mss, opt);
    return;
  }
  Tcb* tp = CloneChild(lsk, seg);
  if (tp == nullptr) {
    mib_.Inc(Mib::TcpExt_ListenDrops);
    return;
  }
  tp->rcv_nxt = seg.seq + 1;
  tp->copied_seq = tp->rcv_nxt;
  tp->rcv_wup = tp->rcv_nxt;
  tp->rx_opt.tstamp_ok = opt.saw_tstamp;
  tp->rx_opt.ts_recent = opt.rcv_tsval;
  tp->rx_opt.ts_recent_stamp = now_sec();
  tp->rx_opt.sack_ok = opt.sack_ok;
  tp->rx_opt.wscale_ok = opt.wscale_ok;
  tp->rx_opt.snd_wscale = opt.wscale_ok ? opt.snd_wscale : 0;
  tp->rx_opt.mss_clamp = opt.mss_clamp ? opt.mss_clamp : kTcpMssDefault;
  tp->tsoffset = opt.saw_tstamp ? isn_.TsOff(seg.daddr, seg.saddr) : 0;
  tp->snd_una = seg.tw_isn ? seg.tw_isn  // tcp_tw_isn from a TIME_WAIT mini-socket
                           : isn_.Seq(seg.daddr, seg.saddr, seg.th->dst_port, seg.th->src_port, now_ns());
  tp->snd_nxt = tp->snd_una + 1;
  tp->write_seq = tp->snd_nxt;
  tp->snd_wnd = seg.window;  // unscaled in a SYN
  tp->snd_wl1 = seg.seq;
  tp->max_window = tp->snd_wnd;
  tp->advmss = static_cast<uint16_t>(ip_.mtu() - 40);
  if (tp->user_mss && tp->user_mss < tp->advmss) tp->advmss = tp->user_mss;
  // Linux tcp_openreq_init_rwin: rounded to the MSS less the timestamp option.
  const InitialWindow iw = SelectInitialWindow(
      tp->rcvbuf / 2, tp->advmss - (tp->rx_opt.tstamp_ok ? kTcpOlenTstampAligned : 0), 0,
      opt.wscale_ok, sc.tcp_rmem[2]);
  tp->rcv_wnd = iw.rcv_wnd;
  tp->window_clamp = iw.window_clamp;
  tp->rx_opt.rcv_wscale = opt.wscale_ok ? iw.rcv_wscale : 0;
  SyncMss(tp);
  tp->rcv_mss = InitialRcvMss(tp);  // Linux tcp_initialize_rcv_mss
  table_.Insert(&tp->c);
  tp->q_next = lsk->lq->syn_q;
  lsk->lq->syn_q = tp;
  ++lsk->lq->syn_qlen;
  SendSynAck(tp);
  ResetXmitTimer(tp, ICSK_TIME_RETRANS, TCP_TIMEOUT_INIT_US);
}

// Linux cookie_v4_check + tcp_get_cookie_sock.
Tcb* TcpStack::CookieCheck(Tcb* lsk, SegIn& seg) {
  ParsedOptions opt = seg.opt;
  if (!CookieTimestampDecode(&opt, cfg_.sysctl.tcp_timestamps, cfg_.sysctl.tcp_sack,
                             cfg_.sysctl.tcp_window_scaling)) {
    mib_.Inc(Mib::TcpExt_SyncookiesFailed);
    return nullptr;
  }
  const uint16_t mss = cookies_.Check(seg.saddr, seg.daddr, seg.th->src_port, seg.th->dst_port,
                                      seg.seq - 1, seg.ack_seq - 1, now_ns());
  if (mss == 0) {
    mib_.Inc(Mib::TcpExt_SyncookiesFailed);
    return nullptr;
  }
  mib_.Inc(Mib::TcpExt_SyncookiesRecv);
  if (lsk->lq->ack_backlog > lsk->lq->max_ack_backlog) {
    mib_.Inc(Mib::TcpExt_ListenOverflows);
    mib_.Inc(Mib::TcpExt_ListenDrops);
    return nullptr;
  }
  Tcb* tp = CloneChild(lsk, seg);
  if (tp == nullptr) return nullptr;
  tp->set_flag(SOCK_COOKIE);
  tp->rcv_nxt = seg.seq;
  tp->copied_seq = tp->rcv_nxt;
  tp->rcv_wup = tp->rcv_nxt;
  tp->snd_una = seg.ack_seq - 1;
  tp->snd_nxt = seg.ack_seq;
  tp->write_seq = seg.ack_seq;
  tp->rx_opt.tstamp_ok = opt.saw_tstamp;
  tp->rx_opt.ts_recent = opt.rcv_tsval;
  tp->rx_opt.ts_recent_stamp = now_sec();
  tp->rx_opt.sack_ok = opt.sack_ok;
  tp->rx_opt.wscale_ok = opt.wscale_ok;
  tp->rx_opt.snd_wscale = opt.wscale_ok ? opt.snd_wscale : 0;
  tp->rx_opt.mss_clamp = mss;
  tp->tsoffset = opt.saw_tstamp ? isn_.TsOff(seg.daddr, seg.saddr) : 0;
  tp->advmss = static_cast<uint16_t>(ip_.mtu() - 40);
  // Linux cookie_v4_check: tcp_select_initial_window on req->mss (the cookie's), no TS allowance.
  const InitialWindow iw = SelectInitialWindow(tp->rcvbuf / 2, mss, 0, opt.wscale_ok,
                                               cfg_.sysctl.tcp_rmem[2]);
  tp->rcv_wnd = iw.rcv_wnd;
  tp->window_clamp = iw.window_clamp;
  tp->rx_opt.rcv_wscale = opt.wscale_ok ? iw.rcv_wscale : 0;
  SyncMss(tp);
  tp->rcv_mss = InitialRcvMss(tp);  // Linux tcp_initialize_rcv_mss
  table_.Insert(&tp->c);
  EstablishChild(tp, seg);
  // The ACK may carry data: process it on the new socket.
  tp->snd_wnd = static_cast<uint32_t>(seg.window) << tp->rx_opt.snd_wscale;
  tp->max_window = tp->snd_wnd;
  tp->snd_wl1 = seg.seq;
  if (seg.len || (seg.flags & TCPHDR_FIN)) DataQueue(tp, seg);
  return tp;
}

// SYN_RECV child -> ESTABLISHED, onto the accept queue (tcp_check_req ->
// inet_csk_complete_hashdance, then tcp_rcv_state_process SYN_RECV case).
void TcpStack::EstablishChild(Tcb* tp, SegIn& seg) {
  Tcb* lsk = tp->parent;
  ListenQueue* lq = lsk->lq;
  for (Tcb** pp = &lq->syn_q; *pp; pp = &(*pp)->q_next)
    if (*pp == tp) {
      *pp = tp->q_next;
      --lq->syn_qlen;
      break;
    }
  tp->q_next = nullptr;
  mib_.Inc(Mib::Tcp_PassiveOpens);
  SetState(tp, TCP_ESTABLISHED);
  tp->snd_una = seg.ack_seq;
  tp->rcv_tstamp = now_ms();
  tp->retransmits = 0;
  tp->rtt.ResetBackoff();
  ClearXmitTimer(tp);
  if (tp->rx_opt.tstamp_ok && seg.opt.saw_tstamp && seg.opt.rcv_tsecr) {
    const uint32_t rtt_ms = TsNow(tp) - seg.opt.rcv_tsecr;
    tp->rtt.Sample(rtt_ms * 1000, tp->snd_una, tp->snd_nxt);
  } else if (tp->retrans_stamp == 0 && tp->lsndtime) {
    tp->rtt.Sample((now_ms() - tp->lsndtime) * 1000, tp->snd_una, tp->snd_nxt);
  }
  tp->retrans_stamp = 0;
  InitTransfer(tp);
  tp->set_flag(SOCK_IN_ACCEPTQ);
  if (lq->accept_q_tail) lq->accept_q_tail->q_next = tp;
  else lq->accept_q = tp;
  lq->accept_q_tail = tp;
  ++lq->ack_backlog;
  PostEvent(lsk, kEvIn);
}

// Linux tcp_init_transfer: congestion control, buffers, keepalive.
void TcpStack::InitTransfer(Tcb* tp) {
  CcEnv env{uint64_t{now_ms()} * 1000, tp->snd_nxt, uint64_t{tp->lsndtime} * 1000};
  tp->cc.snd_cwnd = TCP_INIT_CWND;
  tp->cc.snd_ssthresh = TCP_INFINITE_SSTHRESH;
  CcInit(tp->cc, tp->cc.ops ? *tp->cc.ops : *default_cc_, env);
  tp->rtt.set_rto_us(tp->rtt.has_sample() ? tp->rtt.ComputedRtoUs() : TCP_TIMEOUT_INIT_US);
  if (!tp->flag(SOCK_SNDBUF_LOCK)) {  // tcp_sndbuf_expand
    const uint32_t per_mss = 2304;    // truesize of one MSS-sized mbuf
    uint32_t want = 2 * TCP_INIT_CWND * per_mss;
    if (want > cfg_.sysctl.tcp_wmem[2]) want = cfg_.sysctl.tcp_wmem[2];
    if (want > tp->sndbuf) tp->sndbuf = want;
  }
  // Linux tcp_init_buffer_space (tcp_app_win = 31): the clamp, and with it
  // rcv_ssthresh, is the full space less one segment.
  const uint32_t maxwin = tp->rcvbuf / 2;  // tcp_full_space
  if (tp->window_clamp >= maxwin) tp->window_clamp = maxwin;
  if (tp->window_clamp > 2u * tp->advmss && tp->window_clamp + tp->advmss > maxwin)
    tp->window_clamp = std::max<uint32_t>(2u * tp->advmss, maxwin - tp->advmss);
  tp->snd_sml = tp->snd_nxt;
  tp->lrcvtime = now_ms();
  if (tp->flag(SOCK_KEEPOPEN)) ResetKeepalive(tp, uint64_t{KeepaliveTimeS(tp)} * 1000);
}

// Linux tcp_finish_connect (from the SYN-ACK).
void TcpStack::FinishConnect(Tcb* tp, SegIn& seg) {
  SetState(tp, TCP_ESTABLISHED);
  tp->rcv_tstamp = now_ms();
  (void)seg;
  InitTransfer(tp);
  PostEvent(tp, kEvOut);
}

// ------------------------------------------------------------- SYN_SENT

// Linux tcp_rcv_synsent_state_process. Returns non-zero to send a reset.
int TcpStack::SynSentRcv(Tcb* tp, SegIn& seg) {
  const ParsedOptions& opt = seg.opt;
  if (seg.flags & TCPHDR_ACK) {
    if (!SeqAfter(seg.ack_seq, tp->snd_una) || SeqAfter(seg.ack_seq, tp->snd_nxt)) return 1;
    if (opt.saw_tstamp && opt.rcv_tsecr && tp->retrans_stamp &&
        (TsBefore(opt.rcv_tsecr - tp->tsoffset, tp->retrans_stamp) ||
         TsAfter(opt.rcv_tsecr - tp->tsoffset, now_ms()))) {
      mib_.Inc(Mib::TcpExt_PAWSActive);
      return 1;
    }
    if (seg.flags & TCPHDR_RST) {
      Reset(tp);
      return 0;
    }
    if (!(seg.flags & TCPHDR_SYN)) return 0;
    // SYN-ACK.
    tp->snd_wl1 = seg.seq;
    tp->rcv_nxt = seg.seq + 1;
    tp->rcv_wup = tp->rcv_nxt;
    tp->copied_seq = tp->rcv_nxt;
    tp->snd_una = seg.ack_seq;
    tp->snd_wnd = seg.window;  // never scaled in a SYN
    if (!opt.wscale_ok) {
      tp->rx_opt.snd_wscale = tp->rx_opt.rcv_wscale = 0;
      if (tp->window_clamp > 65535) tp->window_clamp = 65535;
    } else {
      tp->rx_opt.wscale_ok = 1;
      tp->rx_opt.snd_wscale = opt.snd_wscale;
    }
    tp->max_window = tp->snd_wnd;
    if (opt.saw_tstamp && cfg_.sysctl.tcp_timestamps) {
      tp->rx_opt.tstamp_ok = 1;
      tp->rx_opt.ts_recent = opt.rcv_tsval;
      tp->rx_opt.ts_recent_stamp = now_sec();
      tp->advmss = static_cast<uint16_t>(tp->advmss - kTcpOlenTstampAligned);  // tcp_rcv_synsent_state_process
    } else {
      tp->rx_opt.tstamp_ok = 0;
    }
    tp->rx_opt.sack_ok = opt.sack_ok && cfg_.sysctl.tcp_sack;
    tp->rx_opt.mss_clamp = opt.mss_clamp ? opt.mss_clamp : kTcpMssDefault;
    SyncMss(tp);
    tp->rcv_mss = InitialRcvMss(tp);  // Linux tcp_initialize_rcv_mss
    // RTT from the SYN (tcp_ack_update_rtt via tcp_synack_rtt_meas).
    if (tp->rx_opt.tstamp_ok && opt.rcv_tsecr) {
      tp->rtt.Sample((TsNow(tp) - opt.rcv_tsecr) * 1000, tp->snd_una, tp->snd_nxt);
    } else if (tp->retransmits == 0) {
      tp->rtt.Sample((now_ms() - tp->lsndtime) * 1000, tp->snd_una, tp->snd_nxt);
    }
    tp->retransmits = 0;
    tp->retrans_stamp = 0;
    tp->rtt.ResetBackoff();
    ClearXmitTimer(tp);
    FinishConnect(tp, seg);
    SendAck(tp);
    WriteXmit(tp);
    return 0;
  }
  if (seg.flags & TCPHDR_RST) return 0;
  if (seg.flags & TCPHDR_SYN) {
    // Simultaneous open: SYN_RECV and a SYN-ACK with our original ISN.
    SetState(tp, TCP_SYN_RECV);
    tp->rcv_nxt = seg.seq + 1;
    tp->rcv_wup = tp->rcv_nxt;
    tp->copied_seq = tp->rcv_nxt;
    tp->snd_wl1 = seg.seq;
    tp->snd_wnd = seg.window;
    tp->max_window = tp->snd_wnd;
    if (opt.saw_tstamp && cfg_.sysctl.tcp_timestamps) {
      tp->rx_opt.tstamp_ok = 1;
      tp->rx_opt.ts_recent = opt.rcv_tsval;
    }
    tp->rx_opt.wscale_ok = opt.wscale_ok;
    tp->rx_opt.snd_wscale = opt.wscale_ok ? opt.snd_wscale : 0;
    if (!opt.wscale_ok) tp->rx_opt.rcv_wscale = 0;
    tp->rx_opt.sack_ok = opt.sack_ok;
    tp->rx_opt.mss_clamp = opt.mss_clamp ? opt.mss_clamp : kTcpMssDefault;
    SyncMss(tp);
    SendSynAck(tp);
  }
  return 0;
}

// ------------------------------------------------------------- validation

// Linux tcp_paws_check / tcp_paws_discard (without tcp_disordered_ack).
bool TcpStack::PawsDiscard(const Tcb* tp, const SegIn& seg) const {
  if (!tp->rx_opt.tstamp_ok || !seg.opt.saw_tstamp || !tp->rx_opt.ts_recent) return false;
  if (static_cast<int32_t>(tp->rx_opt.ts_recent - seg.opt.rcv_tsval) <=
      static_cast<int32_t>(TCP_PAWS_WINDOW))
    return false;
  if (now_sec() >= tp->rx_opt.ts_recent_stamp + TCP_PAWS_24DAYS) return false;
  return true;
}

// Linux tcp_oow_rate_limited.
bool TcpStack::OowRateLimited(Tcb* tp, const SegIn& seg, Mib mib) {
  if (seg.seq != seg.end_seq && !(seg.flags & TCPHDR_SYN)) return false;
  const uint32_t now = now_ms();
  if (tp->last_oow_ack_time) {
    const int32_t elapsed = static_cast<int32_t>(now - tp->last_oow_ack_time);
    if (elapsed >= 0 && static_cast<uint32_t>(elapsed) < cfg_.sysctl.tcp_invalid_ratelimit) {
      mib_.Inc(mib);
      return true;
    }
  }
  tp->last_oow_ack_time = now ? now : 1;
  return false;
}

// Linux tcp_send_challenge_ack (per-socket rate limit; the global
// tcp_challenge_ack_limit is INT_MAX since 6.0).
void TcpStack::SendChallengeAck(Tcb* tp, const SegIn& seg) {
  if (OowRateLimited(tp, seg, Mib::TcpExt_TCPACKSkippedChallenge)) return;
  mib_.Inc(Mib::TcpExt_TCPChallengeACK);
  SendAck(tp);
}

// Linux tcp_validate_incoming: PAWS, sequence window, RST (RFC 5961 3.2),
// SYN (RFC 5961 4.2). Returns false when the segment is consumed.
bool TcpStack::ValidateIncoming(Tcb* tp, SegIn& seg) {
  if (PawsDiscard(tp, seg) && !(seg.flags & TCPHDR_RST)) {
    mib_.Inc(Mib::TcpExt_PAWSEstab);
    if (!OowRateLimited(tp, seg, Mib::TcpExt_TCPACKSkippedPAWS)) SendAck(tp);  // tcp_send_dupack
    return false;
  }
  // tcp_sequence
  const bool old = SeqBefore(seg.end_seq, tp->rcv_wup);
  const bool beyond = SeqAfter(seg.seq, tp->rcv_nxt + TcpReceiveWindow(*tp));
  if (old || beyond) {
    if (!(seg.flags & TCPHDR_RST)) {
      if (seg.flags & TCPHDR_SYN) goto syn_challenge;
      if (!OowRateLimited(tp, seg, Mib::TcpExt_TCPACKSkippedSeq)) {
        // Linux tcp_send_dupack: old data is D-SACKed.
        if (seg.len && SeqBefore(seg.seq, tp->rcv_nxt)) {
          mib_.Inc(Mib::TcpExt_DelayedACKLost);
          EnterQuickAck(tp, 16);
          DsackSet(tp, seg.seq, SeqAfter(seg.end_seq, tp->rcv_nxt) ? tp->rcv_nxt : seg.end_seq);
        }
        SendAck(tp);
      }
    }
    return false;
  }
  if (seg.flags & TCPHDR_RST) {
    if (seg.seq == tp->rcv_nxt) {
      Reset(tp);
    } else {
      SendChallengeAck(tp, seg);
    }
    return false;
  }
  if (seg.flags & TCPHDR_SYN) {
  syn_challenge:
    // Linux tcp_validate_incoming: syn_inerr (from tcp_rcv_established) counts InErrs.
    if (tp->state() == TCP_ESTABLISHED) mib_.Inc(Mib::Tcp_InErrs);
    mib_.Inc(Mib::TcpExt_TCPSYNChallenge);
    SendChallengeAck(tp, seg);
    return false;
  }
  return true;
}

// ------------------------------------------------------------- state machine

// Linux tcp_rcv_state_process for every state but LISTEN and SYN_SENT.
int TcpStack::StateProcess(Tcb* tp, SegIn& seg) {
  if (tp->state() == TCP_CLOSE) return 0;
  if (tp->state() == TCP_SYN_RECV && tp->parent != nullptr) {
    // tcp_check_req: a retransmitted SYN gets the SYN-ACK again; a RST in
    // window drops the request (EmbryonicRsts).
    if ((seg.flags & (TCPHDR_SYN | TCPHDR_ACK | TCPHDR_RST)) == TCPHDR_SYN && seg.seq == tp->rcv_nxt - 1) {
      SendSynAck(tp);
      return 0;
    }
    if (seg.flags & TCPHDR_RST) {
      if (!SeqBefore(seg.seq, tp->rcv_nxt) &&
          !SeqAfter(seg.seq, tp->rcv_nxt + TcpReceiveWindow(*tp))) {
        mib_.Inc(Mib::TcpExt_EmbryonicRsts);
        Done(tp);
      }
      return 0;
    }
    if ((seg.flags & TCPHDR_ACK) && seg.ack_seq != tp->snd_una + 1) return 1;
    if ((seg.flags & TCPHDR_ACK) && tp->parent->lq->ack_backlog > tp->parent->lq->max_ack_backlog) {
      mib_.Inc(Mib::TcpExt_ListenOverflows);  // listen_overflow: drop, await the retransmit
      mib_.Inc(Mib::TcpExt_ListenDrops);
      return 0;
    }
  }
  if (!(seg.flags & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN))) return 0;
  if (!ValidateIncoming(tp, seg)) return 0;
  if (!(seg.flags & TCPHDR_ACK)) return 0;

  const int r = Ack(tp, seg, FLAG_SLOWPATH | FLAG_UPDATE_TS_RECENT | FLAG_NO_CHALLENGE_ACK);
  if (r <= 0) {
    if (tp->state() == TCP_SYN_RECV) return 1;
    if (r < 0) {
      SendChallengeAck(tp, seg);
      return 0;
    }
  }
  if (tp->state() == TCP_CLOSE) return 0;

  switch (tp->state()) {
    case TCP_SYN_RECV:
      if (tp->parent != nullptr) {
        EstablishChild(tp, seg);
      } else {  // simultaneous open
        SetState(tp, TCP_ESTABLISHED);
        InitTransfer(tp);
        PostEvent(tp, kEvOut);
      }
      tp->snd_wnd = static_cast<uint32_t>(seg.window) << tp->rx_opt.snd_wscale;
      tp->max_window = tp->snd_wnd;
      tp->snd_wl1 = seg.seq;
      break;
    case TCP_FIN_WAIT1:
      if (tp->snd_una != tp->write_seq) break;
      SetState(tp, TCP_FIN_WAIT2);
      tp->sk_shutdown |= SEND_SHUTDOWN;
      if (!tp->flag(SOCK_DEAD)) {
        PostEvent(tp, kEvOut);  // sk_state_change: wakes a lingering close (SetState queued it)
        break;
      }
      // An orphan reaches FIN_WAIT2 (tcp_rcv_state_process, close-semantics §9).
      if (tp->linger2 < 0) {
        Done(tp);
        mib_.Inc(Mib::TcpExt_TCPAbortOnData);
        return 1;  // SKB_DROP_REASON_TCP_ABORT_ON_DATA: tcp_v4_send_reset
      }
      if (seg.end_seq != seg.seq &&
          SeqAfter(seg.end_seq - ((seg.flags & TCPHDR_FIN) ? 1 : 0), tp->rcv_nxt)) {
        Done(tp);  // out-of-order data or FIN after close()
        mib_.Inc(Mib::TcpExt_TCPAbortOnData);
        return 1;
      }
      {
        const uint32_t tmo = FinTimeMs(tp);  // tcp_fin_time
        if (tmo > 60'000) {
          ResetKeepalive(tp, tmo - 60'000);
        } else if (seg.flags & TCPHDR_FIN) {
          ResetKeepalive(tp, tmo);  // the FIN is processed below (tcp_fin)
        } else {
          TimeWait(tp, TCP_FIN_WAIT2, tmo);
          return 0;  // consumed; tp may be gone
        }
      }
      break;
    case TCP_CLOSING:
      if (tp->snd_una == tp->write_seq) {
        TimeWait(tp, TCP_TIME_WAIT, 0);  // tcp_time_wait: the full socket is done
        return 0;
      }
      break;
    case TCP_LAST_ACK:
      if (tp->snd_una == tp->write_seq) {
        Done(tp);
        return 0;
      }
      break;
    default:
      break;
  }

  // step 7: process the segment text
  switch (tp->state()) {
    case TCP_CLOSE_WAIT:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
      if (!SeqBefore(seg.seq, tp->rcv_nxt)) break;  // drop silently
      [[fallthrough]];
    case TCP_FIN_WAIT1:
    case TCP_FIN_WAIT2:
      // RFC 1122: data after the receive side is shut (always after
      // close(); also after shutdown(SHUT_RD)) resets the connection.
      if ((tp->sk_shutdown & RCV_SHUTDOWN) && seg.end_seq != seg.seq &&
          SeqAfter(seg.end_seq - ((seg.flags & TCPHDR_FIN) ? 1 : 0), tp->rcv_nxt)) {
        mib_.Inc(Mib::TcpExt_TCPAbortOnData);
        Reset(tp);
        return 1;
      }
      [[fallthrough]];
    case TCP_ESTABLISHED:
      DataQueue(tp, seg);
      break;
    default:
      break;
  }
  if (tp->state() != TCP_CLOSE) {
    WriteXmit(tp);  // tcp_data_snd_check
    AckSndCheck(tp);
  }
  return 0;
}

// Linux tcp_fin.
void TcpStack::Fin(Tcb* tp) {
  tp->sk_shutdown |= RCV_SHUTDOWN;
  switch (tp->state()) {
    case TCP_SYN_RECV:
    case TCP_ESTABLISHED:
      SetState(tp, TCP_CLOSE_WAIT);
      tp->ack_quick = 0;  // inet_csk_enter_pingpong_mode: the FIN's ACK is delayed
      break;
    case TCP_CLOSE_WAIT:
    case TCP_CLOSING:
      break;
    case TCP_LAST_ACK:
      break;
    case TCP_FIN_WAIT1:
      SendAck(tp);
      SetState(tp, TCP_CLOSING);
      break;
    case TCP_FIN_WAIT2:
      SendAck(tp);
      TimeWait(tp, TCP_TIME_WAIT, 0);  // tcp_time_wait: tp is CLOSE now
      break;
    default:
      break;
  }
  tp->ooo_queue.Purge();
  if (!tp->flag(SOCK_DEAD)) {
    PostEvent(tp, kEvIn | kEvRdHup | (tp->sk_shutdown == SHUTDOWN_MASK ? uint32_t{kEvHup} : 0u));
  }
}

}  // namespace dpx::tcp
