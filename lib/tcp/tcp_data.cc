// Receive side (Linux tcp_input.c:tcp_data_queue, tcp_data_queue_ofo,
// tcp_ofo_queue, tcp_sack_new_ofo_skb, tcp_event_data_recv,
// __tcp_ack_snd_check, tcp_send_delayed_ack; tcp_output.c:tcp_select_window).
//
// Deviations, on purpose for now: no receive-buffer autotuning
// (tcp_rcv_space_adjust) and no rcv_ssthresh growth (it starts at the
// window clamp); ato is 0 until the first data or quickack-mode entry, then
// stays at TCP_ATO_MIN (40 ms); no pingpong detection
// except after a FIN; no SACK compression (out-of-order data is ACKed at
// once); D-SACK only for the duplicate itself (no tcp_dsack_extend).
#include <algorithm>

#include <rte_mbuf.h>

#include "core/reactor.h"
#include "tcp/seq.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp {

namespace {
constexpr uint8_t TCP_MAX_QUICKACKS = 16;
constexpr uint32_t TCP_ATO_MIN_MS = 40;
inline uint32_t Truesize(const rte_mbuf* m) { return m->buf_len + 128; }
}  // namespace

// tcp_win_from_space with Linux's default scaling_ratio (50%).
uint32_t TcpStack::Space(const Tcb* tp) const {
  const int64_t s = static_cast<int64_t>(tp->rcvbuf) - tp->rmem_alloc;
  return s <= 0 ? 0 : static_cast<uint32_t>(s / 2);
}

// Linux __tcp_select_window.
uint32_t TcpStack::RawSelectWindow(Tcb* tp) {
  uint32_t mss = tp->rcv_mss;
  int64_t free_space = Space(tp);
  const uint32_t allowed_space = tp->rcvbuf / 2;
  const uint32_t full_space = tp->window_clamp < allowed_space ? tp->window_clamp : allowed_space;
  const uint8_t ws = tp->rx_opt.rcv_wscale;
  if (mss > full_space) {
    mss = full_space;
    if (mss == 0) return 0;
  }
  if (free_space < static_cast<int64_t>(full_space >> 1)) {
    tp->ack_quick = 0;
    free_space &= ~((int64_t{1} << ws) - 1);
    if (free_space < static_cast<int64_t>(allowed_space >> 4) || free_space < mss) return 0;
  }
  if (free_space > tp->window_clamp) free_space = tp->window_clamp;  // rcv_ssthresh
  uint32_t window;
  if (ws) {
    window = AlignWindow(static_cast<uint32_t>(free_space), ws);
  } else {
    window = tp->rcv_wnd;
    if (static_cast<int64_t>(window) <= free_space - mss || window > free_space)
      window = static_cast<uint32_t>(free_space / mss * mss);
    else if (mss == full_space && free_space > window + (full_space >> 1))
      window = static_cast<uint32_t>(free_space);
  }
  return window;
}

// Linux tcp_select_window: never shrink; returns the header field value.
uint32_t TcpStack::SelectWindow(Tcb* tp) {
  const uint32_t old_win = tp->rcv_wnd;
  const uint32_t cur_win = TcpReceiveWindow(*tp);
  uint32_t new_win = RawSelectWindow(tp);
  const uint8_t ws = tp->rx_opt.rcv_wscale;
  if (new_win < cur_win) {
    if (new_win == 0) mib_.Inc(Mib::TcpExt_TCPWantZeroWindowAdv);
    new_win = AlignWindow(cur_win, ws);
  }
  tp->rcv_wnd = new_win;
  tp->rcv_wup = tp->rcv_nxt;
  const uint32_t max = 65535u << ws;
  if (new_win > max) new_win = max;
  new_win >>= ws;
  if (new_win == 0) {
    if (old_win) mib_.Inc(Mib::TcpExt_TCPToZeroWindowAdv);
  } else if (old_win == 0) {
    mib_.Inc(Mib::TcpExt_TCPFromZeroWindowAdv);
  }
  return new_win;
}

