// TIME_WAIT mini-sockets (Linux inet_timewait_sock + tcp_timewait_sock):
// tcp_time_wait (TcpStack::TimeWait), tcp_timewait_state_process and the
// tcp_v4_rcv TIME_WAIT dispatch, tcp_v4_timewait_ack, tcp_twsk_unique.
//
// Memory: 64 bytes per mini-socket, timer and hash link included, from the
// core's TwSlab (conn_table.h), hashed in the same ehash buckets as full
// sockets. Linux's tcp_timewait_sock is 168+ bytes (256 in its slab).
//
// Compact fields (exactness):
//  * tw_ts_offset is not stored: it is recomputed from the addresses
//    (IsnGenerator::TsOff), which is how every dpx connection derives it.
//  * tw_ts_recent_stamp (s), tw_entry_stamp (ms) and tw_last_oow_ack_time
//    (ms) are kept as their low 16 bits plus an "old" flag. Every segment
//    that reaches the mini-socket (and every re-arm) first ages them: a
//    stamp older than the point where its exact value stops mattering is
//    flagged old (ts stamp: 4096 s > TCP_PAWS_WRAP; entry: 5535 ms; oow: at
//    tcp_invalid_ratelimit). A TIME_WAIT mini-socket that sees no segment
//    dies within 60 s, so between two such points less than 65.5 s pass and
//    the 16-bit differences are exact. Results are exact for
//    tcp_tw_reuse_delay <= 5535 ms and tcp_invalid_ratelimit <= 5535 ms, and
//    in the FIN_WAIT2 substate while its timeout is <= 60 s (3.5*RTO <= 60 s).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/timer_wheel.h"
#include "tcp/tcb.h"

namespace dpx::tcp {

class TcpStack;
struct SegIn;

// aux8 bits of a mini-socket's SockCommon.
inline constexpr uint8_t kTwWscaleMask = 0x0f;  // tw_rcv_wscale
inline constexpr uint8_t kTwTsStamp = 0x10;     // tw_ts_recent_stamp != 0
inline constexpr uint8_t kTwTsStampOld = 0x20;  // ... and >= 4096 s old
inline constexpr uint8_t kTwOow = 0x40;         // tw_last_oow_ack_time valid (recent)
inline constexpr uint8_t kTwEntryOld = 0x80;    // entered >= 5535 ms ago

struct TwSock {
  SockCommon c;  // c.state = tw_substate (FIN_WAIT2 / TIME_WAIT); c.aux16 = ts_recent_stamp (s, low 16)
  uint32_t snd_nxt = 0;    // tw_snd_nxt
  Timer timer;             // tw_timer
  uint32_t rcv_nxt = 0;    // tw_rcv_nxt
  uint32_t rcv_wnd = 0;    // tw_rcv_wnd
  uint32_t ts_recent = 0;  // tw_ts_recent
  uint16_t entry16 = 0;    // tw_entry_stamp (ms, low 16)
  uint16_t oow16 = 0;      // tw_last_oow_ack_time (ms, low 16)

  uint8_t wscale() const { return c.aux8 & kTwWscaleMask; }
  TcpState substate() const { return static_cast<TcpState>(c.state); }
};
static_assert(sizeof(TwSock) == 64, "TIME_WAIT mini-socket must stay <= 64 bytes");
static_assert(offsetof(TwSock, c) == 0);

// Registers the TIME_WAIT timer kind (TcpStack constructor).
void TwInit(TcpStack& st);
// Frees every mini-socket (TcpStack destructor).
void TwDestroyAll(TcpStack& st);
// tcp_v4_rcv's do_time_wait for a segment that found `tw`. Returns true when
// the segment must go on to the listener as a new SYN (TW_SYN with a
// listener: `tw` is gone and seg.tw_isn is set); false when consumed.
bool TwRcv(TcpStack& st, TwSock* tw, SegIn& seg);
// tcp_twsk_unique for connect() to a 4-tuple held by `tw` (bound_port: the
// port came from bind(), Linux's twp == NULL). On success `sk` inherits
// write_seq and ts_recent, TWRecycled counts, and `tw` is killed.
bool TwUnique(TcpStack& st, Tcb* sk, TwSock* tw, bool bound_port);
void TwKill(TcpStack& st, TwSock* tw);  // inet_twsk_deschedule_put
// This core's mini-sockets (sockstat `tw` sums them over cores).
size_t TwCount(TcpStack& st);

}  // namespace dpx::tcp
