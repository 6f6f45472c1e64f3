// One direction of a proxied session: bytes from socket `src` to socket
// `dst`, moved as mbufs (TcpRecvMbuf -> TcpSendMbuf, no copy where the
// segment fits the destination's MSS), with backpressure and the FIN.
//
// Backpressure. Before reading a segment from src, the direction looks at
// dst's send queue (unsent + unacknowledged bytes, Linux's SIOCOUTQ): at or
// above `high_water` it stops reading src, so src's receive queue fills,
// its window closes and the peer is held back. It reads again once dst's
// queue is down to `low_water`: it asks dst for a write-space wake-up
// (the kEvOut that sk_stream_wait_memory would wait for) and checks the
// level on each one. The stack's own send buffer limit works the same way:
// a send it refuses (-EAGAIN) keeps the one segment in hand until kEvOut.
// So per direction the proxy holds at most high_water + one segment in
// dst's send queue plus src's receive buffer (its window).
//
// The FIN. Once src's FIN is read and every byte is in dst's send queue,
// the direction calls shutdown(dst, SHUT_WR). dst is corked while a burst
// is moved (TCP_CORK, released at the end of the call), so when the data
// and the FIN arrive together the FIN rides on the last data segment
// (`FP.`) instead of following it in a segment of its own; it also rides
// on the last segment when dst's data is still held by the peer's window.
#pragma once

#include <cstdint>

#include "tcp/tcb.h"

struct rte_mbuf;

namespace dpx::proxy {

struct SpliceLimits {
  uint32_t high_water = 256 * 1024;  // bytes in dst's send queue that stop reading
  uint32_t low_water = 128 * 1024;   // ... and the level that resumes it
};

struct SpliceDir {
  rte_mbuf* pending = nullptr;  // read from src, refused by dst (-EAGAIN); sent first
  bool eof = false;             // src's FIN has been read
  bool fin_sent = false;        // shutdown(dst, SHUT_WR) done: the direction is finished
  bool throttled = false;       // waiting for dst's queue to reach low water
  uint64_t bytes = 0;           // bytes handed to dst
  uint64_t segments = 0;        // segments handed to dst
  uint64_t copied = 0;          // ... of which the stack had to copy (chained, or over dst's MSS)
  uint64_t throttles = 0;       // times the high water stopped reading

  bool done() const { return fin_sent; }
  uint32_t pending_bytes() const;
  // Frees the segment in hand (session teardown).
  void Drop();
};

enum class SpliceStatus : uint8_t {
  kOk,        // moved what it could; wait for the next event
  kSrcError,  // src failed (recv error: reset, timeout, abort); `err` is -errno
  kDstError,  // dst failed (send or shutdown error); `err` is -errno
};

struct SpliceResult {
  SpliceStatus status = SpliceStatus::kOk;
  int err = 0;         // -errno for the failures
  uint64_t moved = 0;     // bytes handed to dst by this call
  uint32_t segments = 0;  // segments handed to dst by this call
  uint32_t copied = 0;    // ... that could not move as they were (TcpSendMbuf copied them)
};

// Moves what can move now. Call it on any event of either socket.
SpliceResult Splice(tcp::Tcb* src, tcp::Tcb* dst, SpliceDir& d, const SpliceLimits& lim);

// Linux SIOCOUTQ (tcp_ioctl): bytes in the send queue, unsent and unacked.
uint32_t SendQueueBytes(const tcp::Tcb* sk);
// Asks for a kEvOut on `sk` when an ACK frees send space (Linux sets
// SOCK_NOSPACE before sleeping in sk_stream_wait_memory; tcp_check_space
// then wakes the writer). dpx's socket API has no call for it (no
// TCP_NOTSENT_LOWAT either), so this sets the flag the stack checks.
void RequestWriteSpace(tcp::Tcb* sk);

}  // namespace dpx::proxy