// Linux tcp_replace_ts_recent.
void TcpStack::ReplaceTsRecent(Tcb* tp, const SegIn& seg) {
  if (!tp->rx_opt.tstamp_ok || !seg.opt.saw_tstamp || SeqAfter(seg.seq, tp->rcv_wup)) return;
  if (static_cast<int32_t>(tp->rx_opt.ts_recent - seg.opt.rcv_tsval) <= 0 ||
      now_sec() >= tp->rx_opt.ts_recent_stamp + 60u * 60 * 24 * 24) {
    tp->rx_opt.ts_recent = seg.opt.rcv_tsval;
    tp->rx_opt.ts_recent_stamp = now_sec();
  }
}

// Linux tcp_enter_quickack_mode (tcp_incr_quickack, then ato = TCP_ATO_MIN;
// leaving pingpong is the quick count dpx zeroed at the FIN growing again).
void TcpStack::EnterQuickAck(Tcb* tp, uint8_t max_quickacks) {
  uint32_t q = tp->rcv_mss ? tp->rcv_wnd / (2u * tp->rcv_mss) : max_quickacks;
  if (q > max_quickacks) q = max_quickacks;
  if (q > tp->ack_quick) tp->ack_quick = static_cast<uint8_t>(q);
  tp->ack_ato_ms = TCP_ATO_MIN_MS;
}

// Linux tcp_dsack_set: the D-SACK block rides first on the next ACK.
void TcpStack::DsackSet(Tcb* tp, uint32_t seq, uint32_t end_seq) {
  if (!tp->rx_opt.sack_ok) return;
  mib_.Inc(SeqBefore(seq, tp->rcv_nxt) ? Mib::TcpExt_TCPDSACKOldSent : Mib::TcpExt_TCPDSACKOfoSent);
  dsack_tp_ = tp;
  dsack_ = SackBlock{seq, end_seq};
}

// Linux tcp_event_data_recv (+ tcp_measure_rcv_mss).
void TcpStack::EventDataRecv(Tcb* tp, const SegIn& seg) {
  tp->ack_pending |= ICSK_ACK_SCHED;
  // Linux tcp_measure_rcv_mss (without the last_seg_size small-segment
  // heuristic): a full-sized segment with PSH (>= 6.6) or a short one marks
  // the ACK as pushed for tcp_cleanup_rbuf.
  if (seg.len >= tp->rcv_mss) {
    if (seg.len != tp->rcv_mss && seg.m != nullptr) {
      // Linux 6.18 tcp_measure_rcv_mss: scaling_ratio = len / truesize, then
      // tcp_set_window_clamp(tcp_win_from_space(sk_rcvbuf)). dpx keeps no
      // ratio (tcp_space stays at 50%) and rcv_ssthresh is the clamp: a lower
      // clamp lowers both; a higher one raises rcv_ssthresh to rcv_wnd at most.
      const uint32_t ratio = std::max<uint32_t>(1, seg.len * 256u / Truesize(seg.m));
      const uint32_t clamp = std::max<uint32_t>(
          1152, static_cast<uint32_t>(uint64_t{tp->rcvbuf} * ratio >> 8));  // SOCK_MIN_RCVBUF / 2
      if (clamp < tp->window_clamp) tp->window_clamp = clamp;
      else tp->window_clamp = std::max(tp->window_clamp, std::min(tp->rcv_wnd, clamp));
    }
    tp->rcv_mss = static_cast<uint16_t>(seg.len < tp->advmss ? seg.len : tp->advmss);
    if (seg.flags & TCPHDR_PSH) tp->ack_pending |= ICSK_ACK_PUSHED;
  } else {
    if (tp->ack_pending & ICSK_ACK_PUSHED) tp->ack_pending |= ICSK_ACK_PUSHED2;
    tp->ack_pending |= ICSK_ACK_PUSHED;
  }
  if (!tp->ack_ato_ms) EnterQuickAck(tp, TCP_MAX_QUICKACKS);  // first data: ato = TCP_ATO_MIN
  tp->lrcvtime = now_ms();
}

