// RSS-aware local ports for the proxy's active opens.
//
// Flows reach a core by the NIC's RSS: a Toeplitz hash of the IPv4/TCP
// 4-tuple, looked up in the redirection table (RETA) to pick an rx queue,
// and each core polls its own queues. A connection the proxy opens to a
// backend must have its replies (backend -> proxy) hashed to the core that
// opened it, or they would land on another core that does not know the
// socket. The only free variable of the 4-tuple is the local port, so the
// core picks one whose reply tuple hashes back to itself: rte_softrss (the
// software Toeplitz that matches the hardware bit for bit) over candidate
// ports, about `queues` candidates per pick.
//
// With the symmetric key the ports use (0x6d5a repeated, lib/net/port.cc)
// both directions of a flow hash the same; the picker hashes the reply
// direction explicitly, so a profile with an asymmetric key works too.
//
// One queue (or no RSS): every port is fine and the picker is not needed
// (active() is false; the stack's own ephemeral allocator picks).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace dpx::proxy {

// How the port spreads flows over rx queues, and which queues are a core's.
struct RssSpec {
  std::vector<uint8_t> key;      // the Toeplitz key as programmed; empty: no RSS
  uint16_t queues = 1;           // rx queues of the port
  uint16_t queues_per_core = 1;  // core c polls queues [c * qpc, (c + 1) * qpc) (EthPort::MakeQueue)
  // The redirection table (rte_eth_dev_rss_reta_query). Empty: the PMD
  // default, reta[i] = i % queues, over a table whose size is a multiple
  // of `queues`, which is hash % queues.
  std::vector<uint16_t> reta;
  bool active() const { return !key.empty() && queues > 1; }
};

// The Toeplitz hash the NIC computes for an IPv4/TCP packet from src to dst
// (addresses network order, ports host order). The key must be >= 16 bytes.
uint32_t ToeplitzHashV4(const std::vector<uint8_t>& key, uint32_t src_be, uint32_t dst_be,
                        uint16_t sport, uint16_t dport);

class RssPortPicker {
 public:
  // `core`: the core whose replies must come back to it. [lo, hi]: the
  // local port range to choose from (net.ipv4.ip_local_port_range).
  RssPortPicker(RssSpec spec, unsigned core, uint16_t lo = 32768, uint16_t hi = 60999);

  bool active() const { return spec_.active(); }
  const RssSpec& spec() const { return spec_; }
  unsigned core() const { return core_; }

  // The rx queue a hash selects, and the core that polls it.
  uint16_t QueueOfHash(uint32_t hash) const;
  unsigned CoreOfHash(uint32_t hash) const { return QueueOfHash(hash) / qpc(); }
  // Whether a packet from remote:rport to local:lport lands on this core
  // (always true without RSS).
  bool ReplyLandsHere(uint32_t local_be, uint16_t lport, uint32_t remote_be, uint16_t rport) const;

  // Picks a local port for a connection local -> remote:rport whose reply
  // lands here, and takes it with `take(port)` (bind: 0 on success,
  // -EADDRINUSE to try the next candidate, any other error stops). Ports
  // are tried from a cursor that moves on, so consecutive picks spread over
  // the range. Returns the port, or -EADDRNOTAVAIL when every candidate of
  // the range is taken, or take()'s error.
  int Pick(uint32_t local_be, uint32_t remote_be, uint16_t rport,
           const std::function<int(uint16_t port)>& take);

  // Candidates hashed by Pick so far (for tests and stats).
  uint64_t hashed() const { return hashed_; }

 private:
  uint16_t qpc() const { return spec_.queues_per_core ? spec_.queues_per_core : 1; }

  RssSpec spec_;
  std::vector<uint32_t> key_be_;  // rte_convert_rss_key form for rte_softrss_be
  unsigned core_;
  uint16_t lo_, hi_;
  uint32_t cursor_ = 0;
  uint64_t hashed_ = 0;
};

}  // namespace dpx::proxy
