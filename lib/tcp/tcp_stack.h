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
#include <string>
#include <vector>

#include "core/counters.h"
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
  uint16_t timer_kind_base = timer_kind::kTcpFirst;  // uses base..base+2 (core/timer_kinds.h)
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
  uint32_t orphan_count() const { return orphans_; }

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
  void Disconnect(Tcb* tp);             // tcp_disconnect (basic)
  void Orphan(Tcb* tp);                 // sock_orphan + orphan count
  void PostEvent(Tcb* tp, uint32_t ev);
  void FlushEvents();                   // delivers events, then frees
  void ScheduleFree(Tcb* tp);
  int GetPort(Tcb* tp, uint16_t want_port);  // bind: 0 or -EADDRINUSE
  void PutPort(Tcb* tp);
  int ConnectPort(Tcb* tp);                   // ephemeral port + hash
  void ListenStop(Tcb* listener);             // inet_csk_listen_stop (basic)
  void HashEstablished(Tcb* tp) { table_.Insert(&tp->c); }

  // input (tcp_input.cc)
  bool ParseSegment(rte_mbuf* m, const Ipv4Rx& rx, SegIn* seg);
  void ListenRcv(Tcb* lsk, SegIn& seg);
  void ConnRequest(Tcb* lsk, SegIn& seg);
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
  uint8_t BuildSackBlocks(const Tcb* tp, SackBlock* out) const;
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
  void WriteXmit(Tcb* tp, bool nagle_off = false);  // tcp_write_xmit
  void PushPending(Tcb* tp) { WriteXmit(tp); }
  bool TransmitSeg(Tcb* tp, rte_mbuf* seg_mbuf, bool retrans);  // copies the payload
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
  uint32_t orphans_ = 0;
  std::vector<Tcb*> evq_;
  std::vector<Tcb*> freeq_;
  bool flushing_ = false;
  SackBlock sack_scratch_[TCP_NUM_SACKS];

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
