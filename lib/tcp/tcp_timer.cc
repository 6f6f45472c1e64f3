// TCP timers (Linux tcp_timer.c): retransmit (RTO with backoff, SYN and
// SYN-ACK retries, tcp_retries2), zero-window probe, delayed ACK,
// keepalive (also FIN_WAIT2 and, until issue 4, TIME_WAIT expiry).
#include <rte_mbuf.h>

#include "core/reactor.h"
#include "tcp/seq.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp {

void TcpStack::ResetXmitTimer(Tcb* tp, uint8_t what, uint32_t when_us) {
  if (when_us > TCP_RTO_MAX_US) when_us = TCP_RTO_MAX_US;
  tp->pending = what;
  reactor_.timers().ArmAfter(&tp->retransmit_timer, uint64_t{when_us} * 1000);
}

void TcpStack::ClearXmitTimer(Tcb* tp) {
  tp->pending = 0;
  reactor_.timers().Cancel(&tp->retransmit_timer);
}

void TcpStack::ResetKeepalive(Tcb* tp, uint64_t when_ms) {
  reactor_.timers().ArmAfter(&tp->keepalive_timer, when_ms * 1'000'000);
}

// Linux tcp_check_probe_timer.
void TcpStack::CheckProbeTimer(Tcb* tp) {
  if (tp->packets_out || tp->write_queue.empty()) return;
  if (tp->pending == ICSK_TIME_PROBE0 && tp->retransmit_timer.armed()) return;
  ResetXmitTimer(tp, ICSK_TIME_PROBE0, tp->rtt.BackedOffRtoUs());
}

namespace {
// Linux retransmits_timed_out: time-based with tcp_model_timeout.
bool RetransmitsTimedOut(const Tcb* tp, uint32_t now_ms, unsigned boundary, uint32_t rto_base_us) {
  if (!tp->retransmits) return false;
  const uint64_t timeout_us = TcpModelTimeoutUs(boundary, rto_base_us);
  const uint32_t start = tp->retrans_stamp;
  return uint64_t{now_ms - start} * 1000 >= timeout_us;
}
}  // namespace

// Linux tcp_retransmit_timer + tcp_write_timeout.
void TcpStack::RetransmitTimer(Tcb* tp) {
  tp->pending = 0;
  const TcpState st = tp->state();
  if (st == TCP_CLOSE) return;
  if (tp->flag(SOCK_FIN_NOMEM) && tp->write_queue.empty()) {
    tp->clear_flag(SOCK_FIN_NOMEM);
    SendFin(tp);  // sent (and the timer armed for it), or flagged and re-armed
    if (!tp->flag(SOCK_FIN_NOMEM)) tp->retransmits = 0;  // the backoff was the FIN's wait
    return;
  }
  if (st == TCP_SYN_SENT || st == TCP_SYN_RECV) {
    const uint8_t retries = st == TCP_SYN_SENT
                                ? (tp->syn_retries ? tp->syn_retries : cfg_.sysctl.tcp_syn_retries)
                                : cfg_.sysctl.tcp_synack_retries;
    if (tp->retransmits >= retries) {
      if (st == TCP_SYN_RECV && tp->parent) {
        Done(tp);  // request dropped silently (reqsk_timer_handler)
        return;
      }
      WriteErr(tp);
      return;
    }
    if (tp->retrans_stamp == 0) tp->retrans_stamp = tp->lsndtime ? tp->lsndtime : now_ms();
    mib_.Inc(Mib::TcpExt_TCPTimeouts);
    mib_.Inc(Mib::TcpExt_TCPSynRetrans);
    mib_.Inc(Mib::Tcp_RetransSegs);
    if (st == TCP_SYN_SENT) SendSyn(tp);
    else SendSynAck(tp);
    ++tp->retransmits;
    tp->rtt.IncBackoff();
    ResetXmitTimer(tp, ICSK_TIME_RETRANS, tp->rtt.BackedOffRtoUs());
    return;
  }
  if (tp->packets_out == 0 || tp->rtx_queue.empty()) return;
  mib_.Inc(Mib::TcpExt_TCPTimeouts);
  // tcp_write_timeout
  uint8_t retries = cfg_.sysctl.tcp_retries2;
  if (tp->flag(SOCK_DEAD)) {
    // An orphan: tcp_orphan_retries replaces tcp_retries2, and
    // tcp_out_of_resources may abort it first (TCPAbortOnMemory).
    const bool alive = tp->rtt.BackedOffRtoUs() < TCP_RTO_MAX_US;
    retries = OrphanRetries(tp, alive);
    const bool do_reset = alive || !RetransmitsTimedOut(tp, now_ms(), retries, TCP_RTO_MIN_US);
    if (OutOfResources(tp, do_reset)) return;
  }
  if (RetransmitsTimedOut(tp, now_ms(), retries, TCP_RTO_MIN_US)) {
    WriteErr(tp);  // TCPAbortOnTimeout, no RST
    return;
  }
  EnterLoss(tp);
  TransmitSeg(tp, tp->rtx_queue.head, true);
  // Linux tcp_retransmit_skb sets retrans_stamp after the first retransmission
  // went out, so retransmits_timed_out counts from it, not from the original send.
  if (tp->retrans_stamp == 0) tp->retrans_stamp = Seg(tp->rtx_queue.head)->tx_ms;
  tp->retrans_out = 1;
  tp->rtx_next = Seg(tp->rtx_queue.head)->end_seq;
  ++tp->retransmits;
  tp->rtt.IncBackoff();
  ResetXmitTimer(tp, ICSK_TIME_RETRANS, tp->rtt.BackedOffRtoUs());
}

