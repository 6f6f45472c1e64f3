#include "tcp/options.h"

namespace dpx::tcp {
namespace {

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline uint8_t* Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
  return p + 4;
}
inline uint8_t* Put4(uint8_t* p, uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  p[0] = a, p[1] = b, p[2] = c, p[3] = d;
  return p + 4;
}

// Option bytes before the SACK blocks.
size_t FixedSize(const OutOptions& o) {
  size_t n = 0;
  if (o.mss) n += kTcpOlenMssAligned;
  if (o.timestamps) n += kTcpOlenTstampAligned;  // SACK-perm rides in it
  else if (o.sack_perm) n += kTcpOlenSackPermAligned;
  if (o.wscale) n += kTcpOlenWscaleAligned;
  return n;
}

uint8_t SackBlocksToWrite(const OutOptions& o, size_t fixed) {
  if (o.num_sack_blocks == 0 || o.sack_blocks == nullptr) return 0;
  const uint8_t room = MaxSackBlocks(fixed);
  return o.num_sack_blocks < room ? o.num_sack_blocks : room;
}

}  // namespace

// Linux tcp_parse_options().
bool ParseOptions(const uint8_t* p, size_t len, const OptionParseContext& ctx,
                  ParsedOptions* out) {
  const uint8_t* const end = p + len;
  while (p < end) {
    const uint8_t kind = *p++;
    if (kind == kTcpOptEol) return true;
    if (kind == kTcpOptNop) continue;
    if (p >= end) return false;  // kind without a length byte
    const uint8_t size = *p++;
    if (size < 2) return false;  // "silly options"
    if (static_cast<size_t>(end - p) < static_cast<size_t>(size - 2))
      return false;  // partial option
    const uint8_t* const body = p;
    switch (kind) {
      case kTcpOptMss:
        if (size == kTcpOlenMss && ctx.syn && !ctx.estab) {
          uint16_t mss = Get16(body);
          if (mss) {
            if (ctx.user_mss && ctx.user_mss < mss) mss = ctx.user_mss;
            out->mss_clamp = mss;
          }
        }
        break;
      case kTcpOptWindow:
        if (size == kTcpOlenWindow && ctx.syn && !ctx.estab && ctx.sysctl_window_scaling) {
          uint8_t ws = *body;
          out->wscale_ok = true;
          if (ws > TCP_MAX_WSCALE) {
            ws = TCP_MAX_WSCALE;
            out->wscale_clamped = true;
          }
          out->snd_wscale = ws;
        }
        break;
      case kTcpOptTimestamp:
        if (size == kTcpOlenTimestamp &&
            ((ctx.estab && ctx.tstamp_ok) || (!ctx.estab && ctx.sysctl_timestamps))) {
          out->saw_tstamp = true;
          out->rcv_tsval = Get32(body);
          out->rcv_tsecr = Get32(body + 4);
        }
        break;
      case kTcpOptSackPerm:
        if (size == kTcpOlenSackPerm && ctx.syn && !ctx.estab && ctx.sysctl_sack) {
          out->sack_ok = true;
          out->num_sacks = 0;  // tcp_sack_reset()
        }
        break;
      case kTcpOptSack:
        if (size >= kTcpOlenSackBase + kTcpOlenSackPerBlock &&
            (size - kTcpOlenSackBase) % kTcpOlenSackPerBlock == 0 &&
            (ctx.sack_ok || out->sack_ok)) {
          size_t n = (size - kTcpOlenSackBase) / kTcpOlenSackPerBlock;
          if (n > TCP_NUM_SACKS) n = TCP_NUM_SACKS;
          for (size_t i = 0; i < n; ++i) {
            out->sacks[i].start_seq = Get32(body + 8 * i);
            out->sacks[i].end_seq = Get32(body + 8 * i + 4);
          }
          out->num_sacks = static_cast<uint8_t>(n);
        }
        break;
      default:
        break;  // unknown kinds are skipped by their length
    }
    p = body + (size - 2);
  }
  return true;
}

size_t OptionsSize(const OutOptions& o) {
  const size_t fixed = FixedSize(o);
  const uint8_t n = SackBlocksToWrite(o, fixed);
  return fixed + (n ? kTcpOlenSackBaseAligned + n * kTcpOlenSackPerBlock : 0);
}

// Linux tcp_options_write() (without MD5/AO, MPTCP, TFO and experimental
// options, which dpx does not send).
size_t WriteOptions(const OutOptions& o, uint8_t* out) {
  uint8_t* p = out;
  if (o.mss) p = Put4(p, kTcpOptMss, kTcpOlenMss, static_cast<uint8_t>(o.mss >> 8),
                      static_cast<uint8_t>(o.mss));
  bool sack_perm = o.sack_perm;
  if (o.timestamps) {
    if (sack_perm) {
      p = Put4(p, kTcpOptSackPerm, kTcpOlenSackPerm, kTcpOptTimestamp, kTcpOlenTimestamp);
      sack_perm = false;
    } else {
      p = Put4(p, kTcpOptNop, kTcpOptNop, kTcpOptTimestamp, kTcpOlenTimestamp);
    }
    p = Put32(p, o.tsval);
    p = Put32(p, o.tsecr);
  }
  if (sack_perm) p = Put4(p, kTcpOptNop, kTcpOptNop, kTcpOptSackPerm, kTcpOlenSackPerm);
  if (o.wscale) p = Put4(p, kTcpOptNop, kTcpOptWindow, kTcpOlenWindow, o.ws);
  const uint8_t n = SackBlocksToWrite(o, static_cast<size_t>(p - out));
  if (n) {
    p = Put4(p, kTcpOptNop, kTcpOptNop, kTcpOptSack,
             static_cast<uint8_t>(kTcpOlenSackBase + n * kTcpOlenSackPerBlock));
    for (uint8_t i = 0; i < n; ++i) {
      p = Put32(p, o.sack_blocks[i].start_seq);
      p = Put32(p, o.sack_blocks[i].end_seq);
    }
  }
  return static_cast<size_t>(p - out);
}

}  // namespace dpx::tcp
