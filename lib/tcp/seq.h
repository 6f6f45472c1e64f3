// Sequence-space and timestamp arithmetic (mod 2^32) and window scaling
// (RFC 7323), done the way Linux does it. Everything here is constexpr and
// allocation-free: it sits on the per-segment path.
#pragma once

#include <bit>
#include <cstdint>

#include "tcp/constants.h"

namespace dpx::tcp {

// ---- Sequence numbers ----

// s1 comes before s2. Linux before(): the sign of the 32-bit difference, so
// two numbers exactly 2^31 apart are each "before" the other.
constexpr bool SeqBefore(uint32_t s1, uint32_t s2) {
  return static_cast<int32_t>(s1 - s2) < 0;
}
// s2 comes after s1. Linux after(s2, s1) == before(s1, s2).
constexpr bool SeqAfter(uint32_t s2, uint32_t s1) { return SeqBefore(s1, s2); }
constexpr bool SeqBeforeEq(uint32_t s1, uint32_t s2) { return !SeqAfter(s1, s2); }
constexpr bool SeqAfterEq(uint32_t s2, uint32_t s1) { return !SeqBefore(s2, s1); }
// seq2 <= seq1 <= seq3, walking forward from seq2. Linux between(): exact
// for any span up to 2^32 - 1, unlike a pair of before/after tests.
constexpr bool SeqBetween(uint32_t seq1, uint32_t seq2, uint32_t seq3) {
  return seq3 - seq2 >= seq1 - seq2;
}
// Signed distance from `from` to `to`.
constexpr int32_t SeqDiff(uint32_t to, uint32_t from) {
  return static_cast<int32_t>(to - from);
}
constexpr uint32_t SeqMax(uint32_t a, uint32_t b) { return SeqAfter(a, b) ? a : b; }
constexpr uint32_t SeqMin(uint32_t a, uint32_t b) { return SeqBefore(a, b) ? a : b; }

// ---- 32-bit timestamps (TSval/TSecr, RFC 7323 5.2 PAWS) ----

// Same wrap-around rule as sequence numbers: Linux tcp_paws_check() compares
// (s32)(ts_recent - rcv_tsval).
constexpr int32_t TsDiff(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b); }
constexpr bool TsBefore(uint32_t a, uint32_t b) { return TsDiff(a, b) < 0; }
constexpr bool TsAfter(uint32_t a, uint32_t b) { return TsDiff(a, b) > 0; }

// ---- Window scaling ----

// Window field of a received segment to bytes. The window of a SYN is
// never scaled (RFC 7323 2.2): pass wscale 0 for it.
constexpr uint32_t ScaleWindow(uint16_t field, uint8_t snd_wscale) {
  return static_cast<uint32_t>(field) << snd_wscale;
}
// Bytes to the 16-bit window field; saturates at 65535.
constexpr uint16_t UnscaleWindow(uint32_t bytes, uint8_t rcv_wscale) {
  const uint32_t w = bytes >> rcv_wscale;
  return w > 0xffff ? 0xffff : static_cast<uint16_t>(w);
}
// Rounds a window up to what the scaled field can say, so scaling never
// shrinks an offered window (Linux __tcp_select_window: ALIGN(window,
// 1 << rcv_wscale)).
constexpr uint32_t AlignWindow(uint32_t win, uint8_t rcv_wscale) {
  const uint32_t unit = 1u << rcv_wscale;
  return (win + unit - 1) & ~(unit - 1);
}

struct InitialWindow {
  uint32_t rcv_wnd;       // window offered in the SYN / SYN-ACK (unscaled)
  uint32_t window_clamp;  // largest window this connection will ever offer
  uint8_t rcv_wscale;     // shift we announce (0 when wscale_ok is false)
};

// Linux tcp_select_initial_window().
//  space         receive space for this socket (tcp_full_space()).
//  mss           MSS used to round the window down.
//  window_clamp  0 means none: the largest scaled window (65535 << 14).
//  wscale_ok     the peer's SYN carried window scale (or we are the client).
//  max_rmem      max(tcp_rmem[2], rmem_max): the scale is chosen for the
//                largest buffer the socket may grow to (Linux default
//                tcp_rmem[2] = 6 MiB gives wscale 7).
//  init_rcv_wnd  route initrwnd in MSS units (0 = none).
//  workaround_signed_windows  tcp_workaround_signed_windows: cap at 32767.
constexpr InitialWindow SelectInitialWindow(int64_t space, uint32_t mss,
                                            uint32_t window_clamp,
                                            bool wscale_ok, uint32_t max_rmem,
                                            uint32_t init_rcv_wnd = 0,
                                            bool workaround_signed_windows = false) {
  InitialWindow r{};
  if (window_clamp == 0) window_clamp = 0xffffu << TCP_MAX_WSCALE;
  uint32_t sp = space < 0 ? 0
                : space > 0xffffffffLL ? 0xffffffffu
                                       : static_cast<uint32_t>(space);
  if (sp > window_clamp) sp = window_clamp;
  if (mss != 0 && sp > mss) sp = sp / mss * mss;  // quantize to MSS
  const uint32_t cap = workaround_signed_windows ? MAX_TCP_WINDOW : 0xffffu;
  r.rcv_wnd = sp < cap ? sp : cap;
  if (init_rcv_wnd != 0 && r.rcv_wnd > init_rcv_wnd * mss) r.rcv_wnd = init_rcv_wnd * mss;
  r.rcv_wscale = 0;
  if (wscale_ok) {
    uint32_t s = sp > max_rmem ? sp : max_rmem;
    if (s > window_clamp) s = window_clamp;
    const int log = s == 0 ? 0 : static_cast<int>(std::bit_width(s)) - 1;  // ilog2
    const int ws = log - 15;
    r.rcv_wscale = static_cast<uint8_t>(ws < 0 ? 0 : ws > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : ws);
  }
  const uint32_t max_clamp = 0xffffu << r.rcv_wscale;
  r.window_clamp = window_clamp < max_clamp ? window_clamp : max_clamp;
  return r;
}

}  // namespace dpx::tcp
