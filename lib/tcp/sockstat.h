// The TCP line of /proc/net/sockstat, summed over every core's stack:
//   TCP: inuse 5 orphan 1 tw 2 alloc 6 mem 3
// inuse: full sockets in the hash tables (established, SYN_RECV children,
// listeners); orphan: closed sockets still finishing (tcp_orphan_count);
// tw: TIME_WAIT mini-sockets; alloc: full sockets allocated, orphans
// included (tcp_sockets_allocated); mem: socket memory in 4 KiB pages
// (tcp_memory_allocated; charged to the shared count in per-core batches,
// so it may lag by a batch per core, as Linux's per-CPU reserve does).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dpx::tcp {

class TcpStack;

struct SockStat {
  int64_t inuse = 0;
  int64_t orphan = 0;
  int64_t tw = 0;
  int64_t alloc = 0;
  int64_t mem = 0;
};

// `stacks`: one per core, sharing one TcpShared (or a single stack).
SockStat ReadSockStat(const std::vector<TcpStack*>& stacks);
std::string FormatSockStat(const SockStat& s);

}  // namespace dpx::tcp
