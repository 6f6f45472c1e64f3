// Registry of congestion control modules by name (Linux
// tcp_ca_find() over tcp_cong_list).
#include "tcp/congestion.h"

namespace dpx::tcp {

const CongestionOps* FindCongestionOps(std::string_view name) {
  if (name == "cubic") return &kTcpCubicOps;
  if (name == "reno" || name == "newreno") return &kTcpRenoOps;
  return nullptr;
}

const CongestionOps& DefaultCongestionOps() { return kTcpCubicOps; }

std::string_view AvailableCongestionControl() { return "reno cubic"; }

}  // namespace dpx::tcp
