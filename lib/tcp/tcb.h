// The TCP control block (Linux struct tcp_sock + inet_connection_sock +
// struct sock, reduced to what dpx uses), per-segment metadata, and the
// mbuf queues a connection owns.
//
// Memory: a Tcb is allocated from the core's ObjectPool<Tcb>; buffers are
// mbufs and are not part of sizeof(Tcb) (target <= 512 B, asserted below).
//
// Segment metadata (seq, end_seq, tcp flags, sacked bits, tx time) and the
// queue link live in an rte_mbuf *dynamic field* registered once at stack
// init (RegisterSegMetaDynfield). Why not the mbuf private area: the private
// area exists only in pools created with priv_size, and dpx queues mbufs
// from several pools (PMD rx pools for received segments, the stack pool,
// the application's pool for zero-copy sends). A dynfield exists in every
// mbuf of the process. The link is in the dynfield rather than in m->next
// because m->next is the multi-segment chain of one packet.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/timer_wheel.h"
#include "tcp/congestion.h"
#include "tcp/options.h"
#include "tcp/rtt_estimator.h"
#include "tcp/tcp_state.h"

struct rte_mbuf;

namespace dpx::tcp {

class TcpStack;
struct Tcb;

// ---- per-segment metadata (Linux struct tcp_skb_cb) ----
inline constexpr uint8_t TCPCB_SACKED_ACKED = 0x01;
inline constexpr uint8_t TCPCB_SACKED_RETRANS = 0x02;
inline constexpr uint8_t TCPCB_LOST = 0x04;
inline constexpr uint8_t TCPCB_EVER_RETRANS = 0x80;

struct SegMeta {
  rte_mbuf* next;     // queue link
  uint32_t seq;       // first sequence number
  uint32_t end_seq;   // seq + len + SYN + FIN
  uint32_t tx_ms;     // last transmit time (stack ms clock), for RTT and retrans_stamp
  uint8_t tcp_flags;  // TCPHDR_* to send with (PSH, FIN) / as received
  uint8_t sacked;     // TCPCB_*
  uint16_t pad;
};
static_assert(sizeof(SegMeta) == 24);

// Registers the dynfield (idempotent); returns false if DPDK refused.
bool RegisterSegMetaDynfield();
extern int g_seg_meta_offset;
SegMeta* Seg(rte_mbuf* m);  // inline in tcb.cc would need rte_mbuf_dyn.h here

// Singly linked FIFO of mbufs through SegMeta::next.
struct MbufQueue {
  rte_mbuf* head = nullptr;
  rte_mbuf* tail = nullptr;
  bool empty() const { return head == nullptr; }
  void PushBack(rte_mbuf* m);
  void PushFront(rte_mbuf* m);
  rte_mbuf* PopFront();
  void InsertAfter(rte_mbuf* pos, rte_mbuf* m);  // pos == nullptr: front
  void Purge();                                  // frees every mbuf
};

// ---- hash-table link, shared with TIME_WAIT mini-sockets ----
enum class SockKind : uint8_t { kFull = 0, kTimeWait = 1 };

// Linux struct sock_common: the part every hashed object starts with, so
// a bucket walk can compare the 4-tuple and dispatch on `kind`. The chain
// link is a 32-bit ConnTable handle, not a pointer (conn_table.h): that,
// and the packed state/kind/hashed byte, keep a TIME_WAIT mini-socket at
// 64 bytes. aux8/aux16 belong to the owner (TwSock uses them).
struct SockCommon {
  uint32_t hash_next = 0;  // ConnTable handle of the next object in the chain
  uint32_t daddr = 0;  // remote, network order
  uint32_t saddr = 0;  // local, network order
  uint16_t dport = 0;  // remote, network order
  uint16_t sport = 0;  // local, network order
  uint8_t state : 4 = TCP_CLOSE;
  SockKind kind : 1 = SockKind::kFull;
  uint8_t hashed : 2 = 0;  // 1: in the established table, 2: in the listener table
  uint8_t aux8 = 0;
  uint16_t aux16 = 0;
};
static_assert(sizeof(SockCommon) == 20);

// ---- readiness events (bit values of EPOLLIN/OUT/ERR/HUP/RDHUP) ----
enum TcpEvent : uint32_t {
  kEvIn = 0x001,
  kEvOut = 0x004,
  kEvErr = 0x008,
  kEvHup = 0x010,
  kEvRdHup = 0x2000,
  // dpx: a lingering close (SO_LINGER on, l_linger > 0) finished: the state
  // left FIN_WAIT1/CLOSING/LAST_ACK or the linger time ran out (close.cc).
  // Delivered once; the callback is detached right after (the socket is an
  // orphan from then on).
  kEvCloseDone = 0x8000,
};
using TcpCallback = void (*)(Tcb* sk, uint32_t events, void* user_ctx);

// sk_shutdown bits.
inline constexpr uint8_t RCV_SHUTDOWN = 1;
inline constexpr uint8_t SEND_SHUTDOWN = 2;
inline constexpr uint8_t SHUTDOWN_MASK = 3;

// sock flags (subset of Linux enum sock_flags) and dpx-internal flags.
enum SockFlag : uint16_t {
  SOCK_DEAD = 1u << 0,       // orphaned: the user closed it
  SOCK_LINGER = 1u << 1,
  SOCK_KEEPOPEN = 1u << 2,
  SOCK_NODELAY = 1u << 3,    // tp->nonagle & TCP_NAGLE_OFF
  SOCK_SNDBUF_LOCK = 1u << 4,
  SOCK_RCVBUF_LOCK = 1u << 5,
  SOCK_NOSPACE = 1u << 6,    // a send ran out of sndbuf: signal kEvOut later
  SOCK_ON_EVQ = 1u << 7,     // on the stack's pending-event list
  SOCK_ON_FREEQ = 1u << 8,   // on the stack's to-free list
  SOCK_IN_ACCEPTQ = 1u << 9, // in the listener's accept queue
  SOCK_BOUND = 1u << 10,     // holds a bind_count slot for sport
  SOCK_COOKIE = 1u << 11,    // created from a SYN cookie
  SOCK_LINGER_WAIT = 1u << 12,  // close() is lingering (sk_stream_wait_close)
  SOCK_BINDPORT_LOCK = 1u << 13,  // sk_userlocks & SOCK_BINDPORT_LOCK: bind() chose the port
  SOCK_CORK = 1u << 14,      // tp->nonagle & TCP_NAGLE_CORK (TCP_CORK)
  SOCK_FIN_NOMEM = 1u << 15, // tcp_send_fin found no mbuf: the retransmit timer tries again
};

// icsk_pending (what the retransmit timer is armed for).
inline constexpr uint8_t ICSK_TIME_RETRANS = 1;
inline constexpr uint8_t ICSK_TIME_PROBE0 = 3;

// icsk_ack.pending bits.
inline constexpr uint8_t ICSK_ACK_SCHED = 1;
inline constexpr uint8_t ICSK_ACK_TIMER = 2;
inline constexpr uint8_t ICSK_ACK_NOW = 8;

// A listener's queues (Linux request_sock_queue + sk_ack_backlog), kept out
// of line: only listeners pay for it.
struct ListenQueue {
  Tcb* syn_q = nullptr;  // SYN_RECV children (request sockets)
  Tcb* accept_q = nullptr;
  Tcb* accept_q_tail = nullptr;
  uint16_t max_ack_backlog = 0;  // sk_max_ack_backlog
  uint16_t ack_backlog = 0;      // sk_ack_backlog (accept queue length)
  uint16_t syn_qlen = 0;         // reqsk queue length
  uint32_t last_synq_overflow = 0;  // s; Linux keeps it in rx_opt.ts_recent_stamp
};

struct Tcb {
  SockCommon c;  // must be first (hash buckets hold SockCommon*)
  TcpStack* stack = nullptr;

