// dpxgen's flags and what they turn into: the NIC profile (as dpx's, with
// the same overrides) and the generator's GenConfig, each checked before
// anything starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "absl/status/statusor.h"
#include "gen/flood.h"
#include "gen/load_gen.h"
#include "net/port_profile.h"
#include "profile_flags.h"
#include "strict_flags.h"
#include "tcp/tcp_stack.h"

DECLARE_uint32(duration_s);
DECLARE_uint64(flood_pps);
DECLARE_uint32(hold_timeout_s);
DECLARE_uint32(drain_s);
DECLARE_uint32(link_wait_s);
DECLARE_bool(static_arp);
DECLARE_uint32(progress_ms);

namespace dpx::app {

absl::Status ParseGenFlags(int argc, char** argv, FlagAction* action);
absl::StatusOr<Profile> GenProfileFromFlags();
// --mode, --target, --listen, rates and sizes; --sysctl into `sysctls`.
absl::StatusOr<gen::GenConfig> GenConfigFromFlags();
absl::Status ApplySysctlFlag(tcp::TcpSysctls* sysctls);
absl::StatusOr<gen::FloodKind> FloodFromFlags();
std::string GenHelpText();

}  // namespace dpx::app
