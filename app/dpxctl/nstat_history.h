// dpxctl stats -d: what the counters were at the last `dpxctl stats`, kept
// the way nstat keeps /run/user/UID/nstat.history -- client side, one file
// per user, rewritten on every call (atomically, mode 0600). The file
// records the dpx instance it was taken from; against another instance (dpx
// restarted, or another appliance) it is ignored and -d shows totals.
//
// Where: --history, else $DPXCTL_HISTORY, else dpxctl.nstat.<uid> next to
// the control socket (one history per appliance), else in
// $XDG_RUNTIME_DIR, else in /tmp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dpx::ctl {

struct NstatHistory {
  std::string instance;  // dpx's instance id ("info" / "stats" answer)
  std::string socket;    // the control socket it came through
  int64_t time_ns = 0;   // CLOCK_REALTIME when taken
  std::map<std::string, int64_t> values;
};

std::string HistoryPath(const std::string& flag, const std::string& socket_path);
// nullopt when there is no file (or it is unreadable garbage: a fresh start).
std::optional<NstatHistory> LoadHistory(const std::string& path);
absl::Status SaveHistory(const std::string& path, const NstatHistory& h);
int64_t RealtimeNs();

}  // namespace dpx::ctl
