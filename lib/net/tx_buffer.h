// Per-stack transmit buffer: frames queue here and go out in bursts when
// Flush() runs (the end of each reactor iteration) or when it fills up.
// Frames the Netif's ring refuses stay queued for the next Flush(), like a
// qdisc backlog behind a stopped driver queue (Linux dev_requeue_skb); a
// frame that finds the backlog still full after a flush is dropped and
// counted (Eth.TxRingFull, Drop.TX_RING_FULL, Linux's qdisc drop). Sent
// frames count Eth.OutFrames.
#pragma once

#include <cstdint>
#include <vector>

#include "core/counters.h"
#include "net/netif.h"

struct rte_mbuf;

namespace dpx {

class TxBuffer {
 public:
  TxBuffer(Netif& netif, Counters& mib, uint16_t capacity = 2048);
  ~TxBuffer();  // frees what was never flushed
  TxBuffer(const TxBuffer&) = delete;
  TxBuffer& operator=(const TxBuffer&) = delete;

  // Takes ownership of a complete frame.
  void Push(rte_mbuf* frame) {
    if (count_ == buf_.size()) {
      Flush();
      if (count_ == buf_.size()) {
        Drop(frame);
        return;
      }
    }
    buf_[count_++] = frame;
  }
  // Hands everything queued to the Netif; returns how many it accepted.
  unsigned Flush();
  unsigned pending() const { return count_; }

 private:
  void Drop(rte_mbuf* frame);

  Netif& netif_;
  Counters& mib_;
  std::vector<rte_mbuf*> buf_;
  unsigned count_ = 0;
};

}  // namespace dpx
