// TCP constants with Linux's names and default values (include/net/tcp.h).
// Linux counts time in jiffies; dpx keeps the name and says the unit in a
// suffix (_US microseconds, _MS milliseconds). Option kinds and lengths live
// in tcp/options.h.
#pragma once

#include <cstdint>

namespace dpx::tcp {

// ---- Retransmission timeout (RFC 6298 as Linux bounds it) ----
inline constexpr uint32_t TCP_RTO_MIN_US = 200'000;         // HZ / 5
// dpx: how soon a FIN that found no mbuf is tried again (SOCK_FIN_NOMEM).
inline constexpr uint32_t kFinNomemRetryUs = 10'000;
inline constexpr uint32_t TCP_RTO_MAX_US = 120'000'000;     // 120 * HZ
inline constexpr uint32_t TCP_TIMEOUT_INIT_US = 1'000'000;  // 1 * HZ, RFC 6298 2.1
// After a SYN or SYN-ACK was retransmitted, the established RTO starts here
// when no RTT sample was taken (tcp_init_transfer).
inline constexpr uint32_t TCP_TIMEOUT_FALLBACK_US = 3'000'000;

// ---- Retry limits (sysctl defaults) ----
inline constexpr uint8_t TCP_RETR1 = 3;            // net.ipv4.tcp_retries1
inline constexpr uint8_t TCP_RETR2 = 15;           // net.ipv4.tcp_retries2
inline constexpr uint8_t TCP_SYN_RETRIES = 6;      // net.ipv4.tcp_syn_retries
inline constexpr uint8_t TCP_SYNACK_RETRIES = 5;   // net.ipv4.tcp_synack_retries

// ---- Congestion window, in packets ----
inline constexpr uint32_t TCP_INIT_CWND = 10;                     // RFC 6928
inline constexpr uint32_t TCP_INFINITE_SSTHRESH = 0x7fffffff;

// ---- Window scaling and options ----
inline constexpr uint8_t TCP_MAX_WSCALE = 14;       // RFC 7323 2.3
inline constexpr uint32_t MAX_TCP_WINDOW = 32767;   // for tcp_workaround_signed_windows
inline constexpr uint32_t MAX_TCP_OPTION_SPACE = 40;
inline constexpr uint8_t TCP_NUM_SACKS = 4;
// TCP_MSS_DEFAULT (536, RFC 1122) is a macro in <netinet/tcp.h>, hence k-name.
inline constexpr uint16_t kTcpMssDefault = 536;
inline constexpr uint16_t TCP_MIN_MSS = 88;

}  // namespace dpx::tcp
