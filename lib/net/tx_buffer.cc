#include "net/tx_buffer.h"

#include <algorithm>

#include <rte_mbuf.h>

namespace dpx {

TxBuffer::TxBuffer(Netif& netif, Counters& mib, uint16_t capacity)
    : netif_(netif), mib_(mib), buf_(capacity == 0 ? 1 : capacity) {}

TxBuffer::~TxBuffer() {
  for (unsigned i = 0; i < count_; ++i) rte_pktmbuf_free(buf_[i]);
}

unsigned TxBuffer::Flush() {
  unsigned done = 0;
  // Retry while the ring keeps taking frames; stop at the first refusal.
  while (done < count_) {
    const uint16_t want = static_cast<uint16_t>(std::min<unsigned>(count_ - done, UINT16_MAX));
    const uint16_t sent = netif_.TxBurst(buf_.data() + done, want);
    done += sent;
    if (sent == 0) break;
  }
  if (done > 0) mib_.Inc(Mib::Eth_OutFrames, done);
  // What the ring refused waits, in order, for the next flush.
  if (done > 0 && done < count_) std::copy(buf_.begin() + done, buf_.begin() + count_, buf_.begin());
  count_ -= done;
  return done;
}

void TxBuffer::Drop(rte_mbuf* frame) {
  rte_pktmbuf_free(frame);
  mib_.Inc(Mib::Eth_TxRingFull);
  mib_.Inc(Mib::Drop_TX_RING_FULL);
}

}  // namespace dpx
