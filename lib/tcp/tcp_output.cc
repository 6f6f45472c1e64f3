// TCP output (Linux tcp_output.c): segment building, tcp_write_xmit with
// cwnd/rwnd/Nagle, pure ACKs, SYN, SYN-ACK, FIN, RST, probes.
//
// Retransmission data: queued segments are payload-only mbufs that stay on
// the write queue / rtx queue until acknowledged; every (re)transmission
// builds a fresh frame and COPIES the payload (<= one MSS) into it. This
// keeps the queued mbuf private to the TCB (no shared refcounts with the
// driver, so trimming a partially acked head is a plain rte_pktmbuf_adj);
// a header-mbuf + rte_pktmbuf_clone chain is the zero-copy upgrade.
#include <cstring>

#include <rte_mbuf.h>

#include "core/reactor.h"
#include "net/ip_stack.h"
#include "tcp/seq.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp {

bool TcpStack::SendRaw(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                       uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                       const OutOptions* opts, rte_mbuf* src, uint32_t off, uint32_t len) {
  rte_mbuf* m = rte_pktmbuf_alloc(ip_.pool());
  if (m == nullptr) return false;
  const size_t optlen = opts ? OptionsSize(*opts) : 0;
  const size_t hl = kTcpHeaderMinLen + optlen;
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(hl + len));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return false;
  }
  auto* th = reinterpret_cast<TcpHeader*>(p);
  th->src_port = sport;
  th->dst_port = dport;
  SetSeq(*th, seq);
  SetAckSeq(*th, ack);
  SetHeaderLen(*th, hl);
  SetFlags(*th, flags);
  SetWindow(*th, win);
  th->cksum = 0;
  th->tcp_urp = 0;
  if (optlen) WriteOptions(*opts, OptionsPtr(*th));
  if (len) {
    const void* d = rte_pktmbuf_read(src, off, len, p + hl);
    if (d != p + hl) std::memcpy(p + hl, d, len);
  }
  Ipv4Tx tx;
  tx.dst = daddr;
  tx.src = saddr;
  tx.proto = kIpProtoTcp;
  tx.l4_cksum = true;
  mib_.Inc(Mib::Tcp_OutSegs);
  if (flags & TCPHDR_RST) mib_.Inc(Mib::Tcp_OutRsts);
  return ip_.SendIpv4(m, tx) != TxStatus::kDropped;
}

// Linux tcp_sync_mss / tcp_current_mss: the payload per segment is the
// peer's MSS (or our MTU - 40) minus the options every segment carries.
void TcpStack::SyncMss(Tcb* tp) {
  uint32_t mss = static_cast<uint32_t>(ip_.mtu()) - 40;
  if (tp->rx_opt.mss_clamp && tp->rx_opt.mss_clamp < mss) mss = tp->rx_opt.mss_clamp;
  if (tp->user_mss && tp->user_mss < mss) mss = tp->user_mss;
  if (tp->rx_opt.tstamp_ok) mss -= kTcpOlenTstampAligned;
  if (mss < 48) mss = 48;  // Linux tcp_mtu_to_mss floor (TCP_MIN_SND_MSS)
  tp->mss_cache = static_cast<uint16_t>(mss);
}

OutOptions TcpStack::EstablishedOptions(Tcb* tp) {
  OutOptions o;
  if (tp->rx_opt.tstamp_ok) {
    o.timestamps = true;
    o.tsval = TsNow(tp);
    o.tsecr = tp->rx_opt.ts_recent;
  }
  const bool dsack = dsack_tp_ == tp;
  if (tp->rx_opt.sack_ok && (dsack || !tp->ooo_queue.empty())) {
    // Linux tcp_established_options: a pending D-SACK block goes first.
    uint8_t n = 0;
    if (dsack) sack_scratch_[n++] = dsack_;
    if (!tp->ooo_queue.empty()) {
      SackBlock ofo[TCP_NUM_SACKS];
      const uint8_t k = BuildSackBlocks(tp, ofo);
      for (uint8_t i = 0; i < k && n < TCP_NUM_SACKS; ++i) sack_scratch_[n++] = ofo[i];
    }
    o.num_sack_blocks = n;
    o.sack_blocks = sack_scratch_;
  }
  return o;
}