// SACK blocks for an outgoing segment, derived from the out-of-order
// queue: the block holding the newest segment first, then the others in
// sequence order (Linux keeps selective_acks[] in most-recent order; this
// matches it for the first block, which is what senders rely on).
uint8_t TcpStack::BuildSackBlocks(const Tcb* tp, SackBlock* out) const {
  SackBlock blocks[TCP_NUM_SACKS + 1];
  uint8_t n = 0, k = 0;
  int newest = -1;
  const SackBlock nb = tp->newest_sack;
  SackBlock cur{};
  bool have = false;
  auto flush = [&] {
    const bool is_newest = !SeqBefore(nb.start_seq, cur.start_seq) && !SeqAfter(nb.end_seq, cur.end_seq);
    if (is_newest && newest < 0) {
      out[k++] = cur;
      newest = 1;
    } else if (n < TCP_NUM_SACKS) {
      blocks[n++] = cur;
    }
  };
  for (rte_mbuf* m = tp->ooo_queue.head; m; m = Seg(m)->next) {
    const SegMeta* s = Seg(m);
    if (have && !SeqAfter(s->seq, cur.end_seq)) {
      if (SeqAfter(s->end_seq, cur.end_seq)) cur.end_seq = s->end_seq;
      continue;
    }
    if (have) flush();
    cur = SackBlock{s->seq, s->end_seq};
    have = true;
  }
  if (have) flush();
  for (uint8_t i = 0; i < n && k < TCP_NUM_SACKS; ++i) out[k++] = blocks[i];
  return k;
}

// Linux tcp_data_queue_ofo: sorted insert; fully covered data is dropped.
void TcpStack::DataQueueOfo(Tcb* tp, SegIn& seg, rte_mbuf* m) {
  SegMeta* s = Seg(m);
  if (tp->rmem_alloc + Truesize(m) > tp->rcvbuf) {
    mib_.Inc(Mib::TcpExt_TCPOFODrop);
    return;  // caller frees
  }
  mib_.Inc(Mib::TcpExt_TCPOFOQueue);
  tp->ack_pending |= ICSK_ACK_SCHED;
  rte_mbuf* prev = nullptr;
  rte_mbuf* cur = tp->ooo_queue.head;
  while (cur && SeqBefore(Seg(cur)->seq, s->seq)) {
    prev = cur;
    cur = Seg(cur)->next;
  }
  if (prev && !SeqAfter(s->end_seq, Seg(prev)->end_seq)) {  // covered by prev
    mib_.Inc(Mib::TcpExt_TCPOFOMerge);
    DsackSet(tp, s->seq, s->end_seq);  // Linux tcp_data_queue_ofo: all the bits are present
    return;
  }
  if (cur && Seg(cur)->seq == s->seq && !SeqAfter(s->end_seq, Seg(cur)->end_seq)) {
    mib_.Inc(Mib::TcpExt_TCPOFOMerge);
    DsackSet(tp, s->seq, s->end_seq);  // Linux tcp_data_queue_ofo: all the bits are present
    return;
  }
  // Remove later segments the new one fully covers.
  while (cur && !SeqAfter(Seg(cur)->end_seq, s->end_seq)) {
    rte_mbuf* next = Seg(cur)->next;
    if (prev) Seg(prev)->next = next;
    else tp->ooo_queue.head = next;
    if (tp->ooo_queue.tail == cur) tp->ooo_queue.tail = prev;
    tp->rmem_alloc -= Truesize(cur);
    rte_pktmbuf_free(cur);
    mib_.Inc(Mib::TcpExt_TCPOFOMerge);
    cur = next;
  }
  tp->ooo_queue.InsertAfter(prev, m);
  tp->rmem_alloc += Truesize(m);
  MemReconcile(tp);
  seg.m = nullptr;
  tp->newest_sack = SackBlock{s->seq, s->end_seq};
}

