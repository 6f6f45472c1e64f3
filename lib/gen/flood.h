// Stateless floods for dpxgen (--flood): crafted TCP segments sent at a
// rate without any socket, what pktgen-dpdk plays on real NICs
// (perf/pktgen/), so dpx's behaviour under a flood can be measured while
// dpxgen's stateful load runs on the same link.
//   syn  SYNs from random source ports (a SYN flood: dpx answers with
//        SYN-ACKs or SYN cookies; our stack, which has no socket for them,
//        resets them like Linux does)
//   ack  pure ACKs with random sequence numbers for flows that do not
//        exist (dpx answers each with a RST, as Linux's tcp_v4_send_reset)
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dpx {
class IpStack;
}

namespace dpx::gen {

enum class FloodKind : uint8_t { kNone, kSyn, kAck };

struct FloodStats {
  uint64_t sent = 0;
  uint64_t dropped = 0;  // no mbuf, or the stack refused the packet
};

class Flood {
 public:
  // `dst_be`: the target address; `ports`: its ports, round robin; `pps`:
  // packets per second (a token bucket refilled each poll).
  Flood(IpStack& ip, FloodKind kind, uint32_t dst_be, std::vector<uint16_t> ports, uint64_t pps);

  void Start(uint64_t now_ns);
  void Stop() { running_ = false; }
  unsigned Poll(uint64_t now_ns);
  const FloodStats& stats() const { return stats_; }

 private:
  bool SendOne();
  uint32_t Random();

  IpStack& ip_;
  FloodKind kind_;
  uint32_t dst_be_;
  std::vector<uint16_t> ports_;
  uint64_t pps_;
  bool running_ = false;
  double tokens_ = 0;
  uint64_t last_ns_ = 0;
  size_t next_port_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  FloodStats stats_;
};

}  // namespace dpx::gen
