// TIME_WAIT mini-sockets: see time_wait.h.
#include "tcp/time_wait.h"

#include <cstddef>
#include <new>

#include <rte_byteorder.h>

#include "core/reactor.h"
#include "tcp/seq.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp {

namespace {

constexpr uint32_t TCP_TIMEWAIT_LEN_MS = 60'000;
constexpr uint32_t TCP_PAWS_WRAP_S = 2147;  // INT_MAX / USEC_PER_SEC (Linux >= 6.7)
constexpr uint32_t TCP_PAWS_MSL_S = 60;
constexpr uint32_t kTsStampOldS = 4096;  // > TCP_PAWS_WRAP: the exact value no longer matters
constexpr uint32_t kEntryOldMs = 5535;   // 65535 - TCP_TIMEWAIT_LEN

enum TwStatus { TW_SUCCESS, TW_RST, TW_ACK, TW_SYN };

inline TwSock* TwOfTimer(Timer* t) {
  return reinterpret_cast<TwSock*>(reinterpret_cast<char*>(t) - offsetof(TwSock, timer));
}
inline uint16_t TwTimerKind(TcpStack& st) { return st.timer_kind(3); }
inline std::atomic<int64_t>& TwSlot(TcpStack& st) {
  return st.shared().core[st.config().core_index].tw;
}

// ---- compact stamps (time_wait.h) ----
void SetTsStamp(TwSock* tw, uint32_t stamp_s, uint32_t now_s) {
  tw->c.aux8 = static_cast<uint8_t>(tw->c.aux8 & ~(kTwTsStamp | kTwTsStampOld));
  if (stamp_s == 0) return;
  tw->c.aux8 |= kTwTsStamp;
  tw->c.aux16 = static_cast<uint16_t>(stamp_s);
  if (now_s - stamp_s >= kTsStampOldS) tw->c.aux8 |= kTwTsStampOld;
}
bool HasTsStamp(const TwSock* tw) { return (tw->c.aux8 & kTwTsStamp) != 0; }
// Seconds since tw_ts_recent_stamp; UINT32_MAX when older than 4096 s.
uint32_t TsStampAge(const TwSock* tw, uint32_t now_s) {
  if (tw->c.aux8 & kTwTsStampOld) return UINT32_MAX;
  return static_cast<uint16_t>(now_s - tw->c.aux16);
}
uint32_t EntryAge(const TwSock* tw, uint32_t now_ms) {
  if (tw->c.aux8 & kTwEntryOld) return UINT32_MAX;
  return static_cast<uint16_t>(now_ms - tw->entry16);
}
void SetEntry(TwSock* tw, uint32_t now_ms) {
  tw->entry16 = static_cast<uint16_t>(now_ms);
  tw->c.aux8 = static_cast<uint8_t>(tw->c.aux8 & ~kTwEntryOld);
}
// Ages the 16-bit stamps (called on every segment and re-arm).
void AgeStamps(TcpStack& st, TwSock* tw) {
  const uint32_t now_ms = st.now_ms(), now_s = st.now_sec();
  if (HasTsStamp(tw) && TsStampAge(tw, now_s) != UINT32_MAX && TsStampAge(tw, now_s) >= kTsStampOldS)
    tw->c.aux8 |= kTwTsStampOld;
  if (EntryAge(tw, now_ms) != UINT32_MAX && EntryAge(tw, now_ms) >= kEntryOldMs)
    tw->c.aux8 |= kTwEntryOld;
  if ((tw->c.aux8 & kTwOow) &&
      static_cast<uint16_t>(now_ms - tw->oow16) >= st.sysctl().tcp_invalid_ratelimit)
    tw->c.aux8 = static_cast<uint8_t>(tw->c.aux8 & ~kTwOow);
}

// inet_twsk_schedule / inet_twsk_reschedule.
void Schedule(TcpStack& st, TwSock* tw, uint32_t timeo_ms, bool rearm) {
  if (!rearm) {
    st.mib().Inc(timeo_ms <= 4000 ? Mib::TcpExt_TWKilled : Mib::TcpExt_TW);
  }
  st.reactor().timers().ArmAfter(&tw->timer, uint64_t{timeo_ms} * 1'000'000);
}

void OnTwTimer(Timer* t, void* ctx) {
  // inet_twsk_kill: silent.
  TwKill(*static_cast<TcpStack*>(ctx), TwOfTimer(t));
}

// tcp_oow_rate_limited on tw_last_oow_ack_time.
bool OowRateLimited(TcpStack& st, TwSock* tw, const SegIn& seg, Mib mib) {
  if (seg.seq != seg.end_seq && !(seg.flags & TCPHDR_SYN)) return false;
  const uint32_t now = st.now_ms();
  if (tw->c.aux8 & kTwOow) {  // AgeStamps cleared it if it is older than the limit
    st.mib().Inc(mib);
    return true;
  }
  tw->oow16 = static_cast<uint16_t>(now);
  tw->c.aux8 |= kTwOow;
  return false;
}

// tcp_timewait_check_oow_rate_limit.
TwStatus CheckOowRateLimit(TcpStack& st, TwSock* tw, const SegIn& seg, Mib mib) {
  return OowRateLimited(st, tw, seg, mib) ? TW_SUCCESS : TW_ACK;
}

// tcp_in_window (tcp_minisocks.c).
bool InWindow(uint32_t seq, uint32_t end_seq, uint32_t s_win, uint32_t e_win) {
  if (seq == s_win) return true;
  if (SeqAfter(end_seq, s_win) && SeqBefore(seq, e_win)) return true;
  return seq == e_win && seq == end_seq;
}

// tcp_v4_timewait_ack -> tcp_v4_send_ack.
void TimewaitAck(TcpStack& st, TwSock* tw) {
  OutOptions o;
  if (tw->ts_recent != 0) {
    o.timestamps = true;
    o.tsval = st.now_ms() + st.isn().TsOff(tw->c.saddr, tw->c.daddr);
    o.tsecr = tw->ts_recent;
  }
  st.SendRaw(tw->c.saddr, tw->c.daddr, tw->c.sport, tw->c.dport, tw->snd_nxt, tw->rcv_nxt,
             TCPHDR_ACK, static_cast<uint16_t>(tw->rcv_wnd >> tw->wscale()), &o, nullptr, 0, 0);
}

// tcp_timewait_state_process.
TwStatus StateProcess(TcpStack& st, TwSock* tw, SegIn& seg) {
  AgeStamps(st, tw);
  const uint8_t fl = seg.flags;
  const bool rst = fl & TCPHDR_RST, syn = fl & TCPHDR_SYN, ack = fl & TCPHDR_ACK,
             fin = fl & TCPHDR_FIN;
  bool saw_tstamp = false, paws_reject = false;
  if (seg.hdr_len > kTcpHeaderMinLen && HasTsStamp(tw) && seg.opt.saw_tstamp) {
    saw_tstamp = true;
    // tcp_paws_reject(tmp_opt, rst) with tcp_paws_check(.., 0)
    const uint32_t age = TsStampAge(tw, st.now_sec());
    const bool ok = static_cast<int32_t>(tw->ts_recent - seg.opt.rcv_tsval) <= 0 ||
                    age >= TCP_PAWS_WRAP_S || tw->ts_recent == 0;
    paws_reject = !ok && !(rst && age >= TCP_PAWS_MSL_S);
  }

  if (tw->substate() == TCP_FIN_WAIT2) {
    if (paws_reject || !InWindow(seg.seq, seg.end_seq, tw->rcv_nxt, tw->rcv_nxt + tw->rcv_wnd))
      return CheckOowRateLimit(st, tw, seg, Mib::TcpExt_TCPACKSkippedFinWait2);
    if (rst) {
      TwKill(st, tw);
      return TW_SUCCESS;
    }
    if (syn && !SeqBefore(seg.seq, tw->rcv_nxt)) return TW_RST;
    if (!ack || !SeqAfter(seg.end_seq, tw->rcv_nxt) || seg.end_seq == seg.seq) return TW_SUCCESS;
    if (!fin || seg.end_seq != tw->rcv_nxt + 1) return TW_RST;
    // FIN arrived: true TIME_WAIT.
    tw->c.state = TCP_TIME_WAIT;
    tw->rcv_nxt = seg.end_seq;
    if (saw_tstamp) {
      SetEntry(tw, st.now_ms());
      SetTsStamp(tw, st.now_ms() / 1000, st.now_sec());
      tw->ts_recent = seg.opt.rcv_tsval;
    }
    Schedule(st, tw, TCP_TIMEWAIT_LEN_MS, true);
    return TW_ACK;
  }

  // Real TIME_WAIT.
  if (!paws_reject && seg.seq == tw->rcv_nxt && (seg.seq == seg.end_seq || rst)) {
    if (rst) {
      if (!st.sysctl().tcp_rfc1337) {  // TIME_WAIT assassination
        TwKill(st, tw);
        return TW_SUCCESS;
      }
    } else {
      Schedule(st, tw, TCP_TIMEWAIT_LEN_MS, true);
    }
    if (saw_tstamp) {
      tw->ts_recent = seg.opt.rcv_tsval;
      SetTsStamp(tw, st.now_sec(), st.now_sec());
    }
    return TW_SUCCESS;
  }

  if (syn && !rst && !ack && !paws_reject &&
      (SeqAfter(seg.seq, tw->rcv_nxt) ||
       (saw_tstamp && static_cast<int32_t>(tw->ts_recent - seg.opt.rcv_tsval) < 0))) {
    uint32_t isn = tw->snd_nxt + 65535 + 2;
    if (isn == 0) isn++;
    seg.tw_isn = isn;
    return TW_SYN;
  }

  if (paws_reject) st.mib().Inc(Mib::TcpExt_PAWSTimewait);

  if (!rst) {
    if (paws_reject || ack) Schedule(st, tw, TCP_TIMEWAIT_LEN_MS, true);
    return CheckOowRateLimit(st, tw, seg, Mib::TcpExt_TCPACKSkippedTimeWait);
  }
  return TW_SUCCESS;
}

bool IsLoopback(uint32_t addr_be) {
  return (rte_be_to_cpu_32(addr_be) & 0xff000000u) == 0x7f000000u;
}

}  // namespace