namespace {
// Linux tcp_event_ack_sent.
void AckSent(TcpStack* st, Tcb* tp) {
  if (tp->ack_quick) --tp->ack_quick;
  tp->ack_pending = 0;
  st->reactor().timers().Cancel(&tp->delack_timer);
}
}  // namespace

// Linux tcp_current_mss: the payload that fits in this segment given the
// options it will carry now (SACK blocks cost beyond the TS that mss_cache
// already accounts for).
uint32_t TcpStack::CurrentMss(Tcb* tp, const OutOptions& o) const {
  const uint32_t base = tp->rx_opt.tstamp_ok ? kTcpOlenTstampAligned : 0;
  const uint32_t opts = static_cast<uint32_t>(OptionsSize(o));
  const uint32_t mss = tp->mss_cache;
  return opts > base && mss > opts - base + 48 ? mss - (opts - base) : mss;
}

namespace {
// Cuts a (possibly chained) mbuf to its first `keep` bytes, freeing the
// mbufs past the cut.
void TruncateChain(rte_mbuf* m, uint32_t keep) {
  m->pkt_len = keep;
  rte_mbuf* seg = m;
  uint32_t left = keep;
  while (left > seg->data_len) {
    left -= seg->data_len;
    seg = seg->next;
  }
  seg->data_len = static_cast<uint16_t>(left);
  if (seg->next != nullptr) {
    rte_pktmbuf_free(seg->next);
    seg->next = nullptr;
  }
  uint16_t n = 0;
  for (rte_mbuf* x = m; x != nullptr; x = x->next) ++n;
  m->nb_segs = n;
}
}  // namespace

// Linux tcp_fragment: splits queued segment `m` of queue `q` after `keep`
// payload bytes; the tail gets FIN/PSH and is linked right after `m`.
// Returns false (m unchanged) if no mbuf is free.
bool TcpStack::FragmentSeg(Tcb* tp, MbufQueue& q, rte_mbuf* m, uint32_t keep) {
  const uint32_t len = rte_pktmbuf_pkt_len(m);
  rte_mbuf* tail = rte_pktmbuf_alloc(ip_.pool());
  if (tail == nullptr) return false;
  const uint32_t tail_len = len - keep;
  char* dst = rte_pktmbuf_append(tail, static_cast<uint16_t>(tail_len));
  if (dst == nullptr) {
    rte_pktmbuf_free(tail);
    return false;
  }
  const void* src = rte_pktmbuf_read(m, keep, tail_len, dst);
  if (src != dst) memcpy(dst, src, tail_len);
  TruncateChain(m, keep);
  SegMeta* s = Seg(m);
  SegMeta* t = Seg(tail);
  *t = *s;
  t->seq = s->seq + keep;
  s->end_seq = t->seq;
  s->tcp_flags = static_cast<uint8_t>(s->tcp_flags & ~(TCPHDR_FIN | TCPHDR_PSH));
  q.InsertAfter(m, tail);
  tp->wmem_queued += tail->buf_len + 128;
  return true;
}

// Sends one queued segment (payload-only mbuf with SegMeta). A segment in
// the rtx queue longer than the current MSS is split first, like Linux
// tcp_retransmit_skb; the new piece counts in packets_out.
bool TcpStack::TransmitSeg(Tcb* tp, rte_mbuf* m, bool retrans) {
  OutOptions o = EstablishedOptions(tp);
  if (retrans) {
    const uint32_t cur_mss = CurrentMss(tp, o);
    if (rte_pktmbuf_pkt_len(m) > cur_mss && FragmentSeg(tp, tp->rtx_queue, m, cur_mss))
      ++tp->packets_out;
  }
  SegMeta* s = Seg(m);
  uint8_t flags = static_cast<uint8_t>(TCPHDR_ACK | (s->tcp_flags & (TCPHDR_PSH | TCPHDR_FIN)));
  const uint32_t len = rte_pktmbuf_pkt_len(m);
  const uint16_t win = static_cast<uint16_t>(SelectWindow(tp));
  const bool ok = SendRaw(tp->c.saddr, tp->c.daddr, tp->c.sport, tp->c.dport, s->seq,
                          tp->rcv_nxt, flags, win, &o, m, 0, len);
  AckSent(this, tp);
  if (dsack_tp_ == tp) dsack_tp_ = nullptr;  // Linux tcp_options_write clears rx_opt.dsack
  s->tx_ms = now_ms();
  tp->lsndtime = s->tx_ms;
  if (retrans) {
    s->sacked |= TCPCB_EVER_RETRANS | TCPCB_SACKED_RETRANS;
    mib_.Inc(Mib::Tcp_RetransSegs);
  }
  return ok;
}