  // listen / accept: a SYN_RECV or not-yet-accepted child points to its
  // listener and is linked through q_next on the listener's ListenQueue.
  Tcb* parent = nullptr;
  Tcb* q_next = nullptr;
  ListenQueue* lq = nullptr;  // allocated by listen(), only for listeners

  // timers: retransmit also serves zero-window probe (icsk_pending) and
  // SYN-ACK retransmit; keepalive also serves FIN_WAIT2 (Linux).
  Timer retransmit_timer;
  Timer delack_timer;
  Timer keepalive_timer;

  // queues: write_queue holds unsent segments, rtx_queue sent-unacked ones
  // (Linux >= 4.15 split); receive_queue in-order data, ooo_queue sorted.
  MbufQueue write_queue;
  MbufQueue rtx_queue;
  MbufQueue receive_queue;
  MbufQueue ooo_queue;

  // sequence space
  uint32_t snd_una = 0, snd_nxt = 0, write_seq = 0, snd_wnd = 0, max_window = 0;
  uint32_t snd_wl1 = 0, snd_sml = 0, high_seq = 0, rtx_next = 0;
  uint32_t rcv_nxt = 0, rcv_wnd = 0, rcv_wup = 0, copied_seq = 0;
  uint32_t window_clamp = 0;  // rcv_ssthresh is not kept: it equals the clamp (no growth yet)

