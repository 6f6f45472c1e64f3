// ACK processing (Linux tcp_input.c:tcp_ack, tcp_clean_rtx_queue,
// tcp_ack_update_window, tcp_fastretrans_alert in its NewReno form).
//
// Loss recovery implemented: RFC 6582 NewReno (3 dupacks -> fast
// retransmit, cwnd inflation per dupack, partial ACK retransmits the next
// hole, full ACK deflates to ssthresh) and RTO go-back-N in Loss state.
// Recovery is NewReno for every peer: received SACK blocks are parsed but
// do not yet drive a scoreboard (Linux tcp_sacktag_write_queue); dpx does
// send SACK and D-SACK blocks (tcp_data.cc).
#include <rte_mbuf.h>

#include "core/reactor.h"
#include "tcp/seq.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp {

namespace {
constexpr int FLAG_UPDATE_TS_RECENT = 0x200;
constexpr int FLAG_NO_CHALLENGE_ACK = 0x400;
constexpr uint16_t kReordering = 3;  // net.ipv4.tcp_reordering
}  // namespace

// Linux tcp_ack_update_window / tcp_may_update_window.
void TcpStack::AckUpdateWindow(Tcb* tp, const SegIn& seg) {
  uint32_t nwin = seg.window;
  if (!(seg.flags & TCPHDR_SYN)) nwin <<= tp->rx_opt.snd_wscale;
  if (SeqAfter(seg.ack_seq, tp->snd_una) || SeqAfter(seg.seq, tp->snd_wl1) ||
      (seg.seq == tp->snd_wl1 && (nwin > tp->snd_wnd || !nwin))) {
    tp->snd_wl1 = seg.seq;
    if (tp->snd_wnd != nwin) {
      tp->snd_wnd = nwin;
      if (nwin > tp->max_window) tp->max_window = nwin;
    }
  }
}

// Linux tcp_clean_rtx_queue: frees acked segments, trims a partially
// acked head, returns segments acked; RTT per Karn (never from a segment
// that was retransmitted) unless timestamps give one.
uint32_t TcpStack::CleanRtxQueue(Tcb* tp, SegIn& seg, int32_t* rtt_us) {
  uint32_t acked = 0;
  int32_t seq_rtt_ms = -1;
  const uint32_t now = now_ms();
  while (rte_mbuf* m = tp->rtx_queue.head) {
    SegMeta* s = Seg(m);
    if (SeqAfter(s->end_seq, tp->snd_una)) {
      // Partially acked (Linux tcp_trim_head).
      if (SeqAfter(tp->snd_una, s->seq)) {
        const uint32_t trim = tp->snd_una - s->seq;
        const uint32_t plen = rte_pktmbuf_pkt_len(m);
        rte_pktmbuf_adj(m, static_cast<uint16_t>(trim > plen ? plen : trim));
        s->seq = tp->snd_una;
      }
      break;
    }
    if (!(s->sacked & TCPCB_EVER_RETRANS)) seq_rtt_ms = static_cast<int32_t>(now - s->tx_ms);
    else if (tp->retrans_out) --tp->retrans_out;
    tp->rtx_queue.PopFront();
    const uint32_t truesize = m->buf_len + 128;
    tp->wmem_queued = tp->wmem_queued > truesize ? tp->wmem_queued - truesize : 0;
    rte_pktmbuf_free(m);
    --tp->packets_out;
    ++acked;
  }
  if (tp->rx_opt.tstamp_ok && seg.opt.saw_tstamp && seg.opt.rcv_tsecr && acked) {
    const int32_t d = static_cast<int32_t>(TsNow(tp) - seg.opt.rcv_tsecr);
    if (d >= 0) *rtt_us = d * 1000;
  } else if (seq_rtt_ms >= 0) {
    *rtt_us = seq_rtt_ms * 1000;
  }
  if (tp->packets_out == 0) tp->retrans_out = 0;
  if (acked) MemReconcile(tp);  // sk_wmem_free_skb / sk_mem_uncharge
  return acked;
}