bool TcpStack::RetransmitHead(Tcb* tp, Mib reason) {
  rte_mbuf* m = tp->rtx_queue.head;
  if (m == nullptr) return false;
  if (reason != Mib::kCount) mib_.Inc(reason);
  ++tp->retrans_out;
  const bool ok = TransmitSeg(tp, m, true);
  // Linux tcp_retransmit_skb: retrans_stamp is the retransmission's own time.
  if (tp->retrans_stamp == 0) tp->retrans_stamp = Seg(m)->tx_ms;
  return ok;
}

uint32_t TcpStack::PacketsInFlight(const Tcb* tp) const {
  if (tp->cc.ca_state != CaState::kLoss) return tp->packets_out;
  // After an RTO every segment below high_seq is presumed lost (Linux
  // tcp_enter_loss marks them); in flight = the part retransmitted since
  // plus new data above high_seq (tcp_packets_in_flight).
  const uint32_t mss = tp->mss_cache ? tp->mss_cache : 1;
  uint32_t n = 0;
  if (SeqAfter(tp->rtx_next, tp->snd_una)) n += (tp->rtx_next - tp->snd_una + mss - 1) / mss;
  if (SeqAfter(tp->snd_nxt, tp->high_seq)) n += (tp->snd_nxt - tp->high_seq + mss - 1) / mss;
  return n;
}

