#include "tcp/sockstat.h"

#include "absl/strings/str_format.h"
#include "tcp/tcp_stack.h"
#include "tcp/time_wait.h"

namespace dpx::tcp {

SockStat ReadSockStat(const std::vector<TcpStack*>& stacks) {
  SockStat s;
  if (stacks.empty()) return s;
  for (TcpStack* st : stacks) {
    const int64_t tw = static_cast<int64_t>(TwCount(*st));
    s.tw += tw;
    s.inuse += static_cast<int64_t>(st->table().size()) - tw +
               static_cast<int64_t>(st->table().listeners());
    s.alloc += static_cast<int64_t>(st->sockets_in_use());
  }
  // Orphans and memory are kept in the shared per-core slots already.
  TcpShared& shared = stacks.front()->shared();
  s.orphan = shared.SumOrphans();
  s.mem = shared.SumMemPages();
  return s;
}

std::string FormatSockStat(const SockStat& s) {
  return absl::StrFormat("TCP: inuse %d orphan %d tw %d alloc %d mem %d", s.inuse, s.orphan, s.tw,
                         s.alloc, s.mem);
}

}  // namespace dpx::tcp
