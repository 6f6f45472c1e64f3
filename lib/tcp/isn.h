// Initial sequence numbers (RFC 6528) and per-destination timestamp
// offsets, as Linux secure_tcp_seq() and secure_tcp_ts_off() make them:
//   ISN   = SipHash(net_secret; local addr, remote addr, ports) + (ns >> 6)
//   tsoff = SipHash(ts_secret; local addr, remote addr)
// The clock term ticks every 64 ns, so sequence space wraps once in ~274 s
// (more than an MSL); the keyed hash makes each 4-tuple's ISN space
// unpredictable from another's. Linux reads the wall clock
// (ktime_get_real_ns); dpx takes the stack's monotonic nanoseconds.
//
// Addresses and ports are host order, local side first, as Linux passes
// them (tcp_v4_init_seq(): the SYN's daddr, saddr, dest, source). One
// generator is shared read-only by every core, so a flow gets the same
// answer on any core.
#pragma once

#include <cstdint>

#include "tcp/siphash.h"

namespace dpx::tcp {

class IsnGenerator {
 public:
  IsnGenerator(const SipKey& net_secret, const SipKey& ts_secret)
      : net_secret_(net_secret), ts_secret_(ts_secret) {}
  // Both keys derived from one seed (tests, reproducible runs).
  static IsnGenerator FromSeed(uint64_t seed);
  // Keys from getrandom(2).
  static IsnGenerator Random();

  // Linux secure_tcp_seq().
  uint32_t Seq(uint32_t laddr, uint32_t raddr, uint16_t lport, uint16_t rport,
               uint64_t now_ns) const;
  // Linux secure_tcp_ts_off(): added to our TSval for this peer, so peers
  // cannot learn our clock or link connections to one host by it.
  // net.ipv4.tcp_timestamps = 1 uses it; 2 (no offsets) means 0.
  uint32_t TsOff(uint32_t laddr, uint32_t raddr) const;

 private:
  SipKey net_secret_;
  SipKey ts_secret_;
};

}  // namespace dpx::tcp
