// TCP options: parse them like Linux tcp_parse_options() and write them in
// Linux tcp_options_write()'s exact on-wire layout and order, so a capture
// of dpx looks like a capture of Linux:
//   SYN:   mss | sackOK,TS val ecr | nop,wscale     (02 04 05 b4 04 02 08 0a
//          <val> <ecr> 01 03 03 07 for a typical Linux SYN)
//   ESTAB: nop,nop,TS val ecr | nop,nop,sack blocks
#pragma once

#include <cstddef>
#include <cstdint>

#include "tcp/constants.h"

namespace dpx::tcp {

// Option kinds and lengths (include/net/tcp.h TCPOPT_* / TCPOLEN_*). These
// carry k-names because glibc's <netinet/tcp.h> defines TCPOPT_* as macros.
inline constexpr uint8_t kTcpOptEol = 0;
inline constexpr uint8_t kTcpOptNop = 1;
inline constexpr uint8_t kTcpOptMss = 2;
inline constexpr uint8_t kTcpOptWindow = 3;
inline constexpr uint8_t kTcpOptSackPerm = 4;
inline constexpr uint8_t kTcpOptSack = 5;
inline constexpr uint8_t kTcpOptTimestamp = 8;

inline constexpr uint8_t kTcpOlenMss = 4;
inline constexpr uint8_t kTcpOlenWindow = 3;
inline constexpr uint8_t kTcpOlenSackPerm = 2;
inline constexpr uint8_t kTcpOlenTimestamp = 10;
inline constexpr uint8_t kTcpOlenSackBase = 2;
inline constexpr uint8_t kTcpOlenSackPerBlock = 8;
// Sizes as Linux lays them out, padded to 32 bits.
inline constexpr uint8_t kTcpOlenMssAligned = 4;
inline constexpr uint8_t kTcpOlenTstampAligned = 12;
inline constexpr uint8_t kTcpOlenWscaleAligned = 4;
inline constexpr uint8_t kTcpOlenSackPermAligned = 4;
inline constexpr uint8_t kTcpOlenSackBaseAligned = 4;

struct SackBlock {
  uint32_t start_seq;
  uint32_t end_seq;
};

// What one segment's options said (the per-segment half of Linux's
// struct tcp_options_received). Fields are only meaningful when the
// matching flag is set; SACK blocks are in host order, unvalidated.
struct ParsedOptions {
  uint32_t rcv_tsval = 0;
  uint32_t rcv_tsecr = 0;
  uint16_t mss_clamp = 0;   // MSS option value (0: none, or it was 0)
  uint8_t snd_wscale = 0;   // peer's shift, clamped to TCP_MAX_WSCALE
  uint8_t num_sacks = 0;
  bool saw_tstamp = false;
  bool wscale_ok = false;   // window scale option seen
  bool sack_ok = false;     // SACK-permitted seen
  bool wscale_clamped = false;  // peer sent a shift > 14 (Linux logs it)
  SackBlock sacks[TCP_NUM_SACKS] = {};
};

// Which options Linux honours depends on the segment and the connection.
struct OptionParseContext {
  bool syn = false;        // the segment has SYN: MSS, wscale, SACK-perm count
  bool estab = false;      // connection established: TS only if tstamp_ok
  bool tstamp_ok = false;  // timestamps negotiated
  bool sack_ok = false;    // SACK negotiated: SACK blocks are taken
  bool sysctl_timestamps = true;      // net.ipv4.tcp_timestamps
  bool sysctl_window_scaling = true;  // net.ipv4.tcp_window_scaling
  bool sysctl_sack = true;            // net.ipv4.tcp_sack
  uint16_t user_mss = 0;              // TCP_MAXSEG; clamps the peer's MSS
};

// Parses `len` option bytes (the bytes after the 20-byte header) into
// `out`, which the caller zeroes or reuses. Like Linux tcp_parse_options():
// NOP is skipped, EOL ends the list, unknown kinds are skipped by their
// length, options with the wrong length for their kind are ignored, and a
// length byte < 2 or one running past the end stops parsing. Returns false
// in that last case (malformed); what was parsed before it is kept, as in
// Linux, which does not drop such a segment.
bool ParseOptions(const uint8_t* opts, size_t len, const OptionParseContext& ctx,
                  ParsedOptions* out);

// Fast path of Linux tcp_fast_parse_options()/tcp_parse_aligned_timestamp():
// when the options are exactly nop,nop,TS (the common established case),
// reads the timestamp and returns true; otherwise returns false and the
// caller runs ParseOptions().
inline bool ParseAlignedTimestamp(const uint8_t* opts, size_t len, ParsedOptions* out) {
  if (len != kTcpOlenTstampAligned || opts[0] != kTcpOptNop || opts[1] != kTcpOptNop ||
      opts[2] != kTcpOptTimestamp || opts[3] != kTcpOlenTimestamp)
    return false;
  out->saw_tstamp = true;
  out->rcv_tsval = (uint32_t{opts[4]} << 24) | (uint32_t{opts[5]} << 16) |
                   (uint32_t{opts[6]} << 8) | opts[7];
  out->rcv_tsecr = (uint32_t{opts[8]} << 24) | (uint32_t{opts[9]} << 16) |
                   (uint32_t{opts[10]} << 8) | opts[11];
  return true;
}

// What to put in an outgoing segment (Linux struct tcp_out_options).
struct OutOptions {
  uint16_t mss = 0;          // 0: no MSS option (only SYN / SYN-ACK carry it)
  bool timestamps = false;   // OPTION_TS
  bool sack_perm = false;    // OPTION_SACK_ADVERTISE
  bool wscale = false;       // OPTION_WSCALE
  uint8_t ws = 0;
  uint8_t num_sack_blocks = 0;
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  const SackBlock* sack_blocks = nullptr;  // host order, D-SACK first
};

// Number of SACK blocks that fit after `used` option bytes (Linux
// tcp_established_options(): 4 without timestamps, 3 with).
constexpr uint8_t MaxSackBlocks(size_t used) {
  if (used + kTcpOlenSackBaseAligned + kTcpOlenSackPerBlock > MAX_TCP_OPTION_SPACE) return 0;
  const size_t n = (MAX_TCP_OPTION_SPACE - used - kTcpOlenSackBaseAligned) / kTcpOlenSackPerBlock;
  return static_cast<uint8_t>(n > TCP_NUM_SACKS ? TCP_NUM_SACKS : n);
}

// Bytes WriteOptions() will write for `o` (a multiple of 4, at most 40).
size_t OptionsSize(const OutOptions& o);

// Writes the options in Linux's layout and order: MSS; TS (with SACK-perm
// folded into its first word when both are on, else nop,nop); SACK-perm
// alone as nop,nop,sackOK; nop,wscale; nop,nop,SACK blocks (as many as fit
// in 40 bytes). `out` needs MAX_TCP_OPTION_SPACE bytes. Returns the length.
size_t WriteOptions(const OutOptions& o, uint8_t* out);

}  // namespace dpx::tcp