void TwInit(TcpStack& st) { st.reactor().timers().SetHandler(TwTimerKind(st), &OnTwTimer, &st); }

void TwDestroyAll(TcpStack& st) {
  std::vector<TwSock*> all;
  st.table().ForEach([&](SockCommon* s) {
    if (s->kind == SockKind::kTimeWait) all.push_back(reinterpret_cast<TwSock*>(s));
  });
  for (TwSock* tw : all) TwKill(st, tw);
}

size_t TwCount(TcpStack& st) { return st.table().tw_slab().in_use(); }

void TwKill(TcpStack& st, TwSock* tw) {
  st.reactor().timers().Cancel(&tw->timer);
  st.table().Remove(&tw->c);
  TwSlot(st).fetch_sub(1, std::memory_order_relaxed);
  tw->~TwSock();
  st.table().tw_slab().Free(tw);
}

// tcp_time_wait.
void TcpStack::TimeWait(Tcb* tp, TcpState substate, uint32_t timeo_ms) {
  TwSock* tw = nullptr;
  // inet_twsk_alloc: refused at tcp_max_tw_buckets (summed over cores).
  if (shared().SumTw() < static_cast<int64_t>(cfg_.sysctl.tcp_max_tw_buckets)) {
    if (void* p = table_.tw_slab().Allocate()) tw = ::new (p) TwSock();
  }
  if (tw != nullptr) {
    TwSlot(*this).fetch_add(1, std::memory_order_relaxed);
    tw->c.daddr = tp->c.daddr;
    tw->c.saddr = tp->c.saddr;
    tw->c.dport = tp->c.dport;
    tw->c.sport = tp->c.sport;
    tw->c.kind = SockKind::kTimeWait;
    tw->c.state = substate;
    tw->c.aux8 = static_cast<uint8_t>(tp->rx_opt.rcv_wscale & kTwWscaleMask);
    tw->rcv_nxt = tp->rcv_nxt;
    tw->snd_nxt = tp->snd_nxt;
    tw->rcv_wnd = TcpReceiveWindow(*tp);
    tw->ts_recent = tp->rx_opt.tstamp_ok ? tp->rx_opt.ts_recent : 0;
    SetTsStamp(tw, tp->rx_opt.tstamp_ok ? tp->rx_opt.ts_recent_stamp : 0, now_sec());
    SetEntry(tw, now_ms());
    tw->timer.kind = TwTimerKind(*this);
    // timeo = max(timeo, 3.5 * RTO); TIME_WAIT is always TCP_TIMEWAIT_LEN.
    const uint32_t rto_ms = tp->rtt.rto_us() / 1000;
    const uint32_t rto35 = (rto_ms << 2) - (rto_ms >> 1);
    if (timeo_ms < rto35) timeo_ms = rto35;
    if (substate == TCP_TIME_WAIT) timeo_ms = TCP_TIMEWAIT_LEN_MS;
    Schedule(*this, tw, timeo_ms, false);
    // inet_twsk_hashdance: the mini-socket takes the full socket's place.
    if (tp->c.hashed == 1) table_.Remove(&tp->c);
    table_.Insert(&tw->c);
  } else {
    mib_.Inc(Mib::TcpExt_TCPTimeWaitOverflow);
  }
  Done(tp);
}

