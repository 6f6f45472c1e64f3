// SYN cookies, as Linux net/ipv4/syncookies.c makes and checks them. When
// the SYN queue is full the listener answers a SYN without keeping state:
// the SYN-ACK's ISN is the cookie, and the ACK that echoes it (ack - 1)
// rebuilds the connection.
//
//   cookie = H0(4-tuple) + peer ISN + (count << 24)
//            + ((H1(4-tuple, count) + mss index) mod 2^24)
//
// H0 and H1 are SipHash under two secrets, count is minutes of the stack
// clock (tcp_cookie_time()); a cookie is good for MAX_SYNCOOKIE_AGE
// counter values (up to 2 minutes). Only the MSS survives in the cookie,
// as an index into msstab; with timestamps on, window scale, SACK and ECN
// ride in the low 6 bits of our TSval (cookie_init_timestamp()) and come
// back in the peer's TSecr.
//
// Like Linux, the MSS index is added to the hash rather than covered by
// it: an ACK whose ack or seq is off by one or two decodes a neighbouring
// MSS table entry. Everything else about the cookie is authenticated.
//
// Addresses and ports are host order, as in the segment: source = peer.
#pragma once

#include <cstdint>

#include "tcp/options.h"
#include "tcp/siphash.h"

namespace dpx::tcp {

// MSS values a cookie can carry (msstab: sorted; 1460 is the most common).
inline constexpr uint16_t kSyncookieMssTable[] = {536, 1300, 1440, 1460};
inline constexpr uint32_t MAX_SYNCOOKIE_AGE = 2;
inline constexpr uint64_t TCP_SYNCOOKIE_PERIOD_NS = 60ULL * 1'000'000'000;  // 60 * HZ

// Linux tcp_cookie_time(): the minute counter.
inline uint32_t TcpCookieTime(uint64_t now_ns) {
  return static_cast<uint32_t>(now_ns / TCP_SYNCOOKIE_PERIOD_NS);
}

class SynCookies {
 public:
  SynCookies(const SipKey& secret0, const SipKey& secret1) : secret_{secret0, secret1} {}
  static SynCookies FromSeed(uint64_t seed);
  static SynCookies Random();

  // __cookie_v4_init_sequence(): the ISN for our SYN-ACK to a SYN from
  // (saddr, sport) to (daddr, dport) with sequence `syn_seq`. `*mss` is the
  // peer's MSS in, and the table value the cookie encodes out (rounded
  // down; below 536 gives 536, as Linux does).
  uint32_t InitSequence(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                        uint32_t syn_seq, uint16_t* mss, uint64_t now_ns) const;

  // __cookie_v4_check() on the ACK that completes the handshake (its
  // fields: seq = peer ISN + 1, ack = cookie + 1). Returns the MSS the
  // cookie carries, or 0 when it is forged, for another flow, or expired.
  uint16_t Check(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                 uint32_t seg_seq, uint32_t seg_ack, uint64_t now_ns) const;

 private:
  uint32_t Hash(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                uint32_t count, int c) const;

  SipKey secret_[2];
};

// ---- Options in the timestamp (cookie_init_timestamp) ----

// Bits of the low 6 of TSval:  | 5 ECN | 4 SACK | 3..0 wscale (0xf: none) |
inline constexpr uint32_t TS_OPT_WSCALE_MASK = 0xf;
inline constexpr uint32_t TS_OPT_SACK = 1u << 4;
inline constexpr uint32_t TS_OPT_ECN = 1u << 5;
inline constexpr uint32_t TSBITS = 6;

struct CookieTsOptions {
  bool wscale_ok = false;
  uint8_t snd_wscale = 0;  // the peer's shift
  bool sack_ok = false;
  bool ecn_ok = false;
};

// cookie_init_timestamp(): the TSval (before adding the ts offset) for a
// cookie SYN-ACK at clock `ts_now`. It carries the options in its low 6
// bits and is never after ts_now, so later TSvals do not go backwards.
uint32_t CookieInitTimestamp(uint32_t ts_now, const CookieTsOptions& o);

// cookie_timestamp_decode(): fills `opt` (sack_ok, wscale_ok, snd_wscale)
// from the ACK's TSecr, which the caller has already reduced by our ts
// offset. Without a timestamp in the ACK, clears those options (Linux
// tcp_clear_options) and returns true. Returns false when the cookie says
// an option that this host has turned off (the ACK is not a valid cookie).
bool CookieTimestampDecode(ParsedOptions* opt, bool sysctl_timestamps, bool sysctl_sack,
                           bool sysctl_window_scaling);
// cookie_ecn_ok() without the route part: the ECN bit of the echoed TSecr.
inline bool CookieEcnBit(uint32_t tsecr) { return (tsecr & TS_OPT_ECN) != 0; }

}  // namespace dpx::tcp