  // times in the stack's ms clock (Linux jiffies at HZ=1000)
  uint32_t lsndtime = 0, rcv_tstamp = 0, lrcvtime = 0, retrans_stamp = 0;
  uint32_t last_oow_ack_time = 0;

  // Linux struct tcp_options_received
  struct {
    uint32_t ts_recent = 0;
    uint32_t ts_recent_stamp = 0;  // seconds
    uint16_t mss_clamp = 0;        // peer's MSS
    uint8_t snd_wscale = 0;        // peer's shift
    uint8_t rcv_wscale = 0;        // our shift
    uint8_t tstamp_ok : 1 = 0;
    uint8_t sack_ok : 1 = 0;
    uint8_t wscale_ok : 1 = 0;
    uint8_t num_sacks = 0;
  } rx_opt;
  uint32_t tsoffset = 0;
  SackBlock newest_sack = {};  // the block of the latest out-of-order segment (sent first)

  uint16_t mss_cache = kTcpMssDefault;  // effective send MSS (options excluded)
  uint16_t advmss = 0;                  // MSS we announce
  uint16_t rcv_mss = kTcpMssDefault;    // icsk_ack.rcv_mss
  uint16_t user_mss = 0;

  // loss recovery / timers (icsk_*)
  uint32_t packets_out = 0;   // segments in rtx_queue
  uint32_t retrans_out = 0;
  uint16_t dupacks = 0;       // Reno sacked_out
  uint8_t retransmits = 0;    // icsk_retransmits
  uint8_t probes_out = 0;     // icsk_probes_out
  uint8_t pending = 0;        // icsk_pending
  uint8_t ack_pending = 0;    // icsk_ack.pending
  uint8_t ack_quick = 0;      // icsk_ack.quick
  uint8_t ack_ato_ms = 0;     // icsk_ack.ato (0 until the first data)
  uint8_t syn_retries = 0;    // TCP_SYNCNT, 0 = sysctl
  uint8_t keepalive_probes = 0;  // TCP_KEEPCNT, 0 = sysctl
  uint8_t sk_shutdown = 0;
  uint8_t sk_err = 0;            // positive errno pending for the user
  uint16_t sk_flags = 0;
  uint16_t pending_events = 0;   // kEv* not yet delivered

  // user-set knobs (0 = sysctl default)
  uint16_t keepalive_time = 0;   // s, TCP_KEEPIDLE (<= 32767)
  uint16_t keepalive_intvl = 0;  // s, TCP_KEEPINTVL (<= 32767)
  uint32_t lingertime = 0;       // s, sk_lingertime
  int32_t linger2 = 0;           // ms; < 0: RST at FIN_WAIT2 (TCP_LINGER2)

  // memory (bytes, Linux truesize accounting)
  uint32_t sndbuf = 0, rcvbuf = 0, wmem_queued = 0, rmem_alloc = 0;
  uint32_t mem_pages = 0;  // pages charged to tcp_memory_allocated (tcp_memory.cc)

  RttEstimator rtt;
  CcState cc;

  TcpCallback callback = nullptr;
  void* user_ctx = nullptr;

  TcpState state() const { return static_cast<TcpState>(c.state); }
  bool flag(SockFlag f) const { return (sk_flags & f) != 0; }
  void set_flag(SockFlag f) { sk_flags = static_cast<uint16_t>(sk_flags | f); }
  void clear_flag(SockFlag f) { sk_flags = static_cast<uint16_t>(sk_flags & ~f); }
};

inline constexpr size_t kTcbTargetBytes = 512;
static_assert(sizeof(Tcb) <= kTcbTargetBytes, "full TCB must stay <= 512 bytes without buffers");

// Linux tcp_receive_window().
inline uint32_t TcpReceiveWindow(const Tcb& tp) {
  const int32_t win = static_cast<int32_t>(tp.rcv_wup + tp.rcv_wnd - tp.rcv_nxt);
  return win < 0 ? 0 : static_cast<uint32_t>(win);
}

}  // namespace dpx::tcp