// Linux tcp_write_xmit (no TSO/TSQ/pacing): send queued segments while
// cwnd, the peer's window and Nagle allow. In Loss state the presumed-lost
// segments are retransmitted first (tcp_xmit_retransmit_queue).
void TcpStack::WriteXmit(Tcb* tp, bool nagle_off, bool cork) {
  if (!TcpStateIn(tp->state(), TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 |
                                   TCPF_CLOSING | TCPF_LAST_ACK))
    return;
  if (tp->cc.ca_state == CaState::kLoss) {
    if (SeqBefore(tp->rtx_next, tp->snd_una)) tp->rtx_next = tp->snd_una;
    for (rte_mbuf* m = tp->rtx_queue.head; m && SeqBefore(tp->rtx_next, tp->high_seq);
         m = Seg(m)->next) {
      SegMeta* s = Seg(m);
      if (SeqBeforeEq(s->end_seq, tp->rtx_next)) continue;
      if (PacketsInFlight(tp) >= tp->cc.snd_cwnd) return;
      TransmitSeg(tp, m, true);
      ++tp->retrans_out;
      tp->rtx_next = s->end_seq;
      if (!tp->retransmit_timer.armed()) ResetXmitTimer(tp, ICSK_TIME_RETRANS, tp->rtt.rto_us());
    }
  }
  const uint32_t wnd_end = tp->snd_una + tp->snd_wnd;
  bool window_limited = false;
  bool nagle_held = false;
  if (tp->flag(SOCK_CORK)) cork = true;  // tp->nonagle & TCP_NAGLE_CORK
  while (rte_mbuf* m = tp->write_queue.head) {
    SegMeta* s = Seg(m);
    if (tp->rx_opt.sack_ok && !tp->ooo_queue.empty()) {
      // SACK blocks ride on this segment: cut it to what fits (tso_fragment).
      const uint32_t cur_mss = CurrentMss(tp, EstablishedOptions(tp));
      if (rte_pktmbuf_pkt_len(m) > cur_mss) FragmentSeg(tp, tp->write_queue, m, cur_mss);
    }
    const uint32_t len = rte_pktmbuf_pkt_len(m);
    if (PacketsInFlight(tp) >= tp->cc.snd_cwnd) {
      tp->cc.is_cwnd_limited = true;
      break;
    }
    if (SeqAfter(s->end_seq, wnd_end)) {  // tcp_snd_wnd_test
      window_limited = true;
      break;
    }
    // tcp_nagle_test / tcp_nagle_check: only the last queued segment can be
    // held; a partial one is held when corked (TCP_CORK, MSG_MORE), else by
    // Nagle (Minshall's variant). FIN segments always pass.
    const bool last = Seg(m)->next == nullptr;
    if (last && !nagle_off && len < tp->mss_cache && !(s->tcp_flags & TCPHDR_FIN) &&
        (cork || (!tp->flag(SOCK_NODELAY) && tp->packets_out &&
                  SeqAfter(tp->snd_sml, tp->snd_una) && !SeqAfter(tp->snd_sml, tp->snd_nxt)))) {
      nagle_held = true;
      break;
    }
    tp->write_queue.PopFront();
    TransmitSeg(tp, m, false);
    if (len) mib_.Inc(Mib::TcpExt_TCPOrigDataSent);
    tp->rtx_queue.PushBack(m);
    tp->snd_nxt = s->end_seq;
    ++tp->packets_out;
    if (tp->packets_out > tp->cc.max_packets_out) tp->cc.max_packets_out = tp->packets_out;
    if (len < tp->mss_cache) tp->snd_sml = s->end_seq;  // tcp_minshall_update
    if (tp->pending != ICSK_TIME_RETRANS || !tp->retransmit_timer.armed())
      ResetXmitTimer(tp, ICSK_TIME_RETRANS, tp->rtt.rto_us());
  }
  // __tcp_push_pending_frames: tcp_write_xmit returns true with nothing in
  // flight and data queued -> tcp_check_probe_timer (for corked data this
  // is the 200 ms cork ceiling: tcp_write_wakeup sends it).
  if ((window_limited || nagle_held) && tp->packets_out == 0) CheckProbeTimer(tp);
}

void TcpStack::SendAck(Tcb* tp) {
  if (tp->state() == TCP_CLOSE) return;
  OutOptions o = EstablishedOptions(tp);
  const uint16_t win = static_cast<uint16_t>(SelectWindow(tp));
  // Linux tcp_send_ack uses tcp_acceptable_seq().
  uint32_t seq = tp->snd_nxt;
  if (SeqAfter(seq, tp->snd_una + tp->snd_wnd) && tp->snd_wnd) seq = tp->snd_una + tp->snd_wnd;
  if (!SendRaw(tp->c.saddr, tp->c.daddr, tp->c.sport, tp->c.dport, seq, tp->rcv_nxt, TCPHDR_ACK,
               win, &o, nullptr, 0, 0)) {
    // Linux __tcp_send_ack: no buffer for the ACK -> keep it scheduled and
    // retry from the delayed-ACK timer after TCP_DELACK_MAX (200 ms).
    mib_.Inc(Mib::Drop_NOMEM);
    tp->ack_pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER;
    reactor_.timers().ArmAfter(&tp->delack_timer, 200'000'000);
    return;
  }
  AckSent(this, tp);
  if (dsack_tp_ == tp) dsack_tp_ = nullptr;  // Linux tcp_options_write clears rx_opt.dsack
}

void TcpStack::SendSyn(Tcb* tp) {
  OutOptions o;
  o.mss = tp->advmss;
  o.timestamps = cfg_.sysctl.tcp_timestamps;
  o.tsval = TsNow(tp);
  o.tsecr = 0;
  o.wscale = cfg_.sysctl.tcp_window_scaling;
  o.ws = tp->rx_opt.rcv_wscale;
  o.sack_perm = cfg_.sysctl.tcp_sack;
  const uint16_t win = static_cast<uint16_t>(tp->rcv_wnd > 65535 ? 65535 : tp->rcv_wnd);
  SendRaw(tp->c.saddr, tp->c.daddr, tp->c.sport, tp->c.dport, tp->snd_una, 0, TCPHDR_SYN, win, &o,
          nullptr, 0, 0);
  tp->lsndtime = now_ms();
}

