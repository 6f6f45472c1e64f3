#include "proxy/splice.h"

#include <cerrno>
#include <optional>

#include <rte_mbuf.h>

#include "tcp/socket_api.h"

namespace dpx::proxy {

using tcp::Tcb;

uint32_t SpliceDir::pending_bytes() const {
  return pending == nullptr ? 0 : rte_pktmbuf_pkt_len(pending);
}

void SpliceDir::Drop() {
  if (pending != nullptr) rte_pktmbuf_free(pending);
  pending = nullptr;
}

uint32_t SendQueueBytes(const Tcb* sk) {
  if (sk->state() == tcp::TCP_LISTEN || sk->state() == tcp::TCP_SYN_SENT) return 0;
  // The FIN takes a sequence number: not a byte of data.
  uint32_t q = sk->write_seq - sk->snd_una;
  if ((sk->sk_shutdown & tcp::SEND_SHUTDOWN) && q > 0 && sk->state() != tcp::TCP_CLOSE) --q;
  return q;
}

void RequestWriteSpace(Tcb* sk) { sk->set_flag(tcp::SOCK_NOSPACE); }

namespace {

// TCP_CORK on dst while a burst moves; released (pushing the tail, with
// the FIN if one was queued) when the scope ends.
class Cork {
 public:
  explicit Cork(Tcb* sk) {
    if (!tcp::TcpStateIn(sk->state(), tcp::TCPF_ESTABLISHED | tcp::TCPF_CLOSE_WAIT)) return;
    if (sk->flag(tcp::SOCK_CORK)) return;  // someone else corked it: leave it
    const int one = 1;
    if (tcp::TcpSetsockopt(sk, tcp::kIpprotoTcp, tcp::kTcpCork, &one, sizeof(one)) == 0) sk_ = sk;
  }
  ~Cork() {
    if (sk_ == nullptr || sk_->state() == tcp::TCP_CLOSE) return;  // reset under us: nothing to push
    const int zero = 0;
    tcp::TcpSetsockopt(sk_, tcp::kIpprotoTcp, tcp::kTcpCork, &zero, sizeof(zero));
  }
  Cork(const Cork&) = delete;
  Cork& operator=(const Cork&) = delete;

 private:
  Tcb* sk_ = nullptr;
};

}  // namespace

SpliceResult Splice(Tcb* src, Tcb* dst, SpliceDir& d, const SpliceLimits& lim) {
  SpliceResult res;
  if (d.fin_sent) return res;
  if (d.throttled) {
    if (SendQueueBytes(dst) > lim.low_water) {
      RequestWriteSpace(dst);  // wake again on the next ACK that frees space
      return res;
    }
    d.throttled = false;
  }
  {
    // Cork only when a burst may follow (data waits in src): the FIN can
    // then join the last segment of it.
    std::optional<Cork> cork;
    if (!d.eof && !src->receive_queue.empty()) cork.emplace(dst);
    while (true) {
      if (d.pending != nullptr) {
        // TcpSendMbuf queues the mbuf itself when it is one direct segment
        // that fits dst's MSS; otherwise it copies.
        const bool as_is = d.pending->nb_segs == 1 && RTE_MBUF_DIRECT(d.pending) &&
                           rte_mbuf_refcnt_read(d.pending) == 1 &&
                           rte_pktmbuf_pkt_len(d.pending) <= dst->mss_cache;
        const ptrdiff_t r = tcp::TcpSendMbuf(dst, d.pending);
        if (r == -EAGAIN) break;  // the stack set SOCK_NOSPACE: kEvOut follows
        if (r < 0) {
          res.status = SpliceStatus::kDstError;
          res.err = static_cast<int>(r);
          return res;
        }
        d.pending = nullptr;
        d.bytes += static_cast<uint64_t>(r);
        ++d.segments;
        res.moved += static_cast<uint64_t>(r);
        ++res.segments;
        if (!as_is) {
          ++d.copied;
          ++res.copied;
        }
      }
      if (d.eof) break;
      if (SendQueueBytes(dst) >= lim.high_water) {
        d.throttled = true;
        ++d.throttles;
        RequestWriteSpace(dst);
        break;
      }
      int err = 0;
      rte_mbuf* m = tcp::TcpRecvMbuf(src, &err);
      if (m != nullptr) {
        d.pending = m;
        continue;
      }
      if (err == 0) {
        d.eof = true;
        break;
      }
      if (err == -EAGAIN) break;
      res.status = SpliceStatus::kSrcError;
      res.err = err;
      return res;
    }
    if (d.eof && d.pending == nullptr) {
      // Every byte is queued on dst: pass the FIN on. Under the cork it
      // joins the last unsent segment.
      const int r = tcp::TcpShutdown(dst, tcp::kShutWr);
      d.fin_sent = true;
      if (r < 0) {
        // dst is closed: it was reset (or aborted) under us.
        const int e = tcp::TcpSockError(dst);
        res.status = SpliceStatus::kDstError;
        res.err = e ? -e : -ECONNRESET;
        return res;
      }
    }
  }
  return res;
}

}  // namespace dpx::proxy