// Linux tcp_prune_ofo_queue: when in-order data finds the receive buffer
// full of out-of-order data, drop out-of-order segments from the highest
// sequence down (never ones below the incoming segment) until it fits.
// Without this the segment that fills the hole is dropped forever and the
// connection stalls. Returns whether anything was pruned.
bool TcpStack::PruneOfoQueue(Tcb* tp, uint32_t in_seq, uint32_t need) {
  mib_.Inc(Mib::TcpExt_PruneCalled);
  bool pruned = false;
  while (rte_mbuf* last = tp->ooo_queue.tail) {
    if (SeqAfter(in_seq, Seg(last)->seq)) break;  // the incoming one would land last
    if (pruned && tp->rmem_alloc + need <= tp->rcvbuf) break;
    rte_mbuf* prev = nullptr;
    for (rte_mbuf* x = tp->ooo_queue.head; x != last; x = Seg(x)->next) prev = x;
    if (prev) Seg(prev)->next = nullptr;
    else tp->ooo_queue.head = nullptr;
    tp->ooo_queue.tail = prev;
    tp->rmem_alloc -= Truesize(last);
    rte_pktmbuf_free(last);
    pruned = true;
  }
  if (pruned) {
    mib_.Inc(Mib::TcpExt_OfoPruned);
    tp->newest_sack = SackBlock{0, 0};  // tcp_sack_reset: the blocks changed
    MemReconcile(tp);
  }
  return pruned;
}

// Linux tcp_ofo_queue: move now-in-order segments to the receive queue.
void TcpStack::OfoQueue(Tcb* tp) {
  while (rte_mbuf* m = tp->ooo_queue.head) {
    SegMeta* s = Seg(m);
    if (SeqAfter(s->seq, tp->rcv_nxt)) break;
    tp->ooo_queue.PopFront();
    if (!SeqAfter(s->end_seq, tp->rcv_nxt)) {  // all old
      tp->rmem_alloc -= Truesize(m);
      rte_pktmbuf_free(m);
      continue;
    }
    const uint32_t trim = tp->rcv_nxt - s->seq;
    if (trim) {
      rte_pktmbuf_adj(m, static_cast<uint16_t>(trim));
      s->seq = tp->rcv_nxt;
    }
    tp->rcv_nxt = s->end_seq;
    const bool fin = (s->tcp_flags & TCPHDR_FIN) != 0;
    if (rte_pktmbuf_pkt_len(m)) {
      tp->receive_queue.PushBack(m);
    } else {
      tp->rmem_alloc -= Truesize(m);
      rte_pktmbuf_free(m);
    }
    if (fin) {
      Fin(tp);
      break;
    }
  }
}

// Linux tcp_data_queue.
void TcpStack::DataQueue(Tcb* tp, SegIn& seg) {
  const bool fin = (seg.flags & TCPHDR_FIN) != 0;
  if (seg.len == 0 && !fin) return;
  rte_mbuf* m = seg.m;
  rte_pktmbuf_adj(m, seg.hdr_len);
  SegMeta* s = Seg(m);
  *s = SegMeta{};
  s->seq = seg.seq;
  s->end_seq = seg.end_seq;
  s->tcp_flags = seg.flags;

  if (s->seq == tp->rcv_nxt || (SeqBefore(s->seq, tp->rcv_nxt) && SeqAfter(s->end_seq, tp->rcv_nxt))) {
    if (SeqBefore(s->seq, tp->rcv_nxt)) {  // partial: seq < rcv_nxt < end_seq
      DsackSet(tp, s->seq, tp->rcv_nxt);  // Linux tcp_data_queue: D-SACK the old part
      const uint32_t trim = tp->rcv_nxt - s->seq;
      rte_pktmbuf_adj(m, static_cast<uint16_t>(trim > rte_pktmbuf_pkt_len(m) ? rte_pktmbuf_pkt_len(m) : trim));
      s->seq = tp->rcv_nxt;
    }
    const uint32_t plen = rte_pktmbuf_pkt_len(m);
    if (plen && TcpReceiveWindow(*tp) == 0) {
      mib_.Inc(Mib::TcpExt_TCPZeroWindowDrop);
      EnterQuickAck(tp, TCP_MAX_QUICKACKS);
      tp->ack_pending |= ICSK_ACK_SCHED | ICSK_ACK_NOW;
      return;
    }
    // tcp_try_rmem_schedule: make room by pruning out-of-order data; an
    // in-order segment is dropped only if the reader has data queued
    // (otherwise it is taken regardless, sk_forced_mem_schedule).
    if (plen && tp->rmem_alloc + Truesize(m) > tp->rcvbuf) {
      if (!tp->ooo_queue.empty()) PruneOfoQueue(tp, s->seq, Truesize(m));
      if (tp->rmem_alloc + Truesize(m) > tp->rcvbuf && !tp->receive_queue.empty()) {
        mib_.Inc(Mib::TcpExt_TCPRcvQDrop);
        tp->ack_pending |= ICSK_ACK_SCHED | ICSK_ACK_NOW;
        return;
      }
    }
    tp->rcv_nxt = s->end_seq;
    if (plen) {
      tp->receive_queue.PushBack(m);
      tp->rmem_alloc += Truesize(m);
      MemReconcile(tp);  // sk_rmem_schedule
      EventDataRecv(tp, seg);  // reads seg.m's truesize (tcp_measure_rcv_mss)
      seg.m = nullptr;
    } else {
      tp->ack_pending |= ICSK_ACK_SCHED;
    }
    if (fin) Fin(tp);
    if (!tp->ooo_queue.empty()) {
      OfoQueue(tp);
      if (tp->ooo_queue.empty()) tp->ack_pending |= ICSK_ACK_NOW;  // RFC 5681 4.2
    }
    if (plen && !tp->flag(SOCK_DEAD)) PostEvent(tp, kEvIn);
    return;
  }
  if (!SeqAfter(s->end_seq, tp->rcv_nxt)) {  // a retransmit of old data
    mib_.Inc(Mib::TcpExt_DelayedACKLost);
    DsackSet(tp, s->seq, s->end_seq);  // Linux tcp_data_queue: D-SACK the duplicate
    EnterQuickAck(tp, TCP_MAX_QUICKACKS);
    tp->ack_pending |= ICSK_ACK_SCHED | ICSK_ACK_NOW;
    return;
  }
  if (!SeqBefore(s->seq, tp->rcv_nxt + TcpReceiveWindow(*tp))) {  // out of window
    EnterQuickAck(tp, TCP_MAX_QUICKACKS);
    tp->ack_pending |= ICSK_ACK_SCHED | ICSK_ACK_NOW;
    return;
  }
  DataQueueOfo(tp, seg, m);
}