void TcpStack::SendSynAck(Tcb* tp) {
  OutOptions o;
  o.mss = tp->advmss;
  o.timestamps = tp->rx_opt.tstamp_ok;
  o.tsval = TsNow(tp);
  o.tsecr = tp->rx_opt.ts_recent;
  o.wscale = tp->rx_opt.wscale_ok;
  o.ws = tp->rx_opt.rcv_wscale;
  o.sack_perm = tp->rx_opt.sack_ok;
  const uint16_t win = static_cast<uint16_t>(tp->rcv_wnd > 65535 ? 65535 : tp->rcv_wnd);
  SendRaw(tp->c.saddr, tp->c.daddr, tp->c.sport, tp->c.dport, tp->snd_una, tp->rcv_nxt,
          TCPHDR_SYN | TCPHDR_ACK, win, &o, nullptr, 0, 0);
  tp->lsndtime = now_ms();
}

void TcpStack::SendSynAckCookie(Tcb* lsk, const SegIn& seg, uint32_t isn, uint16_t mss,
                                const ParsedOptions& opt) {
  OutOptions o;
  o.mss = static_cast<uint16_t>(ip_.mtu() - 40);
  (void)mss;
  const uint32_t tsoff = isn_.TsOff(seg.daddr, seg.saddr);
  if (opt.saw_tstamp && cfg_.sysctl.tcp_timestamps) {
    CookieTsOptions co;
    co.wscale_ok = opt.wscale_ok && cfg_.sysctl.tcp_window_scaling;
    co.snd_wscale = opt.snd_wscale;
    co.sack_ok = opt.sack_ok && cfg_.sysctl.tcp_sack;
    o.timestamps = true;
    o.tsval = CookieInitTimestamp(now_ms() + tsoff, co);
    o.tsecr = opt.rcv_tsval;
    o.sack_perm = co.sack_ok;
    if (co.wscale_ok) {
      o.wscale = true;
      o.ws = SelectInitialWindow(lsk->rcvbuf / 2, o.mss, 0, true, cfg_.sysctl.tcp_rmem[2]).rcv_wscale;
    }
  }
  // Linux tcp_openreq_init_rwin (run for a cookie request too): MSS less the TS option.
  const InitialWindow iw = SelectInitialWindow(
      lsk->rcvbuf / 2, o.mss - (o.timestamps ? kTcpOlenTstampAligned : 0), 0, o.wscale,
      cfg_.sysctl.tcp_rmem[2]);
  const uint16_t win = static_cast<uint16_t>(iw.rcv_wnd > 65535 ? 65535 : iw.rcv_wnd);
  SendRaw(seg.daddr, seg.saddr, seg.th->dst_port, seg.th->src_port, isn, seg.seq + 1,
          TCPHDR_SYN | TCPHDR_ACK, win, &o, nullptr, 0, 0);
}

// Linux tcp_send_active_reset.
void TcpStack::SendActiveReset(Tcb* tp) {
  OutOptions o = EstablishedOptions(tp);
  o.num_sack_blocks = 0;
  uint32_t seq = tp->snd_nxt;
  if (tp->snd_wnd && SeqAfter(seq, tp->snd_una + tp->snd_wnd)) seq = tp->snd_una + tp->snd_wnd;
  const uint16_t win = static_cast<uint16_t>(SelectWindow(tp));
  SendRaw(tp->c.saddr, tp->c.daddr, tp->c.sport, tp->c.dport, seq, tp->rcv_nxt,
          TCPHDR_RST | TCPHDR_ACK, win, &o, nullptr, 0, 0);
}

