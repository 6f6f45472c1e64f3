// Who owns which handler slot ("kind") on a core's TimerWheel. One table,
// so two layers never register the same slot and silently steal each
// other's timers.
#pragma once

#include <cstdint>

#include "core/timer_wheel.h"

namespace dpx::timer_kind {

// lib/tcp: retransmit/probe, delayed ACK, keepalive/FIN_WAIT2/SYN-ACK,
// TIME_WAIT, ...
inline constexpr uint16_t kTcpFirst = 0;
inline constexpr uint16_t kTcpLast = 15;
// lib/socket and lib/proxy (linger waits, connect/idle timeouts, health checks).
inline constexpr uint16_t kAppFirst = 16;
inline constexpr uint16_t kAppLast = 39;
// lib/control.
inline constexpr uint16_t kControlFirst = 40;
inline constexpr uint16_t kControlLast = 47;
// Test harnesses (the in-memory wire's delivery wake-up).
inline constexpr uint16_t kWireWakeup = 48;
inline constexpr uint16_t kTestLast = 55;
// lib/net ARP: one slot per port, kArpFirst + port index.
inline constexpr uint16_t kArpFirst = 56;
inline constexpr uint16_t kArpLast = 63;
inline constexpr unsigned kMaxPortsPerCore = kArpLast - kArpFirst + 1;

static_assert(kArpLast < TimerWheel::kMaxKinds);

}  // namespace dpx::timer_kind
