// Per-core TCP: owns the TCB pool, the connection tables, the ephemeral
// port allocator, ISN/TS-offset generators, sysctls and the TCP timer kinds
// on the core's wheel; registers IP protocol 6 with the core's IpStack.
//
// Files: tcp_stack.cc (setup, tables, ports, events, tcp_set_state/
// tcp_done), tcp_input.cc (demux, listen, SYN_SENT, validate, state
// machine), tcp_ack.cc (tcp_ack, loss recovery), tcp_data.cc (receive
// queue, OOO, SACK blocks, delayed ACK, receive window), tcp_output.cc
// (segments, tcp_write_xmit, ACK/RST/SYN), tcp_timer.cc (RTO, probe,
// delack, keepalive), socket_api.cc (the non-blocking socket calls).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/counters.h"
#include "core/log.h"
#include "core/object_pool.h"
#include "core/timer_kinds.h"
#include "net/ipv4.h"
#include "tcp/conn_table.h"
#include "tcp/isn.h"
#include "tcp/options.h"
#include "tcp/syncookie.h"
#include "tcp/tcb.h"
#include "tcp/tcp_shared.h"
#include "tcp/tcp_header.h"

struct rte_mbuf;
struct rte_mempool;

namespace dpx {
class IpStack;
class Reactor;
}  // namespace dpx

namespace dpx::tcp {

// icsk_ack.pending bits set by tcp_measure_rcv_mss, read by tcp_cleanup_rbuf
// (Linux values; SCHED, TIMER and NOW are in tcb.h).
inline constexpr uint8_t ICSK_ACK_PUSHED = 4;
inline constexpr uint8_t ICSK_ACK_PUSHED2 = 16;

// net.ipv4.tcp_* with Linux names and defaults (Linux 6.18 on a 24 GiB
// machine where a default depends on memory).
struct TcpSysctls {
  bool tcp_timestamps = true;
  bool tcp_window_scaling = true;
  bool tcp_sack = true;
  int tcp_syncookies = 1;             // 0 off, 1 when the SYN queue overflows, 2 always
  uint32_t tcp_max_syn_backlog = 4096;
  uint32_t somaxconn = 4096;          // net.core.somaxconn
  uint8_t tcp_retries1 = TCP_RETR1;
  uint8_t tcp_retries2 = TCP_RETR2;
  uint8_t tcp_syn_retries = TCP_SYN_RETRIES;
  uint8_t tcp_synack_retries = TCP_SYNACK_RETRIES;
  uint8_t tcp_orphan_retries = 0;
  uint32_t tcp_max_orphans = 131072;
  uint32_t tcp_max_tw_buckets = 131072;
  uint8_t tcp_tw_reuse = 2;             // 0 off, 1 on, 2 loopback only
  uint32_t tcp_tw_reuse_delay = 1000;   // ms
  bool tcp_rfc1337 = false;
  uint64_t tcp_mem[3] = {287901, 383869, 575802};  // pages: low, pressure, high
  uint32_t tcp_keepalive_time = 7200;   // s
  uint32_t tcp_keepalive_intvl = 75;    // s
  uint8_t tcp_keepalive_probes = 9;
  uint32_t tcp_fin_timeout = 60;        // s
  uint32_t tcp_rmem[3] = {4096, 131072, 33554432};  // 6.18 raised [2] to 32 MiB
  uint32_t tcp_wmem[3] = {4096, 16384, 4194304};
  uint32_t rmem_max = 212992;           // net.core.rmem_max (SO_RCVBUF cap)
  uint32_t wmem_max = 212992;           // net.core.wmem_max
  uint32_t tcp_invalid_ratelimit = 500; // ms
  uint32_t ip_local_port_range[2] = {32768, 60999};
  std::string tcp_congestion_control = "cubic";
};

struct TcpStackConfig {
  size_t ehash_buckets = 65536;
  size_t max_sockets = 0;         // 0 = unlimited
  uint16_t timer_kind_base = timer_kind::kTcpFirst;  // uses base..base+3 (core/timer_kinds.h; +3 TIME_WAIT)
  uint64_t secret_seed = 0;       // 0: random secrets; else deterministic (tests)
  // Cross-core counts and limits; nullptr: the stack keeps a private one
  // (a single-core stack, tests). Every core of an appliance shares one.
  TcpShared* shared = nullptr;
  unsigned core_index = 0;        // this stack's slot in `shared`
  TcpSysctls sysctl;
};

// A parsed incoming segment (Linux tcp_skb_cb on input).
struct SegIn {
  rte_mbuf* m;  // data points at the TCP header
  const TcpHeader* th;
  uint32_t saddr, daddr;  // network order, as on the wire (remote, local)
  uint32_t seq, end_seq, ack_seq;
  uint32_t len;      // payload bytes
  uint16_t hdr_len;  // TCP header length
  uint16_t window;   // raw header field
  uint8_t flags;
  ParsedOptions opt;
  uint32_t tw_isn = 0;  // TCP_SKB_CB(skb)->tcp_tw_isn: a SYN a TIME_WAIT mini-socket let through
};

class TcpStack {
 public:
  TcpStack(Reactor& reactor, IpStack& ip, const TcpStackConfig& cfg = {});
  ~TcpStack();
  TcpStack(const TcpStack&) = delete;
  TcpStack& operator=(const TcpStack&) = delete;