// Linux tcp_send_fin: FIN on the unsent tail (one segment on the wire);
// else, under memory pressure with data in flight, FIN on the last sent
// segment with snd_nxt advanced and nothing sent (it goes out with that
// segment's retransmission); else a new FIN segment. Then push with Nagle
// off (a FIN passes Nagle and cork, not cwnd or the peer's window).
void TcpStack::SendFin(Tcb* tp) {
  rte_mbuf* tail = tp->write_queue.tail;
  if (tail != nullptr) {
    Seg(tail)->tcp_flags |= TCPHDR_FIN;
    ++Seg(tail)->end_seq;
    ++tp->write_seq;
  } else if (UnderMemoryPressure() && tp->rtx_queue.tail != nullptr) {
    rte_mbuf* last = tp->rtx_queue.tail;  // tcp_rtx_queue_tail
    Seg(last)->tcp_flags |= TCPHDR_FIN;
    ++Seg(last)->end_seq;
    ++tp->write_seq;
    ++tp->snd_nxt;
    return;
  } else {
    rte_mbuf* m = rte_pktmbuf_alloc(ip_.pool());
    if (m == nullptr) {
      // Linux takes the FIN's memory by force (sk_forced_mem_schedule) and
      // in practice never fails here; a fixed mbuf pool runs dry under a
      // mass close, so the FIN waits and the retransmit timer tries again.
      // Backing off (10 ms doubling to 200 ms): a million sockets waiting
      // for mbufs must not spin the reactor on retries.
      tp->set_flag(SOCK_FIN_NOMEM);
      mib_.Inc(Mib::Drop_NOMEM);
      if (tp->pending == 0) {
        const uint32_t shift = std::min<uint32_t>(tp->retransmits, 5);
        if (tp->retransmits < 255) ++tp->retransmits;
        ResetXmitTimer(tp, ICSK_TIME_RETRANS, std::min(kFinNomemRetryUs << shift, TCP_RTO_MIN_US));
      }
      return;
    }
    SegMeta* s = Seg(m);
    *s = SegMeta{};
    s->seq = tp->write_seq;
    s->end_seq = tp->write_seq + 1;
    s->tcp_flags = TCPHDR_FIN;
    ++tp->write_seq;
    tp->write_queue.PushBack(m);
    tp->wmem_queued += m->buf_len + 128;  // sk_forced_mem_schedule + tcp_queue_skb
    MemReconcile(tp);
  }
  WriteXmit(tp, /*nagle_off=*/true);
}

// Linux tcp_xmit_probe_skb: an ACK with seq = snd_una - 1 that the peer
// must answer with its current window.
void TcpStack::SendProbe(Tcb* tp, Mib mib) {
  OutOptions o = EstablishedOptions(tp);
  const uint16_t win = static_cast<uint16_t>(SelectWindow(tp));
  SendRaw(tp->c.saddr, tp->c.daddr, tp->c.sport, tp->c.dport, tp->snd_una - 1, tp->rcv_nxt,
          TCPHDR_ACK, win, &o, nullptr, 0, 0);
  AckSent(this, tp);
  if (dsack_tp_ == tp) dsack_tp_ = nullptr;  // Linux tcp_options_write clears rx_opt.dsack
  mib_.Inc(mib);
}

// Linux tcp_v4_send_reset: never answers a RST; ACK -> R seq=their ack;
// else R. seq 0 ack seq+len(+SYN+FIN). No options, window 0.
void TcpStack::SendResetReply(const SegIn& seg) {
  if (seg.flags & TCPHDR_RST) return;
  if (seg.flags & TCPHDR_ACK) {
    SendRaw(seg.daddr, seg.saddr, seg.th->dst_port, seg.th->src_port, seg.ack_seq, 0, TCPHDR_RST,
            0, nullptr, nullptr, 0, 0);
  } else {
    SendRaw(seg.daddr, seg.saddr, seg.th->dst_port, seg.th->src_port, 0, seg.end_seq,
            TCPHDR_RST | TCPHDR_ACK, 0, nullptr, nullptr, 0, 0);
  }
}

}  // namespace dpx::tcp
