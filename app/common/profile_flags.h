// The NIC-profile flags dpx and dpxgen share (--profile, --ip, --gateway,
// --tap-iface, --lcores, --mbufs, --file-prefix), the log level, and the
// profile they make: LoadProfile, the overrides, ValidateProfile.
#pragma once

#include <string>

#include <gflags/gflags.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "net/port_profile.h"

DECLARE_string(profile);
DECLARE_string(ip);
DECLARE_string(gateway);
DECLARE_string(tap_iface);
DECLARE_string(lcores);
DECLARE_uint32(mbufs);
DECLARE_string(file_prefix);
DECLARE_string(log_level);
DECLARE_uint32(thash_entries);

namespace dpx::app {

// The flags above, in --help order.
inline constexpr const char* kProfileFlags[] = {"profile", "ip",    "gateway",     "tap_iface",
                                                "lcores",  "mbufs", "file_prefix"};

absl::StatusOr<Profile> ProfileFromFlags();
// "Built-in profiles ..." for --help, the --profile default marked.
std::string ProfileListHelp();
// --log-level and --thash-entries, which need more than their type.
absl::Status ValidateCommonFlags();

}  // namespace dpx::app
