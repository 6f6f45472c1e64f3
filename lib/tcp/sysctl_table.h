// The TCP tunables by their Linux sysctl names ("net.ipv4.tcp_fin_timeout"),
// read and written as text the way /proc/sys shows them (vectors separated
// by tabs), validated on write: a bad value is an error that names the
// tunable and the accepted range, and the old value stays. This is what
// `dpxctl sysctl` and the conformance scripts' %sysctl use.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp {

struct SysctlDesc {
  std::string name;  // net.ipv4.tcp_fin_timeout
  std::string help;  // one line: meaning, unit, range
};

// Every tunable, in a stable order.
std::vector<SysctlDesc> SysctlList();
// The value as /proc/sys prints it; NotFound for an unknown name.
absl::StatusOr<std::string> SysctlGet(const TcpSysctls& s, absl::string_view name);
// Parses and validates `value`, then stores it; on any error `s` is unchanged.
absl::Status SysctlSet(TcpSysctls* s, absl::string_view name, absl::string_view value);

}  // namespace dpx::tcp
