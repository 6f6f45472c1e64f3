// ICMP (RFC 792) as Linux answers it: echo replies, errors handed to the
// protocol they concern, destination-unreachable generation under Linux's
// icmp_send() rules and global rate limit (icmp_msgs_per_sec/burst), and
// echo requests for tests and health checks.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "net/ipv4.h"

struct rte_mbuf;

namespace dpx {

class IpStack;

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreach = 3;
inline constexpr uint8_t kIcmpEcho = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpParamProblem = 12;
// Destination-unreachable codes.
inline constexpr uint8_t kIcmpNetUnreach = 0;
inline constexpr uint8_t kIcmpHostUnreach = 1;
inline constexpr uint8_t kIcmpProtUnreach = 2;
inline constexpr uint8_t kIcmpPortUnreach = 3;
inline constexpr uint8_t kIcmpFragNeeded = 4;

struct IcmpConfig {
  uint32_t msgs_per_sec = 1000;         // net.ipv4.icmp_msgs_per_sec
  uint32_t msgs_burst = 50;             // net.ipv4.icmp_msgs_burst
  bool echo_ignore_all = false;         // net.ipv4.icmp_echo_ignore_all
  bool echo_ignore_broadcasts = true;   // net.ipv4.icmp_echo_ignore_broadcasts
};

// An echo reply that arrived (for ping-style callers).
struct IcmpEchoReply {
  uint32_t from;  // network order
  uint16_t id;    // host order
  uint16_t seq;   // host order
  uint8_t ttl;
  const uint8_t* payload;  // valid during the callback
  uint16_t payload_len;
};

class Icmp {
 public:
  Icmp(IpStack& stack, const IcmpConfig& config);

  // The IPPROTO_ICMP handler (IpStack registers it). Owns `m`.
  void Input(rte_mbuf* m, const Ipv4Rx& rx);

  // Sends destination unreachable `code` about a received packet `orig` as
  // an L4 handler holds it (data at the L4 header, IPv4 header right before
  // it). Does not take `orig`. Follows Linux icmp_send(): nothing about
  // ICMP errors, non-first fragments, broadcast/multicast or martian
  // sources; rate limited (Icmp.OutRateLimitGlobal). `mtu` is the next-hop
  // MTU for kIcmpFragNeeded. True if a message was sent or queued.
  bool SendDestUnreach(const rte_mbuf* orig, uint8_t code, uint16_t mtu = 0);

  // Sends an echo request (ping) to `dst`.
  TxStatus SendEcho(uint32_t dst, uint16_t id, uint16_t seq, const void* payload,
                    uint16_t payload_len);
  void SetEchoReplyHandler(std::function<void(const IcmpEchoReply&)> fn) {
    on_echo_reply_ = std::move(fn);
  }
  // Errors about packets of protocol `proto` go to `fn`.
  void SetErrorHandler(uint8_t proto, IcmpErrorHandler fn) { error_handlers_[proto] = std::move(fn); }

 private:
  bool RateAllow();
  void InputEcho(rte_mbuf* m, const Ipv4Rx& rx);
  void InputError(rte_mbuf* m, const Ipv4Rx& rx);

  IpStack& stack_;
  IcmpConfig cfg_;
  // Token bucket in nanoseconds-of-credit, like Linux icmp_global_allow().
  uint64_t tokens_ns_ = 0;
  uint64_t last_refill_ns_ = 0;
  bool bucket_started_ = false;
  std::function<void(const IcmpEchoReply&)> on_echo_reply_;
  std::array<IcmpErrorHandler, 256> error_handlers_;
};

}  // namespace dpx