  Reactor& reactor() { return reactor_; }
  IpStack& ip() { return ip_; }
  Counters& mib() { return mib_; }
  TcpSysctls& sysctl() { return cfg_.sysctl; }
  const TcpStackConfig& config() const { return cfg_; }
  ConnTable& table() { return table_; }
  size_t sockets_in_use() const { return pool_.in_use(); }
  // This core's orphans (its slot of tcp_orphan_count).
  uint32_t orphan_count() const {
    return static_cast<uint32_t>(shared_->core[cfg_.core_index].orphans.load(std::memory_order_relaxed));
  }
  TcpShared& shared() { return *shared_; }

  // Clocks: ms (jiffies at HZ=1000), s, and the TCP timestamp clock (ms).
  uint64_t now_ns() const;
  uint32_t now_ms() const { return static_cast<uint32_t>(now_ns() / 1'000'000); }
  uint32_t now_sec() const { return static_cast<uint32_t>(now_ns() / 1'000'000'000); }

  // The IP protocol handler (tcp_v4_rcv). Takes ownership of `m`.
  void Rcv(rte_mbuf* m, const Ipv4Rx& rx);

  // ---------------- internal (used by the tcp_*.cc files) ----------------
  Tcb* AllocTcb();
  void FreeTcb(Tcb* tp);  // unhash, purge queues, cancel timers, free
  void InitTcb(Tcb* tp);  // defaults from sysctls
  void SetState(Tcb* tp, TcpState st);  // tcp_set_state
  void Done(Tcb* tp);                   // tcp_done
  void Reset(Tcb* tp);                  // tcp_reset: error from the peer's RST
  void WriteErr(Tcb* tp);               // tcp_write_err
  void Disconnect(Tcb* tp);             // tcp_disconnect (close.cc)
  void Orphan(Tcb* tp);                 // sock_orphan + orphan count (close.cc)
  void PostEvent(Tcb* tp, uint32_t ev);
  void FlushEvents();                   // delivers events, then frees
  void ScheduleFree(Tcb* tp);
  int GetPort(Tcb* tp, uint16_t want_port);  // bind: 0 or -EADDRINUSE
  void PutPort(Tcb* tp);
  int ConnectPort(Tcb* tp);                   // ephemeral port + hash
  void ListenStop(Tcb* listener);             // inet_csk_listen_stop
  void TimeWait(Tcb* tp, TcpState substate, uint32_t timeo_ms);  // tcp_time_wait (time_wait.cc)

  // close path (close.cc)
  int Close(Tcb* sk, bool exiting);        // inet_release + __tcp_close
  int Shutdown(Tcb* sk, int how);          // inet_shutdown + tcp_shutdown
  bool CloseState(Tcb* sk);                // tcp_close_state
  void CloseFinish(Tcb* sk, bool notify);  // __tcp_close from adjudge_to_death
  void DestroySock(Tcb* sk);               // inet_csk_destroy_sock
  uint32_t FinTimeMs(const Tcb* tp) const; // tcp_fin_time
  bool TooManyOrphans(int shift);          // tcp_too_many_orphans
  bool OutOfMemory(const Tcb* tp) const;   // tcp_out_of_memory
  bool CheckOom(Tcb* tp, int shift);       // tcp_check_oom
  bool OutOfResources(Tcb* tp, bool do_reset);  // tcp_out_of_resources
  uint8_t OrphanRetries(const Tcb* tp, bool alive) const;  // tcp_orphan_retries
  void MaybeRefreshOrphanCache();          // tcp_orphan_update, lazily every 100 ms
  // memory accounting (tcp_memory.cc)
  void MemReconcile(Tcb* tp);              // charge/uncharge pages for wmem_queued + rmem_alloc
  void MemUncharge(Tcb* tp);               // all of tp's pages (socket destroyed)
  bool UnderMemoryPressure() const;        // tcp_under_memory_pressure
  int64_t MemoryAllocated() const;         // sk_memory_allocated (pages, published)
  void MemFlush();                         // publish this core's unflushed pages
  void HashEstablished(Tcb* tp) { table_.Insert(&tp->c); }

  // input (tcp_input.cc)
  bool ParseSegment(rte_mbuf* m, const Ipv4Rx& rx, SegIn* seg);
  void ListenRcv(Tcb* lsk, SegIn& seg);
  void ConnRequest(Tcb* lsk, SegIn& seg);
  Tcb* CloneChild(Tcb* lsk, const SegIn& seg);  // inet_csk_clone_lock
  Tcb* CookieCheck(Tcb* lsk, SegIn& seg);
  int SynSentRcv(Tcb* tp, SegIn& seg);
  int StateProcess(Tcb* tp, SegIn& seg);  // non-zero: send a reset reply
  bool ValidateIncoming(Tcb* tp, SegIn& seg);
  bool PawsDiscard(const Tcb* tp, const SegIn& seg) const;
  bool OowRateLimited(Tcb* tp, const SegIn& seg, Mib mib);
  void SendChallengeAck(Tcb* tp, const SegIn& seg);
  void FinishConnect(Tcb* tp, SegIn& seg);
  void EstablishChild(Tcb* child, SegIn& seg);
  void InitTransfer(Tcb* tp);
  void Fin(Tcb* tp);  // tcp_fin

  // ack (tcp_ack.cc)
  int Ack(Tcb* tp, SegIn& seg, int flag);  // < 0 invalid, 0 old, > 0 ok
  void AckUpdateWindow(Tcb* tp, const SegIn& seg);
  uint32_t CleanRtxQueue(Tcb* tp, SegIn& seg, int32_t* rtt_us);
  void EnterLoss(Tcb* tp);
  uint32_t PacketsInFlight(const Tcb* tp) const;

  // data (tcp_data.cc)
  void DataQueue(Tcb* tp, SegIn& seg);
  void OfoQueue(Tcb* tp);
  void DataQueueOfo(Tcb* tp, SegIn& seg, rte_mbuf* m);
  bool PruneOfoQueue(Tcb* tp, uint32_t in_seq, uint32_t need);  // tcp_prune_ofo_queue
  uint8_t BuildSackBlocks(const Tcb* tp, SackBlock* out) const;
  void DsackSet(Tcb* tp, uint32_t seq, uint32_t end_seq);  // tcp_dsack_set
  void EventDataRecv(Tcb* tp, const SegIn& seg);
  void AckSndCheck(Tcb* tp);
  void SendDelayedAck(Tcb* tp);
  uint32_t SelectWindow(Tcb* tp);   // tcp_select_window
  uint32_t RawSelectWindow(Tcb* tp);  // __tcp_select_window
  uint32_t Space(const Tcb* tp) const;  // tcp_space
  void ReplaceTsRecent(Tcb* tp, const SegIn& seg);
  void EnterQuickAck(Tcb* tp, uint8_t max_quickacks);
  void CheckSpace(Tcb* tp);  // tcp_check_space / tcp_new_space

  // output (tcp_output.cc)
  // tcp_write_xmit; nagle_off = TCP_NAGLE_PUSH, cork = TCP_NAGLE_CORK for
  // this push only (tcp_push with MSG_MORE); SOCK_CORK corks every push.
  void WriteXmit(Tcb* tp, bool nagle_off = false, bool cork = false);
  void PushPending(Tcb* tp) { WriteXmit(tp); }
  bool TransmitSeg(Tcb* tp, rte_mbuf* seg_mbuf, bool retrans);  // copies the payload
  uint32_t CurrentMss(Tcb* tp, const OutOptions& o) const;      // tcp_current_mss
  bool FragmentSeg(Tcb* tp, MbufQueue& q, rte_mbuf* m, uint32_t keep);  // tcp_fragment
  bool RetransmitHead(Tcb* tp, Mib reason);
  void SendAck(Tcb* tp);
  void SendSyn(Tcb* tp);
  void SendSynAck(Tcb* tp);
  void SendActiveReset(Tcb* tp);
  void SendFin(Tcb* tp);
  void SendProbe(Tcb* tp, Mib mib);  // tcp_xmit_probe_skb / tcp_write_wakeup
  void SendResetReply(const SegIn& seg);  // tcp_v4_send_reset
  void SendSynAckCookie(Tcb* lsk, const SegIn& seg, uint32_t isn, uint16_t mss,
                        const ParsedOptions& opt);
  void SyncMss(Tcb* tp);
  bool SendRaw(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport, uint32_t seq,
               uint32_t ack, uint8_t flags, uint16_t win, const OutOptions* opts,
               rte_mbuf* payload_src, uint32_t payload_off, uint32_t payload_len);
  OutOptions EstablishedOptions(Tcb* tp);
  uint32_t TsNow(const Tcb* tp) const { return now_ms() + tp->tsoffset; }

  // timers (tcp_timer.cc)
  void ResetXmitTimer(Tcb* tp, uint8_t what, uint32_t when_us);
  void ClearXmitTimer(Tcb* tp);
  void ResetKeepalive(Tcb* tp, uint64_t when_ms);
  void RetransmitTimer(Tcb* tp);
  void ProbeTimer(Tcb* tp);
  void DelackTimer(Tcb* tp);
  void KeepaliveTimer(Tcb* tp);
  void CheckProbeTimer(Tcb* tp);
  uint32_t KeepaliveTimeS(const Tcb* tp) const {
    return tp->keepalive_time ? tp->keepalive_time : cfg_.sysctl.tcp_keepalive_time;
  }
  uint32_t KeepaliveIntvlS(const Tcb* tp) const {
    return tp->keepalive_intvl ? tp->keepalive_intvl : cfg_.sysctl.tcp_keepalive_intvl;
  }
  uint8_t KeepaliveProbes(const Tcb* tp) const {
    return tp->keepalive_probes ? tp->keepalive_probes : cfg_.sysctl.tcp_keepalive_probes;
  }

  const CongestionOps* default_cc() const { return default_cc_; }
  uint16_t timer_kind(int i) const { return static_cast<uint16_t>(cfg_.timer_kind_base + i); }

 private:
  static void OnRetransmitTimer(Timer* t, void* ctx);
  static void OnDelackTimer(Timer* t, void* ctx);
  static void OnKeepaliveTimer(Timer* t, void* ctx);

  Reactor& reactor_;
  IpStack& ip_;
  Counters& mib_;
  TcpStackConfig cfg_;
  ObjectPool<Tcb> pool_;
  ConnTable table_;
  IsnGenerator isn_;
  SynCookies cookies_;
  const CongestionOps* default_cc_;
  std::vector<uint16_t> bind_count_;  // per local port (host order): bound sockets
  uint32_t next_ephemeral_ = 0;
  TcpShared* shared_ = nullptr;
  std::unique_ptr<TcpShared> own_shared_;  // when cfg.shared == nullptr
  int64_t mem_unflushed_ = 0;              // pages charged here, not yet in shared_ (per-CPU fw alloc)
  uint32_t orphan_cache_ms_ = 0;           // when this core last ran tcp_orphan_update
  bool orphan_cache_init_ = false;
  std::vector<Tcb*> linger_done_;          // lingering closes to finish (close.cc)
  RateLimit oom_log_limit_{5'000'000'000ULL, 10};  // net_ratelimit: 10 per 5 s
  std::vector<Tcb*> evq_;
  std::vector<Tcb*> freeq_;
  bool flushing_ = false;
  SackBlock sack_scratch_[TCP_NUM_SACKS];
  // Linux tp->rx_opt.dsack / duplicate_sack[0] (tcp_dsack_set): the D-SACK
  // block for the next segment `dsack_tp_` sends (always an immediate ACK).
  Tcb* dsack_tp_ = nullptr;
  SackBlock dsack_{};

  friend class TcpStackTestPeer;

 public:
  IsnGenerator& isn() { return isn_; }
  SynCookies& cookies() { return cookies_; }
};

// Linux tcp_sk / container_of for the three timers.
Tcb* TcbOfRetransmitTimer(Timer* t);
Tcb* TcbOfDelackTimer(Timer* t);
Tcb* TcbOfKeepaliveTimer(Timer* t);

}  // namespace dpx::tcp