// Linux __tcp_ack_snd_check.
void TcpStack::AckSndCheck(Tcb* tp) {
  if (!(tp->ack_pending & ICSK_ACK_SCHED)) return;
  if ((tp->rcv_nxt - tp->rcv_wup > tp->rcv_mss && RawSelectWindow(tp) >= tp->rcv_wnd) ||
      tp->ack_quick > 0 || (tp->ack_pending & ICSK_ACK_NOW) || !tp->ooo_queue.empty()) {
    SendAck(tp);
    return;
  }
  SendDelayedAck(tp);
}

// Linux tcp_send_delayed_ack.
void TcpStack::SendDelayedAck(Tcb* tp) {
  // Linux tcp_send_delayed_ack: ato is still 0 before any data (a bare FIN
  // right after the handshake), so the timer is due at once and fires on the
  // next tick: the FIN is ACKed at once, counted as DelayedACKs.
  const uint32_t ato = tp->ack_ato_ms;
  if ((tp->ack_pending & ICSK_ACK_TIMER) && tp->delack_timer.armed()) return;  // keep the earlier one
  tp->ack_pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER;
  reactor_.timers().ArmAfter(&tp->delack_timer, uint64_t{ato} * 1'000'000);
}

// Linux tcp_check_space / tcp_new_space.
void TcpStack::CheckSpace(Tcb* tp) {
  if (!tp->flag(SOCK_SNDBUF_LOCK)) {  // tcp_sndbuf_expand
    uint32_t cw = tp->cc.snd_cwnd > 4 ? tp->cc.snd_cwnd : 4;
    if (cw > 2048) cw = 2048;
    uint32_t want = 2 * cw * 2304;
    if (want > cfg_.sysctl.tcp_wmem[2]) want = cfg_.sysctl.tcp_wmem[2];
    if (want > tp->sndbuf) tp->sndbuf = want;
  }
  if (tp->flag(SOCK_NOSPACE) && tp->sndbuf > tp->wmem_queued &&
      tp->sndbuf - tp->wmem_queued >= tp->wmem_queued / 2) {
    tp->clear_flag(SOCK_NOSPACE);
    if (!tp->flag(SOCK_DEAD)) PostEvent(tp, kEvOut);
  }
}

}  // namespace dpx::tcp
