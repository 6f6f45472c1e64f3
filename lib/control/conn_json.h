// Connection rows and the `ss -s` summary as JSON (the `conns` command),
// and back, so dpxctl prints them with conn_dump.h's ss-like formatting.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "control/protocol.h"
#include "tcp/conn_dump.h"

namespace dpx::control {

// {"state":"ESTAB","tcp_state":1,"recv_q":0,"send_q":0,"local":"10.0.0.2:7",
//  "peer":"10.0.0.1:40000","timer":"keepalive","timer_ms":7199000,"retrans":0,
//  "pid":101,"fd":3,"comm":"web","core":0,"orphan":false,"timewait_sock":false}
// pid/fd/comm are present only when a process owns the socket.
Json ConnRowToJson(const tcp::ConnRow& r, const std::string& comm);
// The row (and the owner's name in *comm); InvalidArgument if a field is
// missing or malformed.
absl::StatusOr<tcp::ConnRow> ConnRowFromJson(const Json& j, std::string* comm);

Json ConnSummaryToJson(const tcp::ConnSummary& s);
absl::StatusOr<tcp::ConnSummary> ConnSummaryFromJson(const Json& j);

// "10.0.0.1:80" (either part may be '*'); addr network order, port host
// order, '*' is 0. False if malformed.
bool ParseAddrPort(const std::string& text, uint32_t* addr_be, uint16_t* port);

}  // namespace dpx::control