// Linux tcp_enter_loss (RTO).
void TcpStack::EnterLoss(Tcb* tp) {
  CcEnv env{uint64_t{now_ms()} * 1000, tp->snd_nxt, uint64_t{tp->lsndtime} * 1000};
  if (tp->cc.ca_state != CaState::kLoss) {
    tp->cc.prior_cwnd = tp->cc.snd_cwnd;
    tp->cc.snd_ssthresh = CcSsthresh(tp->cc);
    CcEvent(tp->cc, env, CaEvent::kLoss);
  }
  tp->cc.snd_cwnd = 1;  // tcp_packets_in_flight() + 1 with nothing in flight
  tp->cc.snd_cwnd_cnt = 0;
  tp->dupacks = 0;
  tp->retrans_out = 0;
  tp->high_seq = tp->snd_nxt;
  tp->rtx_next = tp->snd_una;
  for (rte_mbuf* m = tp->rtx_queue.head; m; m = Seg(m)->next)
    Seg(m)->sacked = static_cast<uint8_t>((Seg(m)->sacked & ~TCPCB_SACKED_RETRANS) | TCPCB_LOST);
  CcSetState(tp->cc, env, CaState::kLoss);
}

// Linux tcp_ack. Returns < 0 for an invalid ACK (too old or acking unsent
// data), 0 for an old (duplicate-range) ACK, > 0 otherwise.
int TcpStack::Ack(Tcb* tp, SegIn& seg, int flag) {
  const uint32_t prior_snd_una = tp->snd_una;
  const uint32_t ack = seg.ack_seq;
  if (SeqBefore(ack, prior_snd_una)) {
    // RFC 5961 5.2: an ACK older than the window we ever sent is invalid.
    const uint32_t max_window = tp->max_window;
    if (SeqBefore(ack, prior_snd_una - max_window)) {
      if (!(flag & FLAG_NO_CHALLENGE_ACK)) SendChallengeAck(tp, seg);
      return -1;
    }
    return 0;  // old_ack
  }
  if (SeqAfter(ack, tp->snd_nxt)) return -1;  // TCP_ACK_UNSENT_DATA

  const uint32_t prior_wnd = tp->snd_wnd;
  const uint32_t prior_packets = tp->packets_out;
  AckUpdateWindow(tp, seg);
  tp->snd_una = ack;
  if (flag & FLAG_UPDATE_TS_RECENT) ReplaceTsRecent(tp, seg);
  tp->probes_out = 0;
  tp->rcv_tstamp = now_ms();
  const bool advanced = SeqAfter(ack, prior_snd_una);
  if (advanced) {
    tp->retransmits = 0;
    tp->rtt.ResetBackoff();
    tp->retrans_stamp = 0;
  }

  if (prior_packets == 0) {
    // no_queue: a zero-window probe's answer (tcp_ack_probe).
    if (tp->pending == ICSK_TIME_PROBE0) {
      if (!tp->write_queue.empty() &&
          !SeqAfter(Seg(tp->write_queue.head)->end_seq, tp->snd_una + tp->snd_wnd)) {
        ClearXmitTimer(tp);
        tp->rtt.ResetBackoff();
      } else {
        CheckProbeTimer(tp);
      }
    }
    CheckSpace(tp);
    return 1;
  }

  int32_t rtt_us = -1;
  const uint32_t acked = advanced ? CleanRtxQueue(tp, seg, &rtt_us) : 0;
  if (rtt_us >= 0) tp->rtt.Sample(static_cast<uint32_t>(rtt_us), tp->snd_una, tp->snd_nxt);

  CcEnv env{uint64_t{now_ms()} * 1000, tp->snd_nxt, uint64_t{tp->lsndtime} * 1000};
  if (acked) {
    AckSample sample;
    sample.pkts_acked = acked;
    sample.rtt_us = rtt_us;
    sample.in_flight = tp->packets_out;
    CcPktsAcked(tp->cc, env, sample);
  }

  // Dupack (RFC 5681): nothing acked, no data, window unchanged, data out.
  const bool dupack = !advanced && seg.len == 0 && !(seg.flags & (TCPHDR_SYN | TCPHDR_FIN)) &&
                      tp->snd_wnd == prior_wnd && prior_packets > 0;
  switch (tp->cc.ca_state) {
    case CaState::kOpen:
    case CaState::kDisorder:
      if (dupack) {
        ++tp->dupacks;
        if (tp->dupacks >= kReordering &&
            !(tp->high_seq != 0 && SeqBeforeEq(ack, tp->high_seq) && tp->retrans_stamp)) {
          // Fast retransmit (tcp_enter_recovery).
          tp->cc.prior_cwnd = tp->cc.snd_cwnd;
          tp->cc.snd_ssthresh = CcSsthresh(tp->cc);
          tp->high_seq = tp->snd_nxt;
          CcSetState(tp->cc, env, CaState::kRecovery);
          mib_.Inc(Mib::TcpExt_TCPRenoRecovery);
          tp->cc.snd_cwnd = tp->cc.snd_ssthresh + kReordering;
          RetransmitHead(tp, Mib::TcpExt_TCPFastRetrans);
          ResetXmitTimer(tp, ICSK_TIME_RETRANS, tp->rtt.rto_us());
        } else if (tp->cc.ca_state == CaState::kOpen) {
          CcSetState(tp->cc, env, CaState::kDisorder);
        }
      } else if (advanced) {
        tp->dupacks = 0;
        if (tp->cc.ca_state == CaState::kDisorder) CcSetState(tp->cc, env, CaState::kOpen);
        if (TcpIsCwndLimited(tp->cc)) CcCongAvoid(tp->cc, env, ack, acked);
      }
      break;
    case CaState::kRecovery:
      if (!SeqBefore(ack, tp->high_seq)) {  // full ACK: leave recovery
        tp->cc.snd_cwnd = tp->cc.snd_ssthresh;
        tp->dupacks = 0;
        tp->retrans_out = 0;
        CcSetState(tp->cc, env, CaState::kOpen);
      } else if (advanced) {  // partial ACK: next hole
        tp->cc.snd_cwnd = tp->cc.snd_cwnd > acked ? tp->cc.snd_cwnd - acked + 1 : 1;
        RetransmitHead(tp, Mib::TcpExt_TCPFastRetrans);
      } else if (dupack) {
        ++tp->cc.snd_cwnd;  // inflation
      }
      break;
    case CaState::kLoss:
      if (!SeqBefore(ack, tp->high_seq)) {
        tp->dupacks = 0;
        tp->retrans_out = 0;
        CcSetState(tp->cc, env, CaState::kOpen);
      }
      if (advanced) {
        if (SeqBefore(tp->rtx_next, tp->snd_una)) tp->rtx_next = tp->snd_una;
        CcCongAvoid(tp->cc, env, ack, acked);  // slow start back up
      }
      break;
    case CaState::kCwr:
      if (advanced) CcSetState(tp->cc, env, CaState::kOpen);
      break;
  }
  if (tp->cc.snd_cwnd == 0) tp->cc.snd_cwnd = 1;
  tp->cc.is_cwnd_limited = false;

  // tcp_rearm_rto
  if (tp->packets_out == 0) {
    if (tp->flag(SOCK_FIN_NOMEM)) ResetXmitTimer(tp, ICSK_TIME_RETRANS, kFinNomemRetryUs);
    else ClearXmitTimer(tp);
    tp->cc.max_packets_out = 0;
  } else if (advanced) {
    ResetXmitTimer(tp, ICSK_TIME_RETRANS, tp->rtt.rto_us());
  }
  if (acked) CheckSpace(tp);
  return 1;
}

}  // namespace dpx::tcp