// Linux tcp_probe_timer + tcp_send_probe0.
void TcpStack::ProbeTimer(Tcb* tp) {
  tp->pending = 0;
  if (tp->packets_out || tp->write_queue.empty() || tp->state() == TCP_CLOSE) {
    tp->probes_out = 0;
    tp->rtt.ResetBackoff();
    return;
  }
  uint8_t max_probes = cfg_.sysctl.tcp_retries2;
  if (tp->flag(SOCK_DEAD)) {
    // tcp_probe_timer for orphans: tcp_orphan_retries, tcp_out_of_resources.
    const bool alive = tp->rtt.BackedOffRtoUs() < TCP_RTO_MAX_US;
    max_probes = OrphanRetries(tp, alive);
    if (!alive && tp->rtt.backoff() >= max_probes) {
      WriteErr(tp);
      return;
    }
    if (OutOfResources(tp, true)) return;
  }
  if (tp->probes_out >= max_probes) {
    WriteErr(tp);
    return;
  }
  // tcp_write_wakeup: a segment that fits the window goes out as data.
  rte_mbuf* head = tp->write_queue.head;
  if (tp->snd_wnd && !SeqAfter(Seg(head)->end_seq, tp->snd_una + tp->snd_wnd)) {
    WriteXmit(tp, true);
    tp->probes_out = 0;
    tp->rtt.ResetBackoff();
    return;
  }
  SendProbe(tp, Mib::TcpExt_TCPWinProbe);
  ++tp->probes_out;
  tp->rtt.IncBackoff();
  ResetXmitTimer(tp, ICSK_TIME_PROBE0, tp->rtt.BackedOffRtoUs());
}

// Linux tcp_delack_timer_handler.
void TcpStack::DelackTimer(Tcb* tp) {
  if (tp->state() == TCP_CLOSE || !(tp->ack_pending & ICSK_ACK_SCHED)) return;
  mib_.Inc(Mib::TcpExt_DelayedACKs);
  SendAck(tp);
}

// Linux tcp_keepalive_timer (FIN_WAIT2 orphans and TIME_WAIT too, until
// issue 4 moves them to mini-sockets).
void TcpStack::KeepaliveTimer(Tcb* tp) {
  const TcpState st = tp->state();
  if (tp->flag(SOCK_LINGER_WAIT)) {
    // sk_stream_wait_close timed out: close() returns, no abort (close.cc).
    tp->clear_flag(SOCK_LINGER_WAIT);
    linger_done_.push_back(tp);
    return;
  }
  if (st == TCP_TIME_WAIT) {
    Done(tp);
    return;
  }
  if (st == TCP_FIN_WAIT2 && tp->flag(SOCK_DEAD)) {
    // tcp_keepalive_timer: the full orphan waited tcp_fin_time - 60 s; the
    // rest is spent in a FIN_WAIT2 mini-socket. linger2 < 0 (or nothing
    // left): RST and tcp_done, no MIB counter.
    if (tp->linger2 >= 0) {
      const int64_t tmo = int64_t{FinTimeMs(tp)} - 60'000;
      if (tmo > 0) {
        TimeWait(tp, TCP_FIN_WAIT2, static_cast<uint32_t>(tmo));
        return;
      }
    }
    SendActiveReset(tp);
    Done(tp);
    return;
  }
  if (!tp->flag(SOCK_KEEPOPEN) ||
      !TcpStateIn(st, TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2))
    return;
  const uint64_t keep_ms = uint64_t{KeepaliveTimeS(tp)} * 1000;
  if (tp->packets_out || !tp->write_queue.empty()) {
    ResetKeepalive(tp, keep_ms);
    return;
  }
  const uint32_t last = SeqAfter(tp->lrcvtime, tp->rcv_tstamp) ? tp->lrcvtime : tp->rcv_tstamp;
  const uint64_t elapsed = now_ms() - last;
  if (elapsed >= keep_ms) {
    if (tp->probes_out >= KeepaliveProbes(tp)) {
      SendActiveReset(tp);
      WriteErr(tp);
      return;
    }
    SendProbe(tp, Mib::TcpExt_TCPKeepAlive);
    ++tp->probes_out;
    ResetKeepalive(tp, uint64_t{KeepaliveIntvlS(tp)} * 1000);
  } else {
    ResetKeepalive(tp, keep_ms - elapsed);
  }
}

}  // namespace dpx::tcp