bool TwRcv(TcpStack& st, TwSock* tw, SegIn& seg) {
  switch (StateProcess(st, tw, seg)) {
    case TW_SYN:
      if (st.table().LookupListener(seg.daddr, seg.th->dst_port) != nullptr) {
        TwKill(st, tw);
        return true;
      }
      seg.tw_isn = 0;
      [[fallthrough]];
    case TW_ACK:
      TimewaitAck(st, tw);
      break;
    case TW_RST:
      st.SendResetReply(seg);
      TwKill(st, tw);
      break;
    case TW_SUCCESS:
      break;
  }
  return false;
}

// tcp_twsk_unique.
bool TwUnique(TcpStack& st, Tcb* sk, TwSock* tw, bool bound_port) {
  AgeStamps(st, tw);
  const TcpSysctls& sc = st.sysctl();
  int reuse = sc.tcp_tw_reuse;
  if (tw->substate() == TCP_FIN_WAIT2) reuse = 0;
  if (reuse == 2 && !IsLoopback(tw->c.daddr) && !IsLoopback(tw->c.saddr)) reuse = 0;
  if (!HasTsStamp(tw)) return false;
  if (!bound_port) {
    if (!reuse) return false;
    const uint32_t age = EntryAge(tw, st.now_ms());  // time_after32(now, entry + delay)
    if (!(age != UINT32_MAX ? age > sc.tcp_tw_reuse_delay : sc.tcp_tw_reuse_delay < kEntryOldMs))
      return false;
  }
  uint32_t seq = tw->snd_nxt + 65535 + 2;
  if (seq == 0) seq = 1;
  sk->write_seq = seq;
  sk->rx_opt.ts_recent = tw->ts_recent;
  const uint32_t now_s = st.now_sec();
  const uint32_t age_s = TsStampAge(tw, now_s);
  sk->rx_opt.ts_recent_stamp = age_s == UINT32_MAX ? now_s - kTsStampOldS : now_s - age_s;
  if (sk->rx_opt.ts_recent_stamp == 0) sk->rx_opt.ts_recent_stamp = 1;
  st.mib().Inc(Mib::TcpExt_TWRecycled);
  TwKill(st, tw);
  return true;
}

}  // namespace dpx::tcp
